"""One call: audio player, transcript with timestamps (a line plays from there), speakers
(rename, set roles, merge, move a line, remember a rep's voice), metadata.

The URL carries the call (``?call=ID``) and optionally a moment (``&t=SECONDS``), so a
link to a call or to a moment in it can be shared.
"""

from datetime import date

import streamlit as st

from app_support import (
    CLIP_EDITOR_PAGE,
    LIBRARY_PAGE,
    diarization_label,
    flash,
    fmt_time,
    open_library,
    show_flash,
    speaker_tag,
    timeline_chart,
)
from clipstudio import ClipStudioError, NotFoundError, trackers
from clipstudio.models import OUTCOMES
from clipstudio.speakers import ROLES

st.set_page_config(page_title="Call · ClipStudio", page_icon="🎧", layout="wide")
lib = open_library()
show_flash()

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
    f"{fmt_time(call.duration_s)} · {'stereo' if call.channels >= 2 else 'mono'} · "
    f"{diarization_label(call.diarization)}"
)

start = st.session_state[state_key]
try:
    st.audio(call.playback_path, format="audio/mpeg", start_time=int(start),
             autoplay=st.session_state.get(f"call_{call.id}_autoplay", False))
except (FileNotFoundError, OSError):
    st.error(f"The playback file for this call is missing: {call.playback_path}")
p_note, p_clip = st.columns([4, 1])
if start:
    p_note.caption(f"Playing from {fmt_time(start)}")
if p_clip.button("✂ Cut a clip here", key="call_cut_clip",
                 help="Open the clip editor at this point of the call"):
    st.switch_page(CLIP_EDITOR_PAGE, query_params={"call": str(call.id), "t": f"{start:.2f}"})

moments = trackers.call_hits(lib, call.id)
st.altair_chart(timeline_chart(transcript, moments), key="call_timeline")

tab_t, tab_k, tab_s, tab_m = st.tabs(["Transcript", "Moments", "Speakers", "Details"])
with tab_k:
    if not moments:
        st.caption("No tracker fired in this call.")
    for i, h in enumerate(moments):
        left, right = st.columns([1, 9])
        if left.button(f"▶ {fmt_time(h.start_s)}", key=f"call_moment_{i}",
                       help="Play the call from two seconds before this moment"):
            st.session_state[state_key] = max(0.0, h.start_s - 2)
            st.session_state[f"call_{call.id}_autoplay"] = True
            st.query_params["t"] = str(int(max(0.0, h.start_s - 2)))
            st.rerun()
        right.markdown(f"**{h.tracker}** · {h.speaker or 'unknown'}: {h.text}")
with tab_t:
    for u in transcript.utterances:
        left, right = st.columns([1, 9])
        if left.button(f"▶ {fmt_time(u.start_s)}", key=f"call_play_{u.index}",
                       help="Play the call from here"):
            st.session_state[state_key] = u.start_s
            st.session_state[f"call_{call.id}_autoplay"] = True
            st.query_params["t"] = str(int(u.start_s))
            st.rerun()
        who = speaker_tag(u.speaker, u.role)
        right.markdown(f"{who} {u.text}" if who else u.text)

speakers = transcript.speakers
speaker_by_id = {sp.id: sp for sp in speakers}


def speaker_name(speaker_id: int) -> str:
    return speaker_by_id[speaker_id].display


def changed(message: str) -> None:
    """After a speaker edit: forget what the speaker widgets hold (names, picks of speakers
    that may be gone), toast on the next run, and rerun so everything derived is redrawn."""
    for key in [k for k in st.session_state if str(k).startswith("spk_")]:
        del st.session_state[key]
    flash(message)
    st.rerun()


