"""ClipStudio home: the library at a glance, and an upload box that ingests recordings."""

import tempfile
from pathlib import Path

import streamlit as st

from app_support import CALL_PAGE, fmt_time, open_library, progress_reporter
from clipstudio import ClipStudioError
from clipstudio.ingest import AUDIO_EXTENSIONS

st.set_page_config(page_title="ClipStudio", page_icon="🎧", layout="wide")
lib = open_library()

st.title("ClipStudio")
st.caption("Your sales calls, transcribed and searchable — cut the moments worth teaching.")

ov = lib.overview()
c1, c2, c3 = st.columns(3)
c1.metric("Calls", ov["calls"])
c2.metric("Hours of audio", f"{ov['hours']:.1f}")
c3.metric("Reps", ov["reps"])

st.subheader("Recent calls")
if not ov["recent"]:
    st.info("No calls yet. Upload recordings below, or run "
            "`clipstudio ingest sample_calls --manifest sample_calls/manifest.csv`.")
for call in ov["recent"]:
    cols = st.columns([5, 2, 2, 1])
    cols[0].markdown(f"**{call.title}**  \n{call.rep or 'unknown rep'}"
                     f"{' ★ A-player' if call.a_player else ''} · {call.account or '—'}")
    cols[1].write(call.call_date or "—")
    cols[2].write(f"{fmt_time(call.duration_s)} · {call.outcome}")
    if cols[3].button("Open", key=f"home_open_{call.id}"):
        st.switch_page(CALL_PAGE, query_params={"call": str(call.id)})

st.subheader("Add recordings")
uploads = st.file_uploader(
    "Drop call recordings (wav, mp3, m4a, flac, ogg, webm, mp4, mov, mkv)",
    type=sorted(ext.lstrip(".") for ext in AUDIO_EXTENSIONS),
    accept_multiple_files=True,
    key="home_uploads",
)
if st.button("Transcribe and add to library", key="home_ingest", disabled=not uploads):
    with tempfile.TemporaryDirectory(prefix="clipstudio-upload-") as tmp:
        paths = []
        for i, up in enumerate(uploads):  # a folder each: two uploads may share a name
            dest = Path(tmp) / str(i) / Path(up.name).name
            dest.parent.mkdir()
            dest.write_bytes(up.getbuffer())
            paths.append(dest)
        bar = st.progress(0.0, text="Starting…")
        try:
            report = lib.ingest(paths, on_progress=progress_reporter(bar, len(paths)))
        except ClipStudioError as exc:
            st.error(str(exc))
            st.stop()
        bar.progress(1.0, text="Done")
    st.session_state["home_last_report"] = {
        "summary": (f"{len(report.ingested)} ingested, {len(report.skipped)} skipped, "
                    f"{len(report.failed)} failed"),
        "ok": report.ok,
        "rows": (
            [{"file": Path(f.path).name, "result": "ingested", "call": f.call_id,
              "detail": fmt_time(f.duration_s)} for f in report.ingested]
            + [{"file": Path(f.path).name, "result": "skipped", "call": f.call_id,
                "detail": f.reason} for f in report.skipped]
            + [{"file": Path(f.path).name, "result": "failed", "call": None,
                "detail": f.error} for f in report.failed]
        ),
    }
    st.session_state.pop("home_uploads", None)  # empty the upload box: these are done
    st.rerun()  # so the overview above counts the new calls

last = st.session_state.get("home_last_report")
if last:
    (st.success if last["ok"] else st.warning)(last["summary"])
    st.dataframe(last["rows"], hide_index=True, key="home_results")
