"""The Streamlit pages driven headlessly with AppTest, against real libraries.

Every test starts from the entry file (``Home.py``) like a browser session does, then moves
to a page with ``switch_page``. The library comes from ``CLIPSTUDIO_LIBRARY``.
"""

from __future__ import annotations

import csv
import sqlite3
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


# Call: speakers -------------------------------------------------------------------------

ROLE_COLOUR = {"rep": "blue", "customer": "orange", "other": "gray", None: "gray"}


def toasts(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


def speakers_of(library: Path, call_id: int):
    return Library(library).transcript(call_id).speakers


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def call_by_method(library: Path, method: str):
    return next(c for c in Library(library).calls() if c.diarization == method)


@pytest.mark.parametrize("method, words", [("embedded", "voice clustering"),
                                           ("stereo", "stereo channels")])
def test_call_transcript_shows_speakers_coloured_by_role(monkeypatch, library_copy,
                                                         method, words):
    call = call_by_method(library_copy, method)
    transcript = Library(library_copy).transcript(call.id)
    roles = {u.role for u in transcript.utterances}
    assert {"rep", "customer"} <= roles  # the sample calls have both parties
    at = open_call(start(monkeypatch, library_copy), call.id)
    assert f"speakers: {words}" in at.caption[0].value
    lines = [m.value for m in at.markdown]
    for u in transcript.utterances:
        assert f":{ROLE_COLOUR[u.role]}[**{u.speaker}**] {u.text}" in lines
    # the play buttons are still there, one per line, in order
    play = [b.key for b in at.button if b.key.startswith("call_play_")]
    assert play == [f"call_play_{u.index}" for u in transcript.utterances]


@pytest.mark.parametrize("method, words", [("pyannote", "pyannote"), ("none", "not separated"),
                                           ("import", "imported transcript")])
def test_call_caption_says_how_speakers_were_found(monkeypatch, library_copy, method, words):
    with sqlite3.connect(library_copy / "clipstudio.db") as conn:
        conn.execute("UPDATE calls SET diarization = ? WHERE id = 1", [method])
    at = open_call(start(monkeypatch, library_copy), 1)
    assert at.caption[0].value.endswith(f"speakers: {words}")


def test_call_speakers_tab_shows_talk_time_and_share(monkeypatch, library_copy):
    call = call_by_method(library_copy, "stereo")
    speakers = speakers_of(library_copy, call.id)
    at = open_call(start(monkeypatch, library_copy), call.id)
    total = sum(sp.talk_s for sp in speakers)
    bars = [p.proto.text for p in at.get("progress")]
    for sp in speakers:
        assert at.text_input(key=f"spk_name_{sp.id}").value == (sp.name or "")
        assert at.selectbox(key=f"spk_role_{sp.id}").value == sp.role
        share = round(100 * sp.talk_s / total)
        assert f"talks {int(sp.talk_s) // 60}:{int(sp.talk_s) % 60:02d} · {share}% of the call" \
            in bars
        assert f"### :{ROLE_COLOUR[sp.role]}[**{sp.display}**]" in texts(at.markdown)
    # only the rep can be remembered as a rep's voice
    assert [b.key for b in at.button if b.key.startswith("spk_enroll_")] == [
        f"spk_enroll_{sp.id}" for sp in speakers if sp.role == "rep"]


def test_call_rename_speaker_and_set_role(monkeypatch, library_copy):
    call = call_by_method(library_copy, "embedded")
    customer = next(sp for sp in speakers_of(library_copy, call.id) if sp.role == "customer")
    at = open_call(start(monkeypatch, library_copy), call.id)
    at.text_input(key=f"spk_name_{customer.id}").input("  Evan Park ")
    at.selectbox(key=f"spk_role_{customer.id}").select("other")
    at.button(key=f"spk_save_{customer.id}").click().run()
    no_errors(at)
    assert "Saved speaker Evan Park" in toasts(at)

    saved = next(sp for sp in speakers_of(library_copy, call.id) if sp.id == customer.id)
    assert (saved.name, saved.role, saved.display) == ("Evan Park", "other", "Evan Park")
    # the rerun shows the new name, grey now, on the customer's transcript lines
    lines = texts(at.markdown)
    assert ":gray[**Evan Park**]" in lines
    assert ":orange[**Customer**]" not in lines
    assert at.text_input(key=f"spk_name_{customer.id}").value == "Evan Park"
    assert at.selectbox(key=f"spk_role_{customer.id}").value == "other"

    # clearing the name falls back to the role
    at.text_input(key=f"spk_name_{customer.id}").input("")
    at.selectbox(key=f"spk_role_{customer.id}").select("customer")
    at.button(key=f"spk_save_{customer.id}").click().run()
    no_errors(at)
    saved = next(sp for sp in speakers_of(library_copy, call.id) if sp.id == customer.id)
    assert (saved.name, saved.role, saved.display) == (None, "customer", "Customer")
    assert ":orange[**Customer**]" in texts(at.markdown)


def test_call_merge_speakers(monkeypatch, library_copy):
    call = call_by_method(library_copy, "embedded")
    rep, customer = sorted(speakers_of(library_copy, call.id), key=lambda sp: sp.role != "rep")
    n_lines = len(Library(library_copy).transcript(call.id).utterances)
    at = open_call(start(monkeypatch, library_copy), call.id)
    assert at.button(key="spk_merge").disabled  # nothing picked yet
    at.selectbox(key="spk_merge_from").set_value(customer.id)
    at.selectbox(key="spk_merge_into").set_value(customer.id).run()
    assert at.button(key="spk_merge").disabled  # not into themself
    at.selectbox(key="spk_merge_into").set_value(rep.id).run()
    at.button(key="spk_merge").click().run()
    no_errors(at)
    assert f"Merged Customer into {rep.display}" in toasts(at)

    transcript = Library(library_copy).transcript(call.id)
    assert [sp.id for sp in transcript.speakers] == [rep.id]
    assert len(transcript.utterances) == n_lines
    assert {u.speaker for u in transcript.utterances} == {rep.display}
    assert transcript.speakers[0].talk_s == pytest.approx(rep.talk_s + customer.talk_s, abs=0.01)
    # the page redraws: one speaker card, nobody left to merge with
    assert [t.key for t in at.text_input if t.key.startswith("spk_name_")] == [
        f"spk_name_{rep.id}"]
    assert not [b for b in at.button if b.key in ("spk_merge", "spk_move")]
    assert ":orange[**Customer**]" not in texts(at.markdown)


def test_call_move_a_line_to_another_speaker(monkeypatch, library_copy):
    call = call_by_method(library_copy, "stereo")
    lib = Library(library_copy)
    speakers = {sp.display: sp for sp in lib.transcript(call.id).speakers}
    line = next(u for u in lib.transcript(call.id).utterances if u.role == "customer")
    rep = next(sp for sp in speakers.values() if sp.role == "rep")
    at = open_call(start(monkeypatch, library_copy), call.id)
    assert at.button(key="spk_move").disabled
    labels = at.selectbox(key="spk_move_utt").options
    assert len(labels) == len(lib.transcript(call.id).utterances)
    at.selectbox(key="spk_move_utt").set_value(line.id)
    at.selectbox(key="spk_move_to").set_value(rep.id).run()
    at.button(key="spk_move").click().run()
    no_errors(at)
    assert any(t.startswith("Moved the line at") for t in toasts(at))

    moved = next(u for u in Library(library_copy).transcript(call.id).utterances
                 if u.id == line.id)
    assert (moved.speaker, moved.role) == (rep.display, "rep")
    assert f":blue[**{rep.display}**] {line.text}" in [m.value for m in at.markdown]
    # the picks are cleared for the next move
    assert at.selectbox(key="spk_move_utt").value is None

    # moving it to the speaker who already said it changes nothing
    at.selectbox(key="spk_move_utt").set_value(line.id)
    at.selectbox(key="spk_move_to").set_value(rep.id).run()
    at.button(key="spk_move").click().run()
    assert "already" in texts(at.info)


def test_call_enroll_rep_voice(monkeypatch, library_copy):
    call = call_by_method(library_copy, "embedded")
    rep = next(sp for sp in speakers_of(library_copy, call.id) if sp.role == "rep")
    assert rep.name not in Library(library_copy).voiceprints()
    at = open_call(start(monkeypatch, library_copy), call.id)
    button = at.button(key=f"spk_enroll_{rep.id}")
    assert button.label == f"Remember this voice as {rep.name}"
    button.click().run()
    no_errors(at)
    assert f"Remembered {rep.name}'s voice" in toasts(at)
    prints = Library(library_copy).voiceprints()
    assert list(prints) == [rep.name] and prints[rep.name].size > 0
    assert f"{rep.name}'s voice is on file" in texts(at.caption)


def test_call_enroll_without_voice_shows_error(monkeypatch, library_copy):
    call = call_by_method(library_copy, "stereo")
    rep = next(sp for sp in speakers_of(library_copy, call.id) if sp.role == "rep")
    with sqlite3.connect(library_copy / "clipstudio.db") as conn:
        conn.execute("UPDATE speakers SET embedding = NULL WHERE id = ?", [rep.id])
    at = open_call(start(monkeypatch, library_copy), call.id)
    at.button(key=f"spk_enroll_{rep.id}").click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert at.error[0].value.startswith("Could not remember this voice:")
    assert "no voice embedding" in at.error[0].value
    assert not Library(library_copy).voiceprints()


# Search ---------------------------------------------------------------------------------

SEARCH_PAGE = "pages/3_Search.py"


def test_search_page_finds_moments_and_keeps_the_query_in_the_url(monkeypatch, library_copy):
    at = start(monkeypatch, library_copy)
    at.switch_page(SEARCH_PAGE).run()
    assert "Type what a customer or rep said" in at.info[0].value
    at.text_input(key="search_q").input("quarter").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params["q"] == ["quarter"] or at.query_params["q"] == "quarter"
    caption = at.caption[0].value
    assert "moment" in caption and "call" in caption
    hits = [m.value for m in at.markdown if "**quarter**" in m.value.lower()]
    assert hits, [m.value for m in at.markdown]
    at.selectbox(key="search_role").set_value("rep").run()
    role_hits = [m.value for m in at.markdown if "**quarter**" in m.value.lower()]
    assert len(role_hits) < len(hits)


def test_search_hit_opens_the_call_before_the_moment(monkeypatch, library_copy):
    at = start(monkeypatch, library_copy)
    at.switch_page(SEARCH_PAGE)
    at.query_params["q"] = "quarter"
    at.run()
    play = [b for b in at.button if b.key.startswith("search_play_")]
    assert play
    call_id, utterance_id = (int(x) for x in play[0].key.removeprefix("search_play_").split("_"))
    start_s = next(u.start_s for u in Library(library_copy).transcript(call_id).utterances
                   if u.id == utterance_id)
    play[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params["call"] in (str(call_id), [str(call_id)])
    t = at.query_params["t"]
    assert int(t if isinstance(t, str) else t[0]) == int(max(0, start_s - 2))


def test_search_page_reports_a_bad_query(monkeypatch, library_copy):
    at = start(monkeypatch, library_copy)
    at.switch_page(SEARCH_PAGE)
    at.query_params["q"] = '"unbalanced quote'
    at.run()
    assert at.error and "quote" in at.error[0].value.lower()


# Settings -------------------------------------------------------------------------------

SETTINGS_PAGE = "pages/4_Settings.py"


def test_settings_add_a_tracker_and_edit_synonyms(monkeypatch, library_copy):
    from clipstudio import trackers
    from clipstudio.search import synonyms

    at = start(monkeypatch, library_copy)
    at.switch_page(SETTINGS_PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    at.text_input(key="tracker_new_name").input("Spending freeze")
    at.text_input(key="tracker_new_query").input('frozen OR freeze')
    at.selectbox(key="tracker_new_side").set_value("customer")
    at.button(key="tracker_add").click().run()
    assert not at.exception, [e.message for e in at.exception]
    lib = Library(library_copy)
    assert "Spending freeze" in [t.name for t in trackers.trackers(lib)]
    assert any("Spending freeze" in c for c in trackers.counts(lib).values())

    at.text_input(key="tracker_new_name").input("Broken")
    at.text_input(key="tracker_new_query").input('"unclosed')
    at.button(key="tracker_add").click().run()
    assert at.error and "unbalanced quote" in at.error[0].value
    assert "Broken" not in [t.name for t in trackers.trackers(Library(library_copy))]

    at.text_area(key="settings_synonyms").input("budget, spend, funds")
    at.button(key="settings_synonyms_save").click().run()
    assert synonyms(Library(library_copy)) == [["budget", "spend", "funds"]]

    at.selectbox(key="settings_left").set_value("customer")
    at.selectbox(key="settings_right").set_value("rep")
    at.button(key="settings_channels_save").click().run()
    assert Library(library_copy).channel_roles() == ("customer", "rep")


def test_library_filters_by_tracker(monkeypatch, library_copy):
    from clipstudio import trackers

    at = start(monkeypatch, library_copy)
    at.switch_page(LIBRARY_PAGE).run()
    at.multiselect(key="lib_trackers").set_value(["Price objection"]).run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe(key="lib_table").value
    expected = Library(library_copy).calls(trackers=["Price objection"])
    assert len(table) == len(expected) >= 2
    assert all("Price objection" in cell for cell in table["trackers"])
    assert set(trackers.counts(Library(library_copy))) >= {c.id for c in expected}


# Clips ----------------------------------------------------------------------------------

CLIP_EDITOR = "pages/5_Clip_editor.py"
CLIPS_PAGE = "pages/6_Clips.py"
PRICE = "Objection handling: price"


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_search_hit_to_a_tagged_rated_clip_found_again_by_skill(monkeypatch, library_copy):
    from clipstudio import clips as C

    at = start(monkeypatch, library_copy)
    at.switch_page(SEARCH_PAGE)
    at.query_params["q"] = '"too expensive"'
    at.query_params["role"] = "customer"
    ok(at.run())
    lib = Library(library_copy)
    maple = next(c for c in lib.calls() if "Maple" in c.title)
    cut = [b for b in at.button if b.key.startswith(f"search_clip_{maple.id}_")]
    assert cut, [b.key for b in at.button]
    ok(cut[0].click().run())
    assert at.query_params["call"] in (str(maple.id), [str(maple.id)])
    # AppTest reruns the page it was switched to by the test, so follow the switch
    ok(at.switch_page(CLIP_EDITOR).run())
    assert at.title[0].value == "Cut a clip"
    tag = f"{maple.id}_new"
    first, last = at.select_slider[0].value
    chosen = " ".join(w.text for w in C.call_words(lib, maple.id)
                      if first <= w.index <= last)
    assert "too expensive" in chosen  # the hit's line is preselected, whole
    at.text_input(key=f"clip_title_{tag}").input("Discounting at the first push-back")
    at.multiselect(key=f"clip_skills_{tag}").select(PRICE)
    at.radio(key=f"clip_rating_{tag}").set_value("poor")
    at.text_area(key=f"clip_notes_{tag}").input("Compare with Marcus on Blue River")
    ok(at.button(key=f"clip_save_{tag}").click().run())
    clips = C.list_clips(lib, skill=PRICE)
    assert [c.title for c in clips] == ["Discounting at the first push-back"]
    clip = clips[0]
    assert clip.rating == "poor" and Path(clip.path).is_file()
    assert clip.first_word == first and clip.last_word == last
    assert any(m.value.startswith("**Saved:**") for m in at.markdown)
    # ...and finds it again by skill on the Clips page
    at.switch_page(CLIPS_PAGE)
    ok(at.run())
    at.selectbox(key="clips_skill").set_value(PRICE)
    ok(at.run())
    assert at.caption[0].value == "1 clip"
    assert "Discounting at the first push-back" in texts(at.markdown)
    at.selectbox(key="clips_rating").set_value("good")
    ok(at.run())
    assert at.caption[0].value == "0 clips"


def test_clip_editor_start_end_buttons_and_redaction(monkeypatch, library_copy):
    from clipstudio import clips as C

    lib = Library(library_copy)
    call = next(c for c in lib.calls() if "Blue River" in c.title)
    at = start(monkeypatch, library_copy)
    at.switch_page(CLIP_EDITOR)
    at.query_params["call"] = str(call.id)
    at.query_params["t"] = "20"
    ok(at.run())
    tag = f"{call.id}_new"
    starts = [b for b in at.button if b.key.startswith(f"clip_start_{tag}_")]
    ends = [b for b in at.button if b.key.startswith(f"clip_end_{tag}_")]
    assert len(starts) == len(ends) > 3
    ok(starts[2].click().run())
    first, _ = at.select_slider[0].value
    ok(at.button(key=f"clip_end_{tag}_3").click().run())
    first2, last = at.select_slider[0].value
    assert first2 == first and last > first
    redact_box = at.multiselect(key=f"clip_redact_{tag}")
    victim = redact_box.options[1]
    redact_box.set_value([redact_box.options[1]])
    ok(at.run())
    assert "[redacted]" in texts(at.markdown)
    ok(at.button(key=f"clip_save_{tag}").click().run())
    clip = C.list_clips(lib)[0]
    assert (clip.first_word, clip.last_word) == (first, last)
    assert len(clip.redactions) == 1 and victim.split(" · ", 1)[1] not in clip.title


def test_clip_editor_missing_media_offers_relink(monkeypatch, library_copy):
    from clipstudio import clips as C

    lib = Library(library_copy)
    call = next(c for c in lib.calls() if "Acme" in c.title)
    media = Path(call.media_path)
    moved = library_copy / "copy-of-original.mp3"
    media.rename(moved)
    at = start(monkeypatch, library_copy)
    at.switch_page(CLIP_EDITOR)
    at.query_params["call"] = str(call.id)
    ok(at.run())
    ok(at.button(key=f"clip_save_{call.id}_new").click().run())
    assert str(media) in at.error[0].value and C.list_clips(lib) == []
    at.text_input(key="clip_relink_path").input(str(moved))
    ok(at.button(key="clip_relink_go").click().run())
    assert media.is_file() and not at.error
    ok(at.button(key=f"clip_save_{call.id}_new").click().run())
    assert len(C.list_clips(lib)) == 1


def test_clips_page_edit_duplicate_delete(monkeypatch, library_copy):
    from clipstudio import clips as C

    lib = Library(library_copy)
    call = next(c for c in lib.calls() if "Acme" in c.title)
    clip = C.make_clip(lib, call.id, start_s=10, end_s=20)
    at = start(monkeypatch, library_copy)
    ok(at.switch_page(CLIPS_PAGE).run())
    at.text_input(key=f"clips_title_{clip.id}").input("Opening the call")
    at.multiselect(key=f"clips_skills_{clip.id}").set_value(["Rapport"])
    at.radio(key=f"clips_rating_{clip.id}").set_value("good")
    ok(at.button(key=f"clips_save_{clip.id}").click().run())
    saved = C.get_clip(lib, clip.id)
    assert (saved.title, saved.skills, saved.rating) == ("Opening the call", ("Rapport",),
                                                         "good")
    ok(at.button(key=f"clips_copy_{clip.id}").click().run())
    assert len(C.list_clips(lib)) == 2
    ok(at.button(key=f"clips_delete_{clip.id}").click().run())
    assert [c.title for c in C.list_clips(lib)] == ["Opening the call (copy)"]
    assert not Path(clip.path).exists()
    copy = C.list_clips(lib)[0]
    ok(at.button(key=f"clips_recut_{copy.id}").click().run())
    assert at.query_params["clip"] in (str(copy.id), [str(copy.id)])
    ok(at.switch_page(CLIP_EDITOR).run())
    assert at.title[0].value == "Re-cut a clip"
    assert at.select_slider[0].value == (copy.first_word, copy.last_word)


def test_settings_taxonomy_and_clip_padding(monkeypatch, library_copy):
    from clipstudio import clips as C

    at = start(monkeypatch, library_copy)
    ok(at.switch_page(SETTINGS_PAGE).run())
    at.text_input(key="tag_new_name_message").input("Ramp in half the time")
    at.text_input(key="tag_new_description_message").input("New reps learn from real calls")
    ok(at.button(key="tag_add_message").click().run())
    lib = Library(library_copy)
    assert "Ramp in half the time" in [t.name for t in C.tags(lib, "message")]
    at.number_input(key="settings_pad_before").set_value(0.5)
    ok(at.button(key="settings_clip_save").click().run())
    assert C.setting_pads(lib)[0] == 0.5
    at.number_input(key="settings_clip_max").set_value(5.0)
    ok(at.button(key="settings_clip_save").click().run())
    assert C.max_clip_s(lib) == 5.0
