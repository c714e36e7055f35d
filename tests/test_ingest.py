"""Ingest: the sample calls end to end, formats, dedupe, bad input, crash safety."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import jiwer
import pytest

from clipstudio import Library
from clipstudio.media import run_ffmpeg
from conftest import SAMPLES, cut

TRUTH = SAMPLES / "truth"


def normalise(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(text.split())


def test_sample_calls_ingested_with_manifest_metadata(sample_library):
    root, report = sample_library
    lib = Library(root)
    manifest = (SAMPLES / "manifest.csv").read_text().splitlines()[1:]
    assert len(report.ingested) == len(manifest) >= 6
    by_name = {c.source_name: c for c in lib.calls()}
    for line in manifest:
        file, title, rep, account, call_date, outcome, consent, a_player = line.split(",")
        call = by_name[file]
        assert (call.title, call.rep, call.account) == (title, rep, account)
        assert (call.call_date, call.outcome) == (call_date, outcome)
        assert call.consent is (consent == "yes")
        assert call.a_player is (a_player == "yes")
        truth = json.loads((TRUTH / f"{Path(file).stem}.json").read_text())
        assert call.duration_s == pytest.approx(truth["duration_s"], abs=0.2)
        assert Path(call.media_path).read_bytes() == (SAMPLES / file).read_bytes()
        assert Path(call.playback_path).stat().st_size > 10_000


def test_words_have_ordered_timestamps_inside_the_call(sample_library):
    root, _ = sample_library
    lib = Library(root)
    for call in lib.calls():
        t = lib.transcript(call.id)
        assert sum(len(u.words) for u in t.utterances) > 200
        starts = [u.start_s for u in t.utterances]
        assert starts == sorted(starts)  # stereo parties may overlap; the order still holds
        for u in t.utterances:
            assert u.words and u.start_s == u.words[0].start_s and u.end_s == u.words[-1].end_s
            for a, b in zip(u.words, u.words[1:], strict=False):
                assert a.start_s <= a.end_s <= call.duration_s + 0.5
                assert a.start_s <= b.start_s + 0.01


def test_mono_sample_calls_word_error_rate(sample_library):
    """Clear TTS speech, one channel: the embedded model's WER stays low."""
    root, _ = sample_library
    lib = Library(root)
    rates = {}
    for call in lib.calls():
        truth = json.loads((TRUTH / f"{Path(call.source_name).stem}.json").read_text())
        if truth["channels"] != "mono":
            continue
        reference = normalise(" ".join(t["text"] for t in truth["turns"]))
        hypothesis = normalise(lib.transcript(call.id).text)
        rates[call.source_name] = jiwer.wer(reference, hypothesis)
    assert len(rates) >= 2
    assert max(rates.values()) <= 0.10, rates


def test_reingest_is_skipped_not_duplicated(library_copy):
    lib = Library(library_copy)
    before = len(lib.calls())
    report = lib.ingest([SAMPLES / "acme_discovery.mp3"])
    assert not report.ingested and not report.failed
    assert [s.reason for s in report.skipped] == ["already in library"]
    assert report.skipped[0].call_id in {c.id for c in lib.calls()}
    assert len(lib.calls()) == before


FORMATS = {
    "call.flac": ["-c:a", "flac"],
    "call.mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "call.m4a": ["-c:a", "aac", "-b:a", "64k"],
    "call.aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    "call.ogg": ["-c:a", "libvorbis"],
    "call.opus": ["-c:a", "libopus", "-b:a", "32k"],
    "call.webm": ["-c:a", "libopus", "-b:a", "32k"],
}


def test_every_supported_format_is_transcribed(speech_dir, tmp_path):
    src = speech_dir / "speech_a.wav"
    files = [cut(src, tmp_path / name, 0, 12, *args) for name, args in FORMATS.items()]
    # Video containers: the audio track is taken.
    for name in ("call.mp4", "call.mov", "call.mkv"):
        run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=navy:s=160x120:d=12", "-i", str(src),
                    "-shortest", "-c:v", "mpeg4", "-c:a", "aac", str(tmp_path / name)])
        files.append(tmp_path / name)
    lib = Library(tmp_path / "lib")
    report = lib.ingest(files)
    assert not report.failed, report.failed
    # The same speech in different containers is different bytes: each is its own call.
    assert len(report.ingested) == len(files)
    for f in report.ingested:
        text = normalise(lib.transcript(f.call_id).text)
        assert "summit" in text and "good time" in text, (f.path, text)
        assert 11 < f.duration_s < 13


def test_stereo_file_keeps_two_channels(sample_library):
    root, _ = sample_library
    stereo = [c for c in Library(root).calls() if c.channels == 2]
    assert len(stereo) >= 2
    out = run_ffmpeg(["-i", stereo[0].playback_path, "-f", "null", "-"])
    assert "stereo" in out or out == ""


def _make_bad_inputs(d: Path, speech: Path) -> dict[str, Path]:
    bad = {}
    bad["empty"] = d / "empty.wav"
    bad["empty"].write_bytes(b"")
    bad["not audio"] = d / "notes.mp3"
    bad["not audio"].write_text("Meeting notes: call Dana back on Tuesday.\n" * 50)
    full = cut(speech, d / "full.wav", 0, 12)
    bad["truncated"] = d / "truncated.wav"
    bad["truncated"].write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    bad["video without audio"] = d / "screen.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=red:s=160x120:d=3", "-c:v", "mpeg4",
                str(bad["video without audio"])])
    bad["silence"] = d / "silence.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "8",
                str(bad["silence"])])
    bad["missing"] = d / "no_such_call.wav"
    bad["unsupported"] = d / "agenda.txt"
    bad["unsupported"].write_text("agenda")
    return bad


