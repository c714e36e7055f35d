"""One call: audio player, transcript with timestamps (a line plays from there), metadata.

The URL carries the call (``?call=ID``) and optionally a moment (``&t=SECONDS``), so a
link to a call or to a moment in it can be shared.
"""

from datetime import date

import streamlit as st

from app_support import LIBRARY_PAGE, fmt_time, open_library
from clipstudio import ClipStudioError, NotFoundError
from clipstudio.models import OUTCOMES

st.set_page_config(page_title="Call · ClipStudio", page_icon="🎧", layout="wide")
lib = open_library()

calls = lib.calls()
if not calls:
    st.info("The library has no calls yet. Add recordings on the Home page.")
    st.stop()

call_param = st.query_params.get("call")
if call_param is None:
    chosen = st.selectbox("Call", calls, format_func=lambda c: f"{c.id} · {c.title}",
                          key="call_pick")
    st.query_params["call"] = str(chosen.id)
    call_param = str(chosen.id)
try:
    transcript = lib.transcript(call_param)
except NotFoundError as exc:
    st.error(str(exc))
    if st.button("Back to the library", key="call_back"):
        st.switch_page(LIBRARY_PAGE)
    st.stop()
call = transcript.call

state_key = f"call_{call.id}_start"
if state_key not in st.session_state:
    try:
        st.session_state[state_key] = max(0.0, float(st.query_params.get("t", 0)))
    except ValueError:
        st.session_state[state_key] = 0.0
    st.session_state[f"call_{call.id}_autoplay"] = "t" in st.query_params

st.title(call.title)
st.caption(
    f"{call.rep or 'unknown rep'}{' ★ A-player' if call.a_player else ''} · "
    f"{call.account or 'no account'} · {call.call_date or 'no date'} · {call.outcome} · "
    f"{fmt_time(call.duration_s)} · {'stereo' if call.channels >= 2 else 'mono'}"
)

start = st.session_state[state_key]
try:
    st.audio(call.playback_path, format="audio/mpeg", start_time=int(start),
             autoplay=st.session_state.get(f"call_{call.id}_autoplay", False))
except (FileNotFoundError, OSError):
    st.error(f"The playback file for this call is missing: {call.playback_path}")
if start:
    st.caption(f"Playing from {fmt_time(start)}")

tab_t, tab_m = st.tabs(["Transcript", "Details"])
with tab_t:
    for u in transcript.utterances:
        left, right = st.columns([1, 9])
        if left.button(f"▶ {fmt_time(u.start_s)}", key=f"call_play_{u.index}",
                       help="Play the call from here"):
            st.session_state[state_key] = u.start_s
            st.session_state[f"call_{call.id}_autoplay"] = True
            st.query_params["t"] = str(int(u.start_s))
            st.rerun()
        who = f"**{u.speaker}** " if u.speaker else ""
        right.markdown(f"{who}{u.text}")

with tab_m, st.form("call_meta_form"):
    title = st.text_input("Title", call.title, key="meta_title")
    c1, c2 = st.columns(2)
    rep = c1.text_input("Rep", call.rep or "", key="meta_rep")
    account = c2.text_input("Account", call.account or "", key="meta_account")
    c3, c4 = st.columns(2)
    call_date = c3.date_input(
        "Call date", date.fromisoformat(call.call_date) if call.call_date else None,
        key="meta_date")
    outcome = c4.selectbox("Outcome", OUTCOMES, index=OUTCOMES.index(call.outcome),
                           key="meta_outcome")
    consent = st.checkbox("Participants consented to recording", bool(call.consent),
                          key="meta_consent")
    a_player = st.checkbox("This rep is an A-player", call.a_player, key="meta_a_player")
    if st.form_submit_button("Save details", key="meta_save"):
        try:
            lib.update_call(
                call.id, title=title, rep=rep, account=account,
                call_date=call_date.isoformat() if call_date else None,
                outcome=outcome, consent=consent, a_player=a_player,
            )
        except ClipStudioError as exc:
            st.error(str(exc))
        else:
            st.toast("Saved")
            st.rerun()
    st.caption(f"Source file: {call.source_name} · model {call.model} · added {call.created_at}")
