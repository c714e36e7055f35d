"""The Streamlit pages driven headlessly with AppTest, against real libraries.

Every test starts from the entry file (``Home.py``) like a browser session does, then moves
to a page with ``switch_page``. The library comes from ``CLIPSTUDIO_LIBRARY``.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from clipstudio import Library

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "Home.py")
LIBRARY_PAGE = "pages/1_Library.py"
CALL_PAGE = "pages/2_Call.py"
SAMPLES = ROOT / "sample_calls"


def manifest_rows() -> dict[str, dict[str, str]]:
    with open(SAMPLES / "manifest.csv", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def start(monkeypatch, library: Path) -> AppTest:
    monkeypatch.setenv("CLIPSTUDIO_LIBRARY", str(library))
    at = AppTest.from_file(HOME, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def open_call(at: AppTest, call_id: int | str, t: str | None = None) -> AppTest:
    at.switch_page(CALL_PAGE)
    at.query_params["call"] = str(call_id)
    if t is not None:
        at.query_params["t"] = t
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


# Home -----------------------------------------------------------------------------------

def test_home_empty_library(monkeypatch, tmp_path):
    at = start(monkeypatch, tmp_path / "empty")
    assert metrics(at) == {"Calls": "0", "Hours of audio": "0.0", "Reps": "0"}
    assert "No calls yet" in texts(at.info)
    assert not [b for b in at.button if b.key.startswith("home_open_")]
    # nothing uploaded yet, so the ingest button is disabled
    assert at.button(key="home_ingest").disabled


def test_home_sample_library(monkeypatch, library_copy):
    at = start(monkeypatch, library_copy)
    m = metrics(at)
    assert m["Calls"] == "6"
    assert float(m["Hours of audio"]) > 0
    assert m["Reps"] == "4"
    assert not at.info  # no "No calls yet" hint
    lib = Library(library_copy)
    recent = lib.calls()[:5]
    shown = texts(at.markdown)
    for call in recent:
        assert call.title in shown
        assert at.button(key=f"home_open_{call.id}").label == "Open"
    # newest first: the most recent sample call is listed, the oldest is not (5 shown)
    oldest = min(lib.calls(), key=lambda c: c.call_date)
    assert oldest.title not in shown


def test_home_open_button_goes_to_the_call(monkeypatch, library_copy):
    at = start(monkeypatch, library_copy)
    newest = Library(library_copy).calls()[0]
    at.button(key=f"home_open_{newest.id}").click().run()
    assert not at.exception
    assert at.title[0].value == newest.title
    assert at.query_params.get("call") == str(newest.id)


def test_home_upload_ingests_skips_and_fails(monkeypatch, tmp_path, speech_dir):
    at = start(monkeypatch, tmp_path / "lib")
    wav = (speech_dir / "speech_a.wav").read_bytes()

    at.file_uploader(key="home_uploads").set_value(("speech_a.wav", wav, "audio/wav"))
    at.run()
    assert not at.button(key="home_ingest").disabled
    at.button(key="home_ingest").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert [s.value for s in at.success] == ["1 ingested, 0 skipped, 0 failed"]
    rows = at.dataframe[0].value
    assert list(rows["file"]) == ["speech_a.wav"]
    assert list(rows["result"]) == ["ingested"]
    assert metrics(at)["Calls"] == "1"  # the rerun after ingest counts the new call
    call_id = int(rows["call"][0])
    assert Library(tmp_path / "lib").call(call_id).source_name == "speech_a.wav"

    # the same recording again: recognised by its content and skipped
    at.file_uploader(key="home_uploads").set_value(("speech_a.wav", wav, "audio/wav"))
    at.run()
    at.button(key="home_ingest").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["0 ingested, 1 skipped, 0 failed"]
    rows = at.dataframe[0].value
    assert list(rows["result"]) == ["skipped"]
    assert int(rows["call"][0]) == call_id
    assert metrics(at)["Calls"] == "1"

    # not audio at all, only named like it: fails with a reason, nothing added
    at.file_uploader(key="home_uploads").set_value(
        ("notes.mp3", b"these are meeting notes, not a recording\n" * 50, "audio/mpeg"))
    at.run()
    at.button(key="home_ingest").click().run()
    assert not at.exception
    assert not at.success
    assert [w.value for w in at.warning] == ["0 ingested, 0 skipped, 1 failed"]
    rows = at.dataframe[0].value
    assert list(rows["file"]) == ["notes.mp3"]
    assert list(rows["result"]) == ["failed"]
    assert str(rows["detail"][0]).strip()  # a reason is given
    assert metrics(at)["Calls"] == "1"


# Library --------------------------------------------------------------------------------

def library_table(at: AppTest):
    return at.dataframe(key="lib_table").value


def test_library_lists_and_filters(monkeypatch, library_copy):
    at = start(monkeypatch, library_copy)
    at.switch_page(LIBRARY_PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Call library"
    table = library_table(at)
    assert len(table) == 6
    assert set(table["title"]) == {r["title"] for r in manifest_rows().values()}
    assert "6 calls" in texts(at.caption)

    at.selectbox(key="lib_rep").select("Dana Lee").run()
    table = library_table(at)
    assert sorted(table["account"]) == ["Acme Logistics", "Pine Valley Insurance"]
    assert set(table["rep"]) == {"Dana Lee"} and all(table["A-player"])
    assert "2 calls" in texts(at.caption)

    at.selectbox(key="lib_rep").select("All reps")
    at.selectbox(key="lib_outcome").select("won").run()
    table = library_table(at)
    assert sorted(table["account"]) == ["Blue River Bank", "Lakeside Foods"]
    assert set(table["outcome"]) == {"won"}

    at.selectbox(key="lib_outcome").select("Any outcome")
    at.date_input(key="lib_from").set_value(date(2025, 5, 1))
    at.date_input(key="lib_to").set_value(date(2025, 7, 8)).run()  # the range is inclusive
    table = library_table(at)
    assert list(table["date"]) == ["2025-07-08", "2025-06-17", "2025-05-20"]  # newest first

    at.date_input(key="lib_to").set_value(None)
    at.date_input(key="lib_from").set_value(date(2025, 9, 1)).run()
    assert list(library_table(at)["account"]) == ["Lakeside Foods"]

    # filters that match nothing: a hint instead of an empty table
    at.selectbox(key="lib_rep").select("Tom Baker")
    at.selectbox(key="lib_outcome").select("won").run()
    assert not at.dataframe
    assert "No calls match" in texts(at.info)


def test_library_row_selection_opens_the_call(monkeypatch, library_copy):
    at = start(monkeypatch, library_copy)
    at.switch_page(LIBRARY_PAGE).run()
    table = library_table(at)
    row = 2
    at.session_state["lib_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params.get("call") == table["open"][row].split("call=")[1]
    assert at.title[0].value == table["title"][row]


# Call -----------------------------------------------------------------------------------

def test_call_page_shows_title_and_transcript(monkeypatch, library_copy):
    lib = Library(library_copy)
    call = lib.call(1)
    utterances = lib.transcript(1).utterances
    assert len(utterances) > 3
    at = open_call(start(monkeypatch, library_copy), 1)
    assert at.title[0].value == manifest_rows()[call.source_name]["title"]
    caption = at.caption[0].value
    assert call.rep in caption and call.outcome in caption
    play = [b for b in at.button if b.key.startswith("call_play_")]
    assert len(play) == len(utterances)
    first = int(utterances[0].start_s)
    assert play[0].label == f"▶ {first // 60}:{first % 60:02d}"
    shown = texts(at.markdown)
    for u in utterances[:5]:
        assert u.text.strip() in shown
    assert len(at.get("audio")) == 1
    assert not any(c.value.startswith("Playing from") for c in at.caption)


def pick_line(lib: Library, call_id: int, around_s: float = 60.0):
    utterances = lib.transcript(call_id).utterances
    return min(utterances[1:], key=lambda u: abs(u.start_s - around_s))


def test_call_play_button_sets_start(monkeypatch, library_copy):
    lib = Library(library_copy)
    line = pick_line(lib, 1)
    assert line.start_s >= 5
    at = open_call(start(monkeypatch, library_copy), 1)
    label = f"▶ {int(line.start_s) // 60}:{int(line.start_s) % 60:02d}"
    button = at.button(key=f"call_play_{line.index}")
    assert button.label == label
    button.click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert f"Playing from {label[2:]}" in texts(at.caption)
    assert at.query_params.get("t") == str(int(line.start_s))
    audio = at.get("audio")[0].proto
    assert audio.start_time == int(line.start_s)
    assert audio.autoplay


def test_call_link_with_moment(monkeypatch, library_copy):
    at = open_call(start(monkeypatch, library_copy), 1, t="75")
    assert "Playing from 1:15" in texts(at.caption)
    assert at.get("audio")[0].proto.start_time == 75


@pytest.mark.parametrize("bad, message", [("999", "no call 999"), ("abc", "numbers")])
def test_call_page_bad_id(monkeypatch, library_copy, bad, message):
    at = open_call(start(monkeypatch, library_copy), bad)
    assert len(at.error) == 1
    assert message in at.error[0].value
    assert not at.get("audio")
    assert not [b for b in at.button if b.key.startswith("call_play_")]
    at.button(key="call_back").click().run()
    assert not at.exception
    assert at.title[0].value == "Call library"


def test_call_page_edit_details(monkeypatch, library_copy):
    lib = Library(library_copy)
    call = next(c for c in lib.calls() if not c.a_player)
    new_outcome = "won" if call.outcome != "won" else "lost"
    at = open_call(start(monkeypatch, library_copy), call.id)
    assert at.text_input(key="meta_title").value == call.title
    assert not at.checkbox(key="meta_a_player").value

    at.text_input(key="meta_title").input("  Renamed: the call we learn from  ")
    at.selectbox(key="meta_outcome").select(new_outcome)
    at.checkbox(key="meta_a_player").check()
    at.date_input(key="meta_date").set_value(date(2024, 12, 31))
    at.button(key="meta_save").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error

    saved = Library(library_copy).call(call.id)
    assert saved.title == "Renamed: the call we learn from"
    assert saved.outcome == new_outcome
    assert saved.a_player
    assert saved.call_date == "2024-12-31"
    assert saved.rep == call.rep and saved.account == call.account
    # the page shows the saved values after the rerun
    assert at.title[0].value == "Renamed: the call we learn from"
    assert "A-player" in at.caption[0].value


def test_call_page_rejects_empty_title(monkeypatch, library_copy):
    at = open_call(start(monkeypatch, library_copy), 1)
    before = Library(library_copy).call(1)
    at.text_input(key="meta_title").input("   ")
    at.button(key="meta_save").click().run()
    assert not at.exception
    assert any("title" in e.value for e in at.error)
    assert Library(library_copy).call(1).title == before.title
