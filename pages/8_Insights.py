"""Insights: conversation figures per rep and per call against published references, the
talk picture and timeline of a call, coaching candidates from the trainer's checklist,
a rep's self-coaching view, and voice-of-customer exports.

Every figure is computed by ``clipstudio.insights``; the pictures by ``clipstudio.pictures``.
"""

from __future__ import annotations

from datetime import date

import altair as alt
import streamlit as st

from app_support import CALL_PAGE, flash, fmt_time, open_library, show_flash
from clipstudio import ClipStudioError, insights, pictures, trackers
from clipstudio.models import OUTCOMES

st.set_page_config(page_title="Insights · ClipStudio", page_icon="📊", layout="wide")
lib = open_library()
show_flash()
st.title("Conversation insights")

if not lib.calls():
    st.info("The library has no calls yet. Add recordings on the Home page.")
    st.stop()

REF_LINE = {r.key: insights.reference_text(r.key) for r in insights.REFERENCES}


def definition(key: str) -> str:
    """A figure's definition, and its published reference when there is one."""
    text = insights.DEFINITIONS[key]
    return text + (f"\n\nReference: {REF_LINE[key]}" if key in REF_LINE else "")


def play_button(call_id: int, at_s: float | None, key: str, label: str | None = None) -> None:
    """A button that opens the call (two seconds before a moment, when one is given)."""
    params = {"call": str(call_id)}
    if at_s is not None:
        params["t"] = str(int(max(0.0, at_s - 2)))
    if st.button(label or f"▶ {fmt_time(at_s or 0)}", key=key,
                 help="Open the call two seconds before this moment" if at_s is not None
                 else "Open the call page"):
        st.switch_page(CALL_PAGE, query_params=params)


def iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


# The date range every figure is averaged over --------------------------------------------
c_from, c_to, c_note = st.columns([2, 2, 5], vertical_alignment="bottom")
since = c_from.date_input("Calls from", None, key="ins_since", format="YYYY-MM-DD")
until = c_to.date_input("to", None, key="ins_until", format="YYYY-MM-DD")
c_note.caption("Per-call figures, averaged per rep over the calls in this range (empty: all "
               "calls). The ? next to a figure gives its definition and source.")
try:
    calls = lib.calls(date_from=iso(since), date_to=iso(until))
    stats = insights.library_stats(lib, calls)
    team = insights.team_stats(lib, iso(since), iso(until), stats=stats)
except ClipStudioError as exc:
    st.error(str(exc))
    st.stop()
if not calls:
    st.warning("No calls in this date range.")
    st.stop()
known = [s for s in stats if s.known]

tab_team, tab_call, tab_coach, tab_self, tab_voc = st.tabs(
    ["Team", "Call", "Coaching candidates", "Self-coaching", "Voice of customer"])

