"""Fixtures that build real data: real recordings, the real tiny.en model, real SQLite.

The sample calls are transcribed once per test run (``sample_library``); every test that
needs a populated library copies it (``library_copy``) instead of transcribing again.
Unit tests use seconds-long clips cut from the sample calls with the real ffmpeg.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from clipstudio import Library
from clipstudio.media import run_ffmpeg
from clipstudio.models import IngestReport

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_calls"
ARTIFACTS = ROOT / "tests" / "artifacts"

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")


@pytest.fixture(scope="session")
def sample_library(tmp_path_factory) -> tuple[Path, IngestReport]:
    """A library holding every sample call, transcribed with the embedded model, once."""
    root = tmp_path_factory.mktemp("sample_library")
    report = Library(root).ingest([SAMPLES], manifest=SAMPLES / "manifest.csv")
    assert not report.failed, report.failed
    return root, report


@pytest.fixture
def library_copy(sample_library, tmp_path) -> Path:
    """A private, writable copy of the sample library (tests may edit it)."""
    src, _ = sample_library
    with sqlite3.connect(src / "clipstudio.db") as conn:  # fold the WAL into the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    dest = tmp_path / "library"
    shutil.copytree(src, dest)
    return dest


def cut(source: Path, dest: Path, start_s: float, duration_s: float, *args: str) -> Path:
    """Cut real speech out of a sample call with ffmpeg; extra args pick codec/format."""
    run_ffmpeg(["-y", "-ss", str(start_s), "-t", str(duration_s), "-i", str(source),
                *args, str(dest)])
    return dest


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    """Short clips of real speech (different content each, so different hashes)."""
    d = tmp_path_factory.mktemp("speech")
    src = SAMPLES / "acme_discovery.mp3"
    cut(src, d / "speech_a.wav", 0, 12, "-ac", "1", "-ar", "16000")
    cut(src, d / "speech_b.wav", 30, 12, "-ac", "1", "-ar", "16000")
    cut(src, d / "speech_c.wav", 60, 12, "-ac", "1", "-ar", "16000")
    return d