with tab_s:
    if not speakers:
        st.info("No speakers were found in this call, so there is nothing to rename or merge.")
    total_talk = sum(sp.talk_s for sp in speakers)
    voiceprints = lib.voiceprints() if any(sp.role == "rep" for sp in speakers) else {}
    for sp in speakers:
        share = sp.talk_s / total_talk if total_talk else 0.0
        with st.container(border=True, key=f"spk_card_{sp.id}"):
            head, stats = st.columns([3, 2], vertical_alignment="center")
            head.markdown(f"### {speaker_tag(sp.display, sp.role)}")
            stats.progress(share, text=f"talks {fmt_time(sp.talk_s)} · {share:.0%} of the call")
            with st.form(f"spk_form_{sp.id}", border=False):
                c_name, c_role, c_save = st.columns([4, 3, 2], vertical_alignment="bottom")
                name = c_name.text_input("Name", sp.name or "", key=f"spk_name_{sp.id}",
                                         placeholder="Type their name")
                role = c_role.selectbox(
                    "Role", ROLES, index=ROLES.index(sp.role) if sp.role in ROLES else None,
                    format_func=str.title, placeholder="No role yet", key=f"spk_role_{sp.id}")
                if c_save.form_submit_button("Save", key=f"spk_save_{sp.id}",
                                             width="stretch"):
                    try:
                        saved = lib.update_speaker(call.id, sp.id, name=name, role=role)
                    except ClipStudioError as exc:
                        st.error(str(exc))
                    else:
                        changed(f"Saved speaker {saved.display}")
            if sp.role == "rep":
                rep_name = sp.name or call.rep
                b_col, note_col = st.columns([2, 3], vertical_alignment="center")
                if b_col.button(
                    f"Remember this voice as {rep_name}" if rep_name
                    else "Remember this voice as a rep",
                    key=f"spk_enroll_{sp.id}", disabled=not rep_name,
                    icon=":material/record_voice_over:",
                    help=("Recognise this rep in other calls by this voice" if rep_name
                          else "Type the rep's name and save first"),
                ):
                    try:
                        lib.enroll_voiceprint(rep_name, call.id, sp.id)
                    except ClipStudioError as exc:
                        st.error(f"Could not remember this voice: {exc}")
                    else:
                        changed(f"Remembered {rep_name}'s voice")
                if rep_name and rep_name in voiceprints:
                    note_col.caption(f"{rep_name}'s voice is on file: new calls will "
                                     "recognise them.")

    if len(speakers) >= 2:
        ids = [sp.id for sp in speakers]
        st.subheader("Merge two speakers")
        st.caption("One person was split into two speakers? Give all of one's lines to the "
                   "other.")
        m_from, m_into, m_go = st.columns([4, 4, 2], vertical_alignment="bottom")
        source = m_from.selectbox("Merge this speaker", ids, index=None,
                                  format_func=speaker_name, placeholder="Pick a speaker",
                                  key="spk_merge_from")
        target = m_into.selectbox("into this one", ids, index=None, format_func=speaker_name,
                                  placeholder="Pick a speaker", key="spk_merge_into")
        if m_go.button("Merge", key="spk_merge", width="stretch",
                       disabled=source is None or target is None or source == target):
            try:
                lib.merge_speakers(call.id, source, target)
            except ClipStudioError as exc:
                st.error(str(exc))
            else:
                changed(f"Merged {speaker_name(source)} into {speaker_name(target)}")

        st.subheader("Move a line to another speaker")
        st.caption("A line given to the wrong person? Pick it and who really said it.")
        lines = {u.id: u for u in transcript.utterances}

        def line_label(utterance_id: int) -> str:
            u = lines[utterance_id]
            words = u.text.split()
            first = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
            return f"{fmt_time(u.start_s)} · {u.speaker or 'nobody'} – {first}"

        l_pick, l_to, l_go = st.columns([6, 2, 2], vertical_alignment="bottom")
        moved = l_pick.selectbox("Line", list(lines), index=None, format_func=line_label,
                                 placeholder="Pick a line (type to search)", key="spk_move_utt")
        to = l_to.selectbox("Was said by", ids, index=None, format_func=speaker_name,
                            placeholder="Pick a speaker", key="spk_move_to")
        if l_go.button("Move", key="spk_move", width="stretch",
                       disabled=moved is None or to is None):
            if lines[moved].speaker == speaker_name(to):
                st.info(f"That line is already {speaker_name(to)}'s.")
            else:
                try:
                    lib.move_utterance(call.id, moved, to)
                except ClipStudioError as exc:
                    st.error(str(exc))
                else:
                    changed(f"Moved the line at {fmt_time(lines[moved].start_s)} to "
                            f"{speaker_name(to)}")

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
            flash("Saved")
            st.rerun()
    st.caption(f"Source file: {call.source_name} · model {call.model} · added {call.created_at}")