# Team -------------------------------------------------------------------------------------
with tab_team:
    st.subheader("Per rep")
    rows = []
    for g in team:
        row = {"Rep": g.label, "Calls": g.calls}
        for key in insights.STAT_KEYS:
            row[insights.LABELS[key]] = insights.fmt_stat(key, getattr(g, key))
        rows.append(row)
    st.dataframe(rows, hide_index=True, key="ins_team_table")
    unknown = [s for s in stats if not s.known]
    if unknown:
        st.caption(f"{len(unknown)} call{'s' if len(unknown) != 1 else ''} left out of the "
                   "talk figures: " + "; ".join(f"{s.title}: {s.unknown_reason}"
                                                for s in unknown))
    with st.expander("Definitions and published references", expanded=False):
        for key in insights.STAT_KEYS:
            st.markdown(f"**{insights.LABELS[key]}**: {insights.DEFINITIONS[key]}")
        st.markdown("**Published references**")
        for r in insights.REFERENCES:
            st.markdown(f"- {r.text} *Source: {r.source}.*")

    per_call = [{"call": s.title, "rep": s.rep or "(no rep)", "date": s.call_date or "",
                 "talk": round(100 * s.rep_talk_ratio, 1),
                 "questions": s.rep_questions,
                 "monologue": round(s.longest_rep_monologue_s, 1)} for s in known]
    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**Rep talk ratio per call**")
        band = alt.Chart(alt.Data(values=[{"lo": 65, "hi": 75}])).mark_rect(
            color="#d62728", opacity=0.12).encode(x="lo:Q", x2="hi:Q")
        top = alt.Chart(alt.Data(values=[{"x": 43}])).mark_rule(
            color="#2ca02c", strokeDash=[4, 3]).encode(x="x:Q")
        dots = alt.Chart(alt.Data(values=per_call)).mark_circle(size=110).encode(
            x=alt.X("talk:Q", title="rep talk %", scale=alt.Scale(domain=[0, 100])),
            y=alt.Y("rep:N", title=None), color=alt.Color("rep:N", legend=None),
            tooltip=["call:N", "date:N", "talk:Q"])
        st.altair_chart((band + top + dots).properties(height=220), key="ins_chart_talk")
        st.caption("Green line: top performers talk 43%. Red band: average reps talk 65-75% "
                   "(Gong Labs, 25,537 calls).")
    with c2:
        st.markdown("**Rep questions per call**")
        sweet = alt.Chart(alt.Data(values=[{"lo": 11, "hi": 14}])).mark_rect(
            color="#2ca02c", opacity=0.15).encode(y="lo:Q", y2="hi:Q")
        bars = alt.Chart(alt.Data(values=per_call)).mark_bar().encode(
            x=alt.X("call:N", title=None, axis=alt.Axis(labels=False)),
            y=alt.Y("questions:Q", title="questions"), color=alt.Color("rep:N"),
            tooltip=["call:N", "rep:N", "questions:Q"])
        st.altair_chart((sweet + bars).properties(height=220), key="ins_chart_questions")
        st.caption("Green band: 11 to 14 questions per call, the sweet spot (Gong Labs).")
    with c3:
        st.markdown("**Longest rep monologue per call**")
        limit = alt.Chart(alt.Data(values=[{"y": 120}])).mark_rule(
            color="#d62728", strokeDash=[4, 3]).encode(y="y:Q")
        bars = alt.Chart(alt.Data(values=per_call)).mark_bar().encode(
            x=alt.X("call:N", title=None, axis=alt.Axis(labels=False)),
            y=alt.Y("monologue:Q", title="seconds"), color=alt.Color("rep:N"),
            tooltip=["call:N", "rep:N", "monologue:Q"])
        st.altair_chart((limit + bars).properties(height=220), key="ins_chart_monologue")
        st.caption("Red line: 2 minutes; company overviews longer than that see win rates drop "
                   "(Gong Labs, 257,967 calls).")

# One call ---------------------------------------------------------------------------------
with tab_call:
    by_id = {s.call_id: s for s in stats}
    call_id = st.selectbox("Call", list(by_id), key="ins_call",
                           format_func=lambda i: f"{by_id[i].call_date or '-'} · "
                                                 f"{by_id[i].title} · {by_id[i].rep or '-'}")
    s = by_id[call_id]
    if not s.known:
        st.warning(f"Talk figures unknown: {s.unknown_reason}")
    cols = st.columns(4)
    for i, key in enumerate(insights.STAT_KEYS):
        cols[i % 4].metric(insights.LABELS[key], insights.fmt_stat(key, getattr(s, key)),
                           help=definition(key))
    hits = ", ".join(f"{k}: {v}" for k, v in s.tracker_hits.items()) or "none"
    cols[3].metric("Tracker hits", sum(s.tracker_hits.values()),
                   help=f"{insights.DEFINITIONS['tracker_hits']}\n\n{hits}")
    st.caption(f"Tracker hits: {hits}")
    play_button(s.call_id, None, "ins_call_open", "Open the call")

    st.subheader("Timeline")
    st.caption("Rep turns red, customer turns black; coloured marks are tracker hits, spans "
               "under them are clips.")
    timeline_png = pictures.call_timeline(lib, s.call_id)
    st.image(timeline_png, width="stretch")
    st.download_button("Download the timeline (PNG)", timeline_png,
                       file_name=f"call-{s.call_id}-timeline.png", mime="image/png",
                       key="ins_dl_timeline")

    st.subheader("Talk picture")
    pic_col, text_col = st.columns([3, 2])
    talk_png = pictures.call_talk_picture(lib, s.call_id)
    pic_col.image(talk_png)
    text_col.markdown(
        "The whole conversation squeezed into one picture: what the **rep** said in "
        ":red[red], what the **customer** said in black, one paragraph per turn. A training "
        "team that dumped its calls into a spreadsheet coloured this way found the pictures "
        "mostly red; their reps had agreed to listen 80% of the time.")
    if s.known:
        text_col.markdown(f"In this call the rep talks **{s.rep_talk_ratio:.0%}** of the time. "
                          "Top performers talk 43% (Gong Labs, 25,537 calls).")
    text_col.download_button("Download the talk picture (PNG)", talk_png,
                             file_name=f"call-{s.call_id}-talk-picture.png", mime="image/png",
                             key="ins_dl_talk")

