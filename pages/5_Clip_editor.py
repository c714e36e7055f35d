"""Cut a clip: pick the first and last word in the transcript, preview, tag, rate, save.

Opened from a search hit or the Call page with ``?call=ID&t=SECONDS`` (the moment), or
with ``?clip=ID`` to re-cut and re-tag an existing clip. The range snaps to whole words
and gets padding when the clip is cut, so a trainer only chooses words.
"""

import streamlit as st

from app_support import (
    CALL_PAGE,
    CLIPS_PAGE,
    flash,
    fmt_time,
    open_library,
    show_flash,
    speaker_tag,
)
from clipstudio import ClipStudioError, NotFoundError
from clipstudio import clips as C
from clipstudio.models import CLIP_FORMATS, RATINGS

st.set_page_config(page_title="Clip editor · ClipStudio", page_icon="✂️", layout="wide")
lib = open_library()
show_flash()

params = st.query_params
editing = None
try:
    if params.get("clip"):
        editing = C.get_clip(lib, params["clip"])
        call = lib.call(editing.call_id)
    elif params.get("call"):
        call = lib.call(params["call"])
    else:
        call = None
except NotFoundError as exc:
    st.error(str(exc))
    st.stop()

if call is None:
    calls = lib.calls()
    if not calls:
        st.info("The library has no calls yet. Add recordings on the Home page.")
        st.stop()
    picked = st.selectbox("Cut a clip from", calls, format_func=lambda c: f"{c.id} · {c.title}",
                          key="clip_call_pick")
    st.query_params["call"] = str(picked.id)
    call = picked

st.title("Re-cut a clip" if editing else "Cut a clip")
st.caption(f"from **{call.title}** · {call.rep or 'unknown rep'}"
           f"{' ★ A-player' if call.a_player else ''} · {fmt_time(call.duration_s)}")

words = C.call_words(lib, call.id)
if not words:
    st.warning("This call has no transcribed words to cut a clip from.")
    st.stop()
by_index = {w.index: w for w in words}
order = [w.index for w in words]  # time order
pos = {i: n for n, i in enumerate(order)}

try:
    moment = float(params.get("t", 0))
except ValueError:
    moment = 0.0
tag = f"{call.id}_{editing.id if editing else 'new'}"
sel_key = f"clip_sel_{tag}"  # the chosen (first, last) word, kept outside the widget
if sel_key not in st.session_state:
    if editing:
        st.session_state[sel_key] = (editing.first_word, editing.last_word)
    else:  # the speaker's run of words at the moment, whole
        at = next((w for w in words if w.end_s >= moment), words[-1])
        run = []
        for i in order[pos[at.index]:]:
            if by_index[i].speaker != at.speaker or len(run) >= 60:
                break
            run.append(i)
        st.session_state[sel_key] = (run[0], run[-1]) if run else (at.index, at.index)
pending = st.session_state.pop(f"clip_pending_{tag}", None)
if pending:
    st.session_state[sel_key] = pending
    for key in [k for k in st.session_state if str(k).startswith(f"clip_range_{tag}")]:
        del st.session_state[key]  # the slider starts again from the new choice

first, last = st.session_state[sel_key]
whole = st.toggle("Show the whole call", key=f"clip_whole_{tag}",
                  value=call.duration_s <= 300)
if whole:
    window = order
else:  # two minutes around the choice keeps the slider precise
    lo_s = max(0.0, by_index[first].start_s - 45)
    hi_s = by_index[last].end_s + 75
    window = [i for i in order if lo_s <= by_index[i].start_s <= hi_s or i in (first, last)]


def word_label(i: int) -> str:
    w = by_index[i]
    return f"{fmt_time(w.start_s)} · {w.text}"


first, last = st.select_slider(
    "Clip from the first word to the last", options=window, value=(first, last),
    key=f"clip_range_{tag}_{window[0]}_{window[-1]}", format_func=word_label,
    help="Drag either end, or use Start/End on a transcript line below. The cut snaps to "
         "whole words and adds padding.")
if pos[first] > pos[last]:
    first, last = last, first
st.session_state[sel_key] = (first, last)
chosen = order[pos[first]:pos[last] + 1]
start_s = min(by_index[i].start_s for i in chosen)
end_s = max(by_index[i].end_s for i in chosen)

left, right = st.columns([3, 2])
with right:
    st.markdown(f"**Preview** · {fmt_time(start_s)}–{fmt_time(end_s)} "
                f"({end_s - start_s:.1f} s before padding)")
    try:
        st.audio(call.playback_path, format="audio/mpeg", start_time=int(start_s),
                 end_time=int(end_s) + 1)
    except (FileNotFoundError, OSError):
        st.error(f"The playback file for this call is missing: {call.playback_path}")
    redact_default = [i for a, b in (editing.redactions if editing else ())
                      for i in range(a, b + 1) if i in chosen]
    redact = st.multiselect(
        "Redact words (phone numbers, emails, names)", chosen, default=redact_default,
        format_func=word_label, key=f"clip_redact_{tag}",
        help="Bleeped or silenced in the audio and masked in the clip's transcript.")
    bleep = st.radio("Redacted words are", ["bleeped", "silenced"], horizontal=True,
                     key=f"clip_bleep_{tag}") == "bleeped"
    shown = " ".join(C.REDACTED if i in redact else by_index[i].text for i in chosen)
    st.markdown(f"> {shown}")

