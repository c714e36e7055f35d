"""Call metadata: manifest CSV parsing and what a file name tells us."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clipstudio import InputError, Library
from clipstudio.metadata import date_from_file, load_manifest, meta_for, title_from_name

HEADER = "file,title,rep,account,call_date,outcome,consent,a_player\n"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "manifest.csv"
    p.write_text(text)
    return p


def test_manifest_rows_become_call_metadata(tmp_path):
    m = load_manifest(write(tmp_path, HEADER + "Acme.MP3,Acme intro,Dana Lee,Acme,2026-01-05,"
                                               "won,yes,yes\nb.wav,,,,,,,\n"))
    assert m["acme.mp3"].title == "Acme intro"
    assert (m["acme.mp3"].rep, m["acme.mp3"].outcome, m["acme.mp3"].a_player) == (
        "Dana Lee", "won", True)
    assert m["b.wav"].title == "B" and m["b.wav"].outcome == "unknown"
    assert m["b.wav"].consent is None and m["b.wav"].call_date is None


@pytest.mark.parametrize("body, message", [
    ("a.wav,T,R,A,2026-13-01,won,yes,no\n", "line 2: call_date must be YYYY-MM-DD"),
    ("a.wav,T,R,A,2026-01-01,maybe,yes,no\n", "line 2: outcome must be one of"),
    ("a.wav,T,R,A,2026-01-01,won,perhaps,no\n", "line 2: consent must be yes or no"),
    ("a.wav,T,R,A,,,,\na.wav,T,R,A,,,,\n", "line 3: a.wav is listed twice"),
    (",T,R,A,,,,\n", "line 2: the file column is empty"),
])
def test_bad_manifest_rows_name_the_line(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        load_manifest(write(tmp_path, HEADER + body))


def test_manifest_needs_a_file_column_and_known_columns(tmp_path):
    with pytest.raises(InputError, match="needs a header row with a 'file' column"):
        load_manifest(write(tmp_path, "name,title\na.wav,x\n"))
    with pytest.raises(InputError, match="unknown column"):
        load_manifest(write(tmp_path, "file,stage\na.wav,x\n"))
    with pytest.raises(InputError, match="cannot read manifest"):
        load_manifest(tmp_path / "missing.csv")


def test_bad_manifest_stops_before_anything_is_ingested(tmp_path, speech_dir):
    lib = Library(tmp_path / "lib")
    bad = write(tmp_path, HEADER + "speech_a.wav,T,R,A,yesterday,won,yes,no\n")
    with pytest.raises(InputError):
        lib.ingest([speech_dir], manifest=bad)
    assert lib.calls() == []


def test_title_and_date_from_file_name(tmp_path):
    f = tmp_path / "2026-03-02_acme-discovery_call.mp3"
    f.write_bytes(b"x")
    assert title_from_name(f) == "Acme discovery call"
    assert date_from_file(f) == "2026-03-02"
    g = tmp_path / "pricing call.mp3"
    g.write_bytes(b"x")
    os.utime(g, (1_700_000_000, 1_700_000_000))  # 2023-11-14
    assert date_from_file(g) == "2023-11-14"
    meta = meta_for(g, None)
    assert (meta.title, meta.outcome, meta.rep) == ("Pricing call", "unknown", None)