# Coaching candidates ----------------------------------------------------------------------
config = insights.coaching_config(lib)


def show_candidates(found: list[insights.Candidate], prefix: str) -> None:
    for c in found:
        with st.container(border=True, key=f"{prefix}_card_{c.call_id}"):
            head, go = st.columns([8, 2], vertical_alignment="center")
            head.markdown(f"**{c.title}** · {c.rep or 'no rep'}{' ★' if c.a_player else ''} · "
                          f"{c.call_date or 'no date'} · {c.outcome} · "
                          f"**{c.met} of {c.enabled}** criteria")
            with go:
                play_button(c.call_id, c.at_s, f"{prefix}_open_{c.call_id}", "▶ Listen")
            for j, m in enumerate(c.matches):
                left, right = st.columns([1, 9], vertical_alignment="center")
                with left:
                    play_button(c.call_id, m.at_s, f"{prefix}_{c.call_id}_{j}")
                right.markdown(f"{m.label}: {m.detail}")


with tab_coach:
    st.caption("A simple checklist finds the calls worth a coaching session. Calls meeting "
               "the most criteria come first; each moment opens the call there.")
    tracker_names = [t.name for t in trackers.trackers(lib)]
    with st.expander("Checklist (trainer settings)", expanded=False), \
            st.form("ins_criteria_form", border=False):
        edited = []
        for c in config.criteria:
            on_col, val_col = st.columns([3, 2], vertical_alignment="bottom")
            on = on_col.checkbox(c.label, c.enabled, key=f"ins_crit_{c.key}_on")
            threshold, tracker = c.threshold, c.tracker
            if c.key == "rep_talk_above":
                threshold = val_col.number_input(
                    "Rep talk above (%)", 0, 100, int(round(100 * c.threshold)),
                    key=f"ins_crit_{c.key}_value") / 100
            elif c.key == "monologue_over_s":
                threshold = 60 * val_col.number_input(
                    "Monologue over (minutes)", 0.5, 30.0, c.threshold / 60, step=0.5,
                    key=f"ins_crit_{c.key}_value")
            elif c.key == "customer_story_under_s":
                threshold = val_col.number_input(
                    "Customer story under (seconds)", 5, 600, int(c.threshold), step=5,
                    key=f"ins_crit_{c.key}_value")
            else:
                options = tracker_names if c.tracker in tracker_names else [
                    *tracker_names, c.tracker]
                tracker = val_col.selectbox("Tracker", options, options.index(c.tracker),
                                            key=f"ins_crit_{c.key}_tracker")
            edited.append(insights.Criterion(c.key, on, threshold, tracker))
        min_met = st.number_input("List calls meeting at least this many criteria", 1,
                                  len(config.criteria), config.min_met, key="ins_crit_min_met")
        save_col, reset_col = st.columns(2)
        if save_col.form_submit_button("Save checklist", key="ins_crit_save"):
            try:
                insights.save_coaching_config(lib, insights.CoachingConfig(
                    tuple(edited), int(min_met)))
            except ClipStudioError as exc:
                st.error(str(exc))
            else:
                flash("Checklist saved")
                st.rerun()
        if reset_col.form_submit_button("Back to the defaults", key="ins_crit_reset"):
            insights.save_coaching_config(lib, insights.CoachingConfig())
            for k in [k for k in st.session_state if str(k).startswith("ins_crit_")]:
                del st.session_state[k]
            flash("Checklist back to the defaults")
            st.rerun()
    found = insights.candidates(lib, config, stats=stats)
    st.markdown(f"**{len(found)} candidate call{'s' if len(found) != 1 else ''}** meeting at "
                f"least {config.effective_min_met} of {len(config.enabled)} criteria")
    if not found:
        st.info("No call meets enough criteria. Lower the number on the checklist to see more.")
    show_candidates(found, "ins_cand")

