"""Helpers the Streamlit pages share. UI only: every decision lives in ``clipstudio``."""

from __future__ import annotations

import streamlit as st

from clipstudio import ClipStudioError, Library
from clipstudio.cli import fmt_time
from clipstudio.models import Progress

__all__ = ["fmt_time", "open_library", "progress_reporter", "CALL_PAGE", "LIBRARY_PAGE"]

CALL_PAGE = "pages/2_Call.py"
LIBRARY_PAGE = "pages/1_Library.py"


def open_library() -> Library:
    """A Library for this rerun. Cheap to open; each thread gets its own SQLite connection,
    so nothing holding a connection is cached across sessions."""
    try:
        return Library()
    except ClipStudioError as exc:
        st.error(f"Cannot open the library: {exc}")
        st.stop()


def progress_reporter(bar, total_files: int):
    """An ingest progress callback that drives one ``st.progress`` bar over the batch."""

    def report(p: Progress) -> None:
        overall = (p.done + p.file_fraction) / max(p.total, 1)
        name = p.path.rsplit("/", 1)[-1]
        bar.progress(min(overall, 1.0), text=f"{name}: {p.stage} ({p.done + 1}/{p.total})")

    return report