EXPECTED_REASON = {
    "empty": "file is empty",
    "not audio": "not a readable audio or video file",
    "truncated": "file is truncated",
    "video without audio": "video has no audio track",
    "silence": "recording is silent",
    "missing": "path does not exist",
    "unsupported": "not a supported recording type",
}


def test_bad_inputs_fail_clearly_and_the_batch_goes_on(speech_dir, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    bad = _make_bad_inputs(inputs, speech_dir / "speech_a.wav")
    good = speech_dir / "speech_b.wav"
    lib = Library(tmp_path / "lib")
    paths = [bad["empty"], bad["not audio"], good, *[p for k, p in bad.items()
                                                    if k not in ("empty", "not audio")]]
    report = lib.ingest(paths)
    assert [Path(f.path).name for f in report.ingested] == ["speech_b.wav"]
    reasons = {Path(f.path).name: f.error for f in report.failed}
    assert len(reasons) == len(bad)
    for kind, path in bad.items():
        assert EXPECTED_REASON[kind] in reasons[path.name], (kind, reasons[path.name])
        assert "\n" not in reasons[path.name]
    # Nothing of the failed files is left in the library: one call, its two files.
    assert len(lib.calls()) == 1
    assert sorted(p.name for p in lib.media_dir.iterdir()) == sorted(
        [Path(lib.calls()[0].media_path).name, Path(lib.calls()[0].playback_path).name])
    db = sqlite3.connect(lib.root / "clipstudio.db")
    assert db.execute("SELECT COUNT(DISTINCT call_id) FROM utterances").fetchone()[0] == 1


def test_truncated_mp3_with_a_length_header_is_reported(speech_dir, tmp_path):
    full = cut(speech_dir / "speech_a.wav", tmp_path / "full.mp3", 0, 12, "-b:a", "64k")
    half = tmp_path / "half.mp3"
    half.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    report = Library(tmp_path / "lib").ingest([half])
    assert "file is truncated" in report.failed[0].error


def test_folders_are_searched_recursively_for_recordings(speech_dir, tmp_path):
    nested = tmp_path / "calls" / "2026" / "march"
    nested.mkdir(parents=True)
    (nested / "a.wav").write_bytes((speech_dir / "speech_a.wav").read_bytes())
    (tmp_path / "calls" / "notes.txt").write_text("ignored inside folders")
    report = Library(tmp_path / "lib").ingest([tmp_path / "calls"])
    assert [Path(f.path).name for f in report.ingested] == ["a.wav"]
    assert not report.failed


def test_vocabulary_is_saved_and_extended(tmp_path, speech_dir):
    lib = Library(tmp_path / "lib")
    lib.add_vocabulary("Acme, ComfyUI")
    report = lib.ingest([speech_dir / "speech_a.wav"], vocabulary="Summit; acme")
    assert report.ingested
    assert lib.vocabulary() == ["Acme", "ComfyUI", "Summit"]
    assert Library(tmp_path / "lib").vocabulary() == ["Acme", "ComfyUI", "Summit"]


def test_progress_is_reported_per_file_and_for_the_batch(tmp_path, speech_dir):
    seen = []
    Library(tmp_path / "lib").ingest(
        [speech_dir / "speech_a.wav", speech_dir / "speech_b.wav"], on_progress=seen.append)
    assert {p.total for p in seen} == {2}
    assert [p.done for p in seen if p.stage == "done"] == [0, 1]
    fractions = [p.file_fraction for p in seen if p.path.endswith("speech_a.wav")]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(p.stage == "transcribing" and 0 < p.file_fraction < 1 for p in seen)


def _count_calls(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_mid_batch_then_rerun_finishes_without_duplicates(tmp_path):
    """``kill -9`` during a batch; the same command again completes it cleanly."""
    batch = tmp_path / "batch"
    batch.mkdir()
    for i, start in enumerate((0, 45, 90)):
        cut(SAMPLES / "acme_discovery.mp3", batch / f"part{i}.mp3", start, 40, "-b:a", "48k")
    lib_dir = tmp_path / "lib"
    cmd = [sys.executable, "-m", "clipstudio", "ingest", str(batch), "--library", str(lib_dir),
           "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _count_calls(lib_dir / "clipstudio.db") < 1 and time.monotonic() < deadline:
        assert proc.poll() is None, "ingest ended before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _count_calls(lib_dir / "clipstudio.db")
    assert 1 <= killed_at < 3

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    out = json.loads(rerun.stdout)
    assert len(out["skipped"]) == killed_at and len(out["ingested"]) == 3 - killed_at
    lib = Library(lib_dir)
    calls = lib.calls()
    assert sorted(c.source_name for c in calls) == ["part0.mp3", "part1.mp3", "part2.mp3"]
    expected = {Path(c.media_path).name for c in calls} | {Path(c.playback_path).name
                                                           for c in calls}
    assert {p.name for p in lib.media_dir.iterdir()} == expected  # no orphans, no temp files