# Self-coaching ----------------------------------------------------------------------------
with tab_self:
    reps = sorted({s.rep for s in stats if s.rep})
    if not reps:
        st.info("No call in this range has a rep. Set the rep on each call's Details tab.")
    else:
        me = st.selectbox("Rep", reps, key="ins_self_rep")
        mine = [s for s in stats if s.rep == me]
        you = insights.aggregate(mine, me, iso(since), iso(until))
        team_row = team[-1]
        st.caption(f"{me}: {len(mine)} call{'s' if len(mine) != 1 else ''} in the range. "
                   "Your per-call averages against the team's and the published references.")
        table = []
        for key in insights.STAT_KEYS:
            table.append({"Figure": insights.LABELS[key],
                          "You": insights.fmt_stat(key, getattr(you, key)),
                          "Team": insights.fmt_stat(key, getattr(team_row, key)),
                          "Reference": REF_LINE.get(key, ""),
                          "Definition": insights.DEFINITIONS[key]})
        st.dataframe(table, hide_index=True, key="ins_self_table")
        last = 1
        if len(mine) > 1:
            last = st.slider("Talk pictures of your last calls", 1, min(10, len(mine)),
                             min(5, len(mine)), key="ins_self_last")
        recent = sorted(mine, key=lambda s: (s.call_date or "", s.call_id))[-last:]
        rep_png = pictures.rep_talk_picture([lib.transcript(s.call_id) for s in recent])
        st.image(rep_png)
        st.download_button("Download these talk pictures (PNG)", rep_png,
                           file_name=f"{me.replace(' ', '-').lower()}-talk-pictures.png",
                           mime="image/png", key="ins_dl_self")
        st.markdown("**Your moments to review**")
        own = [c for c in insights.candidates(lib, config, stats=mine, include_all=True)
               if c.matches]
        if not own:
            st.caption("None of your calls meets a checklist criterion.")
        show_candidates(own, "ins_self")

# Voice of customer ------------------------------------------------------------------------
with tab_voc:
    st.caption("What customers said, in their words: export customer utterances with the "
               "call's details and the moment, for product and marketing.")
    v1, v2, v3 = st.columns(3)
    tracker = v1.selectbox("Tracker", ["any", *[t.name for t in trackers.trackers(lib)]],
                           key="ins_voc_tracker")
    query = v2.text_input("Search", key="ins_voc_query", placeholder='"too expensive" budget')
    outcome = v3.selectbox("Outcome", ["any", *OUTCOMES], key="ins_voc_outcome")
    filters = {"tracker": None if tracker == "any" else tracker, "query": query.strip() or None,
               "since": iso(since), "until": iso(until),
               "outcome": None if outcome == "any" else outcome}
    try:
        voc = insights.voc_rows(lib, **filters)
    except ClipStudioError as exc:
        st.error(str(exc))
    else:
        st.caption(f"{len(voc)} customer utterance{'s' if len(voc) != 1 else ''} "
                   "(the date range above applies)")
        st.dataframe([{"Call": r.title, "Date": r.call_date, "Outcome": r.outcome,
                       "At": r.start, "Trackers": r.trackers, "Said": r.text}
                      for r in voc[:500]], hide_index=True, key="ins_voc_table")
        d1, d2 = st.columns(2)
        d1.download_button("Download CSV", insights.voc_csv(voc),
                           file_name="voice-of-customer.csv", mime="text/csv",
                           key="ins_voc_csv", disabled=not voc)
        d2.download_button("Download JSON", insights.voc_json(voc, filters),
                           file_name="voice-of-customer.json", mime="application/json",
                           key="ins_voc_json", disabled=not voc)
