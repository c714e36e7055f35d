"""Library: every call in a table, filtered by rep, outcome and date; a row opens the call."""

import streamlit as st

from app_support import CALL_PAGE, fmt_time, open_library
from clipstudio import trackers
from clipstudio.models import OUTCOMES

st.set_page_config(page_title="Library · ClipStudio", page_icon="🎧", layout="wide")
lib = open_library()
st.title("Call library")

reps = [r["name"] for r in lib.reps()]
f1, f2, f3, f4 = st.columns(4)
rep = f1.selectbox("Rep", ["All reps", *reps], key="lib_rep")
outcome = f2.selectbox("Outcome", ["Any outcome", *OUTCOMES], key="lib_outcome")
date_from = f3.date_input("From", value=None, key="lib_from")
date_to = f4.date_input("To", value=None, key="lib_to")

names = [t.name for t in trackers.trackers(lib)]
wanted = st.multiselect("Calls where trackers fired", names, key="lib_trackers",
                        placeholder="Any call (pick trackers such as Price objection)")

calls = lib.calls(
    rep=None if rep == "All reps" else rep,
    outcome=None if outcome == "Any outcome" else outcome,
    date_from=date_from.isoformat() if date_from else None,
    date_to=date_to.isoformat() if date_to else None,
    trackers=wanted,
)
hits = trackers.counts(lib)
st.caption(f"{len(calls)} call{'s' if len(calls) != 1 else ''} · "
           f"{sum(c.duration_s for c in calls) / 3600:.1f} hours")
if not calls:
    st.info("No calls match. Clear the filters, or add recordings on the Home page.")
    st.stop()

rows = [
    {
        "open": f"Call?call={c.id}",
        "date": c.call_date,
        "title": c.title,
        "rep": c.rep or "—",
        "A-player": c.a_player,
        "account": c.account or "—",
        "outcome": c.outcome,
        "length": fmt_time(c.duration_s),
        "audio": "stereo" if c.channels >= 2 else "mono",
        "trackers": " · ".join(f"{name} ×{n}" for name, n in hits.get(c.id, {}).items()),
    }
    for c in calls
]
event = st.dataframe(
    rows,
    hide_index=True,
    key="lib_table",
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "open": st.column_config.LinkColumn("", display_text="Open ▸", width="small"),
        "title": st.column_config.TextColumn("Title", width="large"),
        "A-player": st.column_config.CheckboxColumn("A-player", width="small"),
    },
)
selected = event.selection.rows if event else []
if selected:
    st.switch_page(CALL_PAGE, query_params={"call": str(calls[selected[0]].id)})
