"""The ``clipstudio`` command through its real console-script entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLES

EXE = shutil.which("clipstudio", path=str(Path(sys.executable).parent)) or "clipstudio"


def cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def test_ingest_json_report_and_rerun_skip(tmp_path, speech_dir):
    bad = tmp_path / "broken.wav"
    bad.write_text("not audio")
    lib = str(tmp_path / "lib")
    r = cli("ingest", str(speech_dir / "speech_a.wav"), str(bad), "--library", lib, "--json",
            "--vocabulary", "Summit, Acme")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"ingested", "skipped", "failed"}
    [ing] = out["ingested"]
    assert set(ing) == {"call_id", "path", "duration_s"} and ing["duration_s"] > 11
    assert out["failed"] == [{"path": str(bad), "error": "not a readable audio or video file"}]

    r = cli("ingest", str(speech_dir / "speech_a.wav"), "--library", lib, "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["skipped"] == [
        {"path": str(speech_dir / "speech_a.wav"), "call_id": ing["call_id"],
         "reason": "already in library"}]

    # Human output: a progress bar on stderr, then a summary line.
    r = cli("ingest", str(speech_dir / "speech_a.wav"), "--library", lib)
    assert "0 ingested, 1 skipped, 0 failed" in r.stdout
    assert "batch" in r.stderr and "%" in r.stderr


def test_library_from_environment_and_reading_back(sample_library, tmp_path):
    root, _ = sample_library
    r = cli("calls", "--json", env={"CLIPSTUDIO_LIBRARY": str(root)}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    calls = json.loads(r.stdout)
    assert len(calls) == len((SAMPLES / "manifest.csv").read_text().splitlines()) - 1
    assert {"call_id", "title", "rep", "duration_s", "status", "outcome"} <= set(calls[0])
    assert {c["status"] for c in calls} == {"transcribed"}

    table = cli("calls", "--library", str(root)).stdout
    assert "Dana Lee *" in table and calls[0]["title"] in table

    cid = str(calls[0]["call_id"])
    t = json.loads(cli("transcript", cid, "--library", str(root), "--format", "json").stdout)
    assert set(t) == {"call_id", "title", "duration_s", "utterances"}
    u = t["utterances"][0]
    assert set(u) == {"speaker", "role", "start_s", "end_s", "text", "words"}
    assert set(u["words"][0]) == {"index", "text", "start_s", "end_s", "probability"}
    txt = cli("transcript", cid, "--library", str(root)).stdout
    assert txt.startswith(f"# {calls[0]['title']}") and u["text"] in txt


@pytest.mark.parametrize("args, message", [
    (["transcript", "999"], "no call 999"),
    (["ingest", "x.wav", "--model", "/no/such/model"], "has no model.bin"),
])
def test_errors_are_one_line_with_exit_status_2(tmp_path, speech_dir, args, message):
    if args[0] == "ingest":
        args = ["ingest", str(speech_dir / "speech_c.wav"), *args[2:]]
    r = cli(*args, "--library", str(tmp_path / "lib"))
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_manifest_exits_2_and_ingests_nothing(tmp_path, speech_dir):
    m = tmp_path / "m.csv"
    m.write_text("file,outcome\nspeech_a.wav,maybe\n")
    r = cli("ingest", str(speech_dir), "--manifest", str(m), "--library", str(tmp_path / "l"))
    assert r.returncode == 2 and "outcome must be one of" in r.stderr
    assert json.loads(cli("calls", "--json", "--library", str(tmp_path / "l")).stdout) == []


def test_search_and_reindex(library_copy):
    lib = str(library_copy)
    r = cli("search", "quarter", "--library", lib, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"query", "total", "hits"} and out["total"] >= 1
    assert set(out["hits"][0]) == {"call_id", "utterance_id", "speaker", "role", "start_s",
                                   "end_s", "text", "highlight"}
    customer = json.loads(cli("search", "quarter", "--role", "customer", "--library", lib,
                              "--json").stdout)
    assert {h["role"] for h in customer["hits"]} == {"customer"}
    shutil.rmtree(library_copy / "index")
    r = cli("reindex", "--library", lib)
    assert r.returncode == 0 and "indexed" in r.stdout and "reindex" in r.stderr
    again = json.loads(cli("search", "quarter", "--library", lib, "--json").stdout)
    assert again["total"] == out["total"]
    bad = cli("search", '"unbalanced', "--library", lib)
    assert bad.returncode == 2 and bad.stderr.startswith("clipstudio: error:")