with left:
    st.markdown("**Transcript** · ⇤ starts the clip at a line, ⇥ ends it with a line")
    lines: list[list[int]] = []
    for i in window:
        if lines and by_index[lines[-1][-1]].speaker == by_index[i].speaker \
                and by_index[i].start_s - by_index[lines[-1][-1]].end_s < 1.5:
            lines[-1].append(i)
        else:
            lines.append([i])
    with st.container(height=420):
        for n, line in enumerate(lines):
            a, b = line[0], line[-1]
            inside = pos[a] <= pos[last] and pos[b] >= pos[first]
            c1, c2, c3 = st.columns([1, 1, 8])
            if c1.button("⇤", key=f"clip_start_{tag}_{n}", help="Start the clip at this line"):
                st.session_state[f"clip_pending_{tag}"] = (a, last if pos[last] >= pos[a]
                                                           else b)
                st.rerun()
            if c2.button("⇥", key=f"clip_end_{tag}_{n}", help="End the clip with this line"):
                st.session_state[f"clip_pending_{tag}"] = (first if pos[first] <= pos[b]
                                                           else a, b)
                st.rerun()
            w0 = by_index[a]
            text = " ".join(by_index[i].text for i in line)
            mark = "**" if inside else ""
            c3.markdown(f"`{fmt_time(w0.start_s)}` {speaker_tag(w0.speaker, w0.role)} "
                        f"{mark}{text}{mark}")

skills = [t.name for t in C.tags(lib, "skill")]
messages = [t.name for t in C.tags(lib, "message")]
with st.form(f"clip_form_{tag}"):
    title = st.text_input("Title", editing.title if editing else "", key=f"clip_title_{tag}",
                          placeholder="Leave empty to use the clip's first words")
    c1, c2 = st.columns(2)
    chosen_skills = c1.multiselect("Skills", skills,
                                   default=list(editing.skills) if editing else [],
                                   key=f"clip_skills_{tag}")
    chosen_messages = c2.multiselect("Messages", messages,
                                     default=list(editing.messages) if editing else [],
                                     key=f"clip_messages_{tag}")
    c3, c4, c5 = st.columns([3, 2, 2])
    rating = c3.radio("Practice", RATINGS, horizontal=True,
                      index=RATINGS.index(editing.rating if editing else "neutral"),
                      format_func=lambda r: {"good": "good practice", "poor": "poor practice",
                                             "neutral": "neutral"}[r],
                      key=f"clip_rating_{tag}")
    fmt_name = c4.selectbox("Format", CLIP_FORMATS,
                            index=CLIP_FORMATS.index(editing.format if editing else "mp3"),
                            key=f"clip_format_{tag}")
    stereo = c5.checkbox("Keep stereo", editing.stereo if editing else False,
                         disabled=call.channels < 2, key=f"clip_stereo_{tag}",
                         help="Stereo calls are mixed to balanced mono unless kept.")
    notes = st.text_area("Trainer notes", editing.notes if editing else "",
                         key=f"clip_notes_{tag}", placeholder="What to listen for")
    save = st.form_submit_button("Save changes" if editing else "✂ Cut and save clip",
                                 type="primary", key=f"clip_save_{tag}")

if save:
    ranges = [(i, i) for i in redact]
    try:
        with st.spinner("Cutting and normalising…"):
            if editing:
                clip = C.recut_clip(lib, editing.id, start_word=first, end_word=last,
                                    fmt_name=fmt_name, stereo=stereo, redact=ranges,
                                    bleep=bleep)
                clip = C.update_clip(lib, clip.id, title=title or editing.title, notes=notes,
                                     rating=rating, skills=chosen_skills,
                                     messages=chosen_messages)
            else:
                clip = C.make_clip(lib, call.id, start_word=first, end_word=last, title=title,
                                   skills=chosen_skills, messages=chosen_messages,
                                   rating=rating, notes=notes, fmt_name=fmt_name,
                                   stereo=stereo, redact=ranges, bleep=bleep)
    except C.MediaMissingError as exc:
        st.session_state["clip_missing"] = str(exc)
    except ClipStudioError as exc:
        st.error(str(exc))
    else:
        st.session_state["clip_last_saved"] = clip.id
        flash(f"Saved clip {clip.id}: {clip.title}")
        st.rerun()

missing = st.session_state.get("clip_missing")
if missing:
    st.error(missing)
    with st.form("clip_relink"):
        path = st.text_input("Path of a copy of the original recording", key="clip_relink_path")
        if st.form_submit_button("Re-link", key="clip_relink_go"):
            try:
                lib.relink_media(call.id, path)
            except ClipStudioError as exc:
                st.error(str(exc))
            else:
                del st.session_state["clip_missing"]
                flash("Re-linked: the recording is back, cut the clip again")
                st.rerun()

saved = st.session_state.get("clip_last_saved")
if saved:
    try:
        clip = C.get_clip(lib, saved)
    except NotFoundError:
        clip = None
    if clip is not None and clip.call_id == call.id:
        with st.container(border=True):
            st.markdown(f"**Saved:** {clip.title} · {clip.duration_s:.1f} s · {clip.rating}"
                        + (f" · {', '.join(clip.skills + clip.messages)}"
                           if clip.skills or clip.messages else ""))
            st.audio(clip.path)
            b1, b2 = st.columns(2)
            if b1.button("See all clips", key="clip_to_clips"):
                st.switch_page(CLIPS_PAGE)
            if b2.button("Back to the call", key="clip_to_call"):
                st.switch_page(CALL_PAGE, query_params={"call": str(call.id),
                                                        "t": str(int(clip.start_s))})
