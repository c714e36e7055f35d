"""Clips: browse and filter the library's clips by skill, message, rating and rep; play,
edit, re-cut, duplicate or delete them."""

import streamlit as st

from app_support import (
    CALL_PAGE,
    CLIP_EDITOR_PAGE,
    attempt,
    md_escape,
    open_library,
    show_flash,
    speaker_tag,
)
from clipstudio import ClipStudioError
from clipstudio import clips as C
from clipstudio.models import RATINGS

st.set_page_config(page_title="Clips · ClipStudio", page_icon="🎬", layout="wide")
lib = open_library()
show_flash()
st.title("Clips")

skills = [t.name for t in C.tags(lib, "skill")]
messages = [t.name for t in C.tags(lib, "message")]
reps = [r["name"] for r in lib.reps()]
params = st.query_params
f1, f2, f3, f4, f5 = st.columns([3, 3, 2, 2, 2])
skill = f1.selectbox("Skill", skills, index=skills.index(params["skill"])
                     if params.get("skill") in skills else None, placeholder="any skill",
                     key="clips_skill")
message = f2.selectbox("Message", messages, index=None, placeholder="any message",
                       key="clips_message")
rating = f3.selectbox("Practice", RATINGS, index=None, placeholder="any rating",
                      key="clips_rating")
rep = f4.selectbox("Rep", reps, index=None, placeholder="all reps", key="clips_rep")
a_only = f5.checkbox("A-players only", key="clips_a_player")

query = st.text_input("Find clips", key="clips_query",
                      placeholder="words in a clip's title, notes or transcript: discount*")
try:
    found = C.list_clips(lib, skill=skill, message=message, rating=rating, rep=rep,
                         a_player=True if a_only else None, query=query)
except ClipStudioError as exc:
    st.error(str(exc))
    st.stop()
if skill:
    st.query_params["skill"] = skill
elif "skill" in st.query_params:
    del st.query_params["skill"]
st.caption(f"{len(found)} clip{'s' if len(found) != 1 else ''}")
if not found:
    st.info("No clips match. Cut one from a search hit or a call's transcript "
            "(✂ Cut a clip).")
    if st.button("Cut a clip", key="clips_new"):
        st.switch_page(CLIP_EDITOR_PAGE)

BADGE = {"good": ":green-badge[good practice]", "poor": ":red-badge[poor practice]",
         "neutral": ":gray-badge[neutral]"}


for clip in found:
    with st.container(border=True, key=f"clips_card_{clip.id}"):
        head, meta = st.columns([6, 3])
        head.markdown(f"**{md_escape(clip.title)}**  \n"
                      f"{BADGE[clip.rating]} · {md_escape(clip.rep or 'unknown rep')}"
                      f"{' ★ A-player' if clip.a_player else ''} · {clip.duration_s:.1f} s · "
                      f"from *{md_escape(clip.call_title)}*")
        tags = [f":violet-badge[{md_escape(s)}]" for s in clip.skills] + [
            f":green-badge[{md_escape(m)}]" for m in clip.messages]
        meta.markdown(" ".join(tags) or "no tags yet")
        try:
            st.audio(clip.path)
        except (FileNotFoundError, OSError):
            st.error(f"The clip's file is missing: {clip.path}. Re-cut it to make it again.")
        if clip.notes:
            st.caption(f"Notes: {clip.notes}")
        with st.expander("Transcript"):
            for line in C.clip_transcript(lib, clip):
                st.markdown(f"`{line.start_s:5.1f}s` {speaker_tag(line.speaker, line.role)} "
                            f"{md_escape(line.text)}")
        with st.expander("Edit"), st.form(f"clips_form_{clip.id}", border=False):
            title = st.text_input("Title", clip.title, key=f"clips_title_{clip.id}")
            c1, c2 = st.columns(2)
            new_skills = c1.multiselect("Skills", skills, default=list(clip.skills),
                                        key=f"clips_skills_{clip.id}")
            new_messages = c2.multiselect("Messages", messages, default=list(clip.messages),
                                          key=f"clips_messages_{clip.id}")
            new_rating = st.radio("Practice", RATINGS, index=RATINGS.index(clip.rating),
                                  horizontal=True, key=f"clips_rating_{clip.id}")
            notes = st.text_area("Trainer notes", clip.notes, key=f"clips_notes_{clip.id}")
            if st.form_submit_button("Save", key=f"clips_save_{clip.id}"):
                attempt(lambda c=clip, t=title, s=new_skills, m=new_messages, r=new_rating,
                        n=notes: C.update_clip(lib, c.id, title=t, skills=s, messages=m,
                                               rating=r, notes=n), "Clip saved")
        b1, b2, b3, b4 = st.columns(4)
        if b1.button("✂ Re-cut", key=f"clips_recut_{clip.id}",
                     help="Change where it starts and ends, its format or redactions"):
            st.switch_page(CLIP_EDITOR_PAGE, query_params={"clip": str(clip.id)})
        if b2.button("▶ In the call", key=f"clips_call_{clip.id}"):
            st.switch_page(CALL_PAGE, query_params={"call": str(clip.call_id),
                                                    "t": str(int(clip.start_s))})
        if b3.button("Duplicate", key=f"clips_copy_{clip.id}"):
            attempt(lambda c=clip: C.duplicate_clip(lib, c.id), "Clip duplicated")
        confirm = f"clips_confirm_{clip.id}"
        if b4.button("Delete", key=f"clips_delete_{clip.id}"):
            using = C.playlists_using(lib, clip.id)
            if using:
                st.session_state[confirm] = using
            else:
                attempt(lambda c=clip: C.delete_clip(lib, c.id), "Clip deleted")
        if st.session_state.get(confirm):
            st.warning("This clip is in playlist(s): "
                       f"{', '.join(st.session_state[confirm])}. Deleting it removes it "
                       "from them.")
            k1, k2 = st.columns(2)
            if k1.button("Delete anyway", key=f"clips_force_{clip.id}", type="primary"):
                del st.session_state[confirm]
                attempt(lambda c=clip: C.delete_clip(lib, c.id, force=True), "Clip deleted")
            if k2.button("Keep it", key=f"clips_keep_{clip.id}"):
                del st.session_state[confirm]
                st.rerun()
