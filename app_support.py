"""Helpers the Streamlit pages share. UI only: every decision lives in ``clipstudio``."""

from __future__ import annotations

import streamlit as st

from clipstudio import ClipStudioError, Library
from clipstudio.cli import fmt_time
from clipstudio.models import Progress

__all__ = [
    "attempt", "fmt_time", "open_library", "progress_reporter", "flash", "show_flash",
    "speaker_tag", "diarization_label", "CALL_PAGE", "LIBRARY_PAGE", "CLIP_EDITOR_PAGE",
    "CLIPS_PAGE",
]

CALL_PAGE = "pages/2_Call.py"
LIBRARY_PAGE = "pages/1_Library.py"
CLIP_EDITOR_PAGE = "pages/5_Clip_editor.py"
CLIPS_PAGE = "pages/6_Clips.py"


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


# Speakers: how they are shown -------------------------------------------------------------

ROLE_COLOURS = {"rep": "blue", "customer": "orange", "other": "gray"}

DIARIZATION_LABELS = {
    "stereo": "stereo channels",
    "embedded": "voice clustering",
    "pyannote": "pyannote",
    "none": "not separated",
    "import": "imported transcript",
}

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]$<>~|"})


def md_escape(text: str) -> str:
    """Text shown literally inside Streamlit markdown (names are typed by trainers)."""
    return text.translate(_MD_SPECIAL)


def speaker_tag(display: str | None, role: str | None) -> str:
    """A speaker's name as Streamlit markdown, bold and coloured by role (grey: no role)."""
    if not display:
        return ""
    return f":{ROLE_COLOURS.get(role or '', 'gray')}[**{md_escape(display)}**]"


def diarization_label(method: str | None) -> str:
    """How a call's speakers were found, for the caption under its title."""
    return f"speakers: {DIARIZATION_LABELS.get(method or 'none', method)}"


def flash(message: str, icon: str = ":material/check_circle:") -> None:
    """A toast for the next run: a page changes something, then reruns to show it."""
    st.session_state["_flash"] = (message, icon)


def attempt(action, done: str) -> None:
    """Run one core change; on success toast ``done`` and rerun, on a ClipStudioError
    show it (the error stays on screen)."""
    try:
        action()
    except ClipStudioError as exc:
        st.error(str(exc))
    else:
        flash(done)
        st.rerun()


def show_flash() -> None:
    """Show the toast a previous run left with ``flash`` (once)."""
    pending = st.session_state.pop("_flash", None)
    if pending:
        st.toast(pending[0], icon=pending[1])


ROLE_HEX = {"rep": "#1f77b4", "customer": "#ff7f0e"}  # the chart's blue and orange


def timeline_chart(transcript, hits):
    """The call as a strip: who talked when (by role); tracker hits are red ticks across it."""
    import altair as alt

    talk = [{"who": u.role or "unknown", "start": u.start_s, "end": u.end_s,
             "what": f"{u.speaker or '?'}: {u.text[:80]}"}
            for u in transcript.utterances]
    marks = [{"start": h.start_s, "what": f"{h.tracker}: {h.text[:80]}"} for h in hits]
    domain = [0, max(transcript.call.duration_s, 1.0)]
    bars = alt.Chart(alt.Data(values=talk)).mark_bar(height=16).encode(
        x=alt.X("start:Q", title="seconds", scale=alt.Scale(domain=domain)), x2="end:Q",
        color=alt.Color("who:N", title=None, scale=alt.Scale(
            domain=["rep", "customer", "unknown"],
            range=[ROLE_HEX["rep"], ROLE_HEX["customer"], "#999999"])),
        tooltip=["what:N"])
    ticks = alt.Chart(alt.Data(values=marks or [{"start": 0, "what": ""}])
                      ).mark_tick(thickness=3, size=30, color="#d62728",
                                  opacity=1 if marks else 0).encode(
        x=alt.X("start:Q", scale=alt.Scale(domain=domain)), tooltip=["what:N"])
    return (bars + ticks).properties(height=66)  # room for the three legend entries
