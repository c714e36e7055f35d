"""Playlists: build onboarding playlists of clips in sections with a note each, reorder
them, make side-by-side comparisons (or take a suggested one), see each learner's
progress, and download the playlist as an offline HTML or SCORM package, M3U8, M4A, JSON
or CSV.

Every decision lives in ``clipstudio.playlists`` and ``clipstudio.export``. The URL carries
the playlist (``?playlist=ID``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_support import flash, fmt_time, md_escape, open_library, show_flash, speaker_tag
from clipstudio import ClipStudioError, clips, export, playlists
from clipstudio.models import Clip
from clipstudio.playlists import ClipView, Playlist, PlaylistItem

LEARN_PAGE = "pages/9_Learn.py"
FORMAT_LABELS = {"html": "HTML package (zip)", "scorm": "SCORM 1.2 (zip)", "m3u8": "M3U8",
                 "m4a": "M4A with chapters", "json": "JSON", "csv": "CSV"}

st.set_page_config(page_title="Playlists · ClipStudio", page_icon="🎧", layout="wide")
lib = open_library()
show_flash()
st.title("Playlists")
st.caption("Onboarding playlists: clips in sections with your notes, comparisons side by "
           "side, and how far each learner got.")


def done(message: str, reset: dict | None = None) -> None:
    """Toast ``message`` on the next run, which first sets the widgets in ``reset`` back
    (a widget's value can only be changed before it is drawn)."""
    flash(message)
    if reset:
        st.session_state["pl_reset"] = reset
    st.rerun()


for _key, _value in st.session_state.pop("pl_reset", {}).items():
    st.session_state[_key] = _value


def attempt(fn, *args, **kwargs):
    """Run a core call; show its error on the page (and return None) when it refuses."""
    try:
        return fn(*args, **kwargs)
    except ClipStudioError as exc:
        st.error(str(exc))
        return None


def clip_label(c: Clip) -> str:
    star = " ★" if c.a_player else ""
    return (f"#{c.id} · {c.title} · {c.rep or 'unknown rep'}{star} · {c.rating} · "
            f"{fmt_time(c.duration_s)}")


# Which playlist ----------------------------------------------------------------------------
found = playlists.list_playlists(lib)
ids = [p.id for p in found]
by_id = {p.id: p for p in found}
pending = st.session_state.pop("pl_select_next", None)
if pending in ids:
    st.session_state["pl_pick"] = pending
elif "pl_pick" not in st.session_state and st.query_params.get("playlist", "").isdigit():
    wanted = int(st.query_params["playlist"])
    if wanted in ids:
        st.session_state["pl_pick"] = wanted

c_pick, c_new = st.columns([3, 2], vertical_alignment="bottom")
chosen = c_pick.selectbox(
    "Playlist", ids, index=0 if ids else None, key="pl_pick",
    format_func=lambda i: by_id[i].title
                          + (f" · {by_id[i].audience}" if by_id[i].audience else ""),
    placeholder="No playlists yet: create one")
with c_new.popover("New playlist", icon=":material/playlist_add:", key="pl_new_pop",
                   width="stretch"):
    with st.form("pl_new_form", clear_on_submit=True, border=False):
        new_title = st.text_input("Title", key="pl_new_title",
                                  placeholder="Handling price objections")
        new_audience = st.text_input("Audience", key="pl_new_audience",
                                     placeholder="new AEs, week 1")
        new_desc = st.text_area("Description", key="pl_new_description", height=68)
        if st.form_submit_button("Create playlist", key="pl_new_create", type="primary"):
            made = attempt(playlists.create_playlist, lib, new_title,
                           description=new_desc, audience=new_audience)
            if made:
                st.session_state["pl_select_next"] = made.id
                done(f"Created playlist {made.title}")

if chosen is None:
    st.info("Create a playlist, then add clips to it. Clips are cut on the Call page.")
    st.stop()
st.query_params["playlist"] = str(chosen)
try:
    pl: Playlist = playlists.get_playlist(lib, chosen)
except ClipStudioError as exc:
    st.error(str(exc))
    st.stop()

sections = [s.name for s in pl.sections]
st.subheader(pl.title)
st.caption(" · ".join(x for x in (pl.audience, f"{len(pl.items)} items",
                                  fmt_time(pl.duration_s)) if x))
if pl.description:
    st.markdown(md_escape(pl.description))

with st.expander("Details", icon=":material/edit:", key=f"pl_details_{pl.id}"):
    with st.form(f"pl_edit_form_{pl.id}", border=False):
        e_title = st.text_input("Title", pl.title, key=f"pl_edit_title_{pl.id}")
        e_aud = st.text_input("Audience", pl.audience, key=f"pl_edit_audience_{pl.id}")
        e_desc = st.text_area("Description", pl.description, key=f"pl_edit_desc_{pl.id}")
        if st.form_submit_button("Save details", key=f"pl_edit_save_{pl.id}"):
            if attempt(playlists.update_playlist, lib, pl.id, title=e_title,
                       description=e_desc, audience=e_aud):
                done("Saved the playlist's details")
    sure = st.checkbox("Yes, delete this playlist and its learners' progress",
                       key=f"pl_delete_sure_{pl.id}")
    if st.button("Delete playlist", key=f"pl_delete_{pl.id}", disabled=not sure,
                 icon=":material/delete:"):
        playlists.delete_playlist(lib, pl.id)
        st.query_params.pop("playlist", None)
        st.session_state.pop("pl_pick", None)
        done(f"Deleted playlist {pl.title}")


# Comparison view ---------------------------------------------------------------------------

def render_columns(views: tuple[ClipView, ...], key: str) -> None:
    """Clips side by side: player, duration, rep talk share and questions, the trainer's
    note, and the transcript with speakers coloured by role."""
    for k, (col, view) in enumerate(zip(st.columns(len(views), border=True), views,
                                        strict=True)):
        c = view.clip
        with col:
            badge = " :orange-badge[★ A-player]" if c.a_player else ""
            rating = {"good": "green", "poor": "red"}.get(c.rating, "gray")
            st.markdown(f"**{md_escape(c.rep or 'Unknown rep')}**{badge} "
                        f":{rating}-badge[{c.rating}]  \n{md_escape(c.title)}")
            try:
                st.audio(c.path, format=export.AUDIO_MIME.get(Path(c.path).suffix, "audio/mpeg"))
            except (FileNotFoundError, OSError):
                st.error(f"The clip's file is missing: {c.path}")
            m1, m2, m3 = st.columns(3)
            m1.metric("Duration", fmt_time(view.duration_s))
            m2.metric("Rep talk", "unknown" if view.rep_talk_share is None
                      else f"{view.rep_talk_share:.0%}",
                      help="Time of the rep's words over the rep's and the customer's")
            m3.metric("Rep questions", len(view.rep_questions))
            if view.note:
                st.info(f"**What to notice:** {md_escape(view.note)}")
            if view.rep_questions:
                with st.expander("Rep questions", key=f"{key}_questions_{k}"):
                    for q in view.rep_questions:
                        st.markdown(f"- {md_escape(q)}")
            with st.container(height=260, key=f"{key}_transcript_{k}"):
                for line in view.lines:
                    who = speaker_tag(line.speaker or "Unknown", line.role)
                    st.markdown(f"`{fmt_time(line.start_s)}` {who} {md_escape(line.text)}")


def section_input(key: str, current: str | None, where=st) -> str | None:
    """An existing section (a select box), or a new one typed beside it; the typed one wins.
    ``None`` (no choice at all) lets the core put new items in the last section."""
    c_old, c_new = where.columns(2) if sections else (None, where)
    chosen = None
    if c_old is not None:
        chosen = c_old.selectbox("Section", sections, key=key, index=sections.index(current)
                                 if current in sections else None, placeholder="Pick one")
    typed = c_new.text_input("New section" if sections else "Section", key=f"{key}_new",
                             placeholder="e.g. Handling price")
    return typed.strip() or chosen


def edit_item(item: PlaylistItem) -> None:
    with st.popover("Edit", icon=":material/edit_note:", key=f"pl_edit_pop_{item.id}"):
        with st.form(f"pl_item_form_{item.id}", border=False):
            title = (st.text_input("Title", item.title, key=f"pl_title_{item.id}")
                     if item.is_comparison else None)
            note = st.text_area("Note (what to listen for)", item.note,
                                key=f"pl_note_{item.id}")
            section = section_input(f"pl_section_{item.id}", item.section)
            col_notes = None
            if item.is_comparison:
                col_notes = [st.text_input(f"What to notice in clip {k} "
                                           f"({c.rep or c.call_title})", n,
                                           key=f"pl_colnote_{item.id}_{k}")
                             for k, (c, n) in enumerate(zip(item.clips, item.clip_notes,
                                                            strict=True), 1)]
            if st.form_submit_button("Save", key=f"pl_item_save_{item.id}"):
                if attempt(playlists.update_item, lib, item.id, note=note, title=title,
                           section=section, clip_notes=col_notes):
                    done(f"Saved item {item.position}")


tab_build, tab_compare, tab_learners, tab_export = st.tabs(
    ["Build", "Comparisons", "Learners", "Export"], key="pl_tabs")

# Build: add clips, sections, reorder ------------------------------------------------------
with tab_build:
    all_clips = clips.list_clips(lib)
    st.markdown("#### Add clips")
    if not all_clips:
        st.info("No clips yet: cut some on the Call page (or `clipstudio clip CALL_ID ...`).")
    else:
        skills = [t.name for t in clips.tags(lib, "skill") if t.clips]
        f_skill, f_pick = st.columns([1, 3], vertical_alignment="bottom")
        skill = f_skill.selectbox("Skill", skills, index=None, key="pl_add_skill",
                                  placeholder="All skills")
        shown = clips.list_clips(lib, skill=skill) if skill else all_clips
        chosen_clips = f_pick.multiselect(
            "Clips", [c.id for c in shown], key="pl_add_clips",
            format_func=lambda i: clip_label(next(c for c in shown if c.id == i)),
            placeholder="Pick one or more clips")
        a_sec, a_note, a_go = st.columns([4, 4, 1], vertical_alignment="bottom")
        with a_sec:
            add_section = section_input("pl_add_section", sections[-1] if sections else None)
        add_note = a_note.text_input("Note", key="pl_add_note",
                                     placeholder="What to listen for, e.g. how she turns "
                                                 "price into cost of inaction")
        if a_go.button("Add", key="pl_add", type="primary", disabled=not chosen_clips,
                       width="stretch"):
            res = attempt(playlists.add_items, lib, pl.id, chosen_clips,
                          section=add_section, note=add_note)
            if res is not None:
                skipped = (f" ({len(res.skipped_clip_ids)} already there)"
                           if res.skipped_clip_ids else "")
                done(f"Added {len(res.added)} clip{'s' if len(res.added) != 1 else ''}"
                     + skipped, reset={"pl_add_clips": [], "pl_add_note": "",
                                       "pl_add_section_new": ""})

    st.markdown("#### Items")
    if not pl.items:
        st.caption("Nothing in this playlist yet.")
    for s_n, section in enumerate(pl.sections):
        h_name, h_up, h_down = st.columns([10, 1, 1], vertical_alignment="center")
        h_name.markdown(f"##### {md_escape(section.name) if section.name else '(no section)'}")
        if h_up.button("", key=f"pl_sec_up_{s_n}", icon=":material/keyboard_arrow_up:",
                       help="Move this section up", disabled=s_n == 0):
            playlists.move_section(lib, pl.id, section.name, -1)
            done(f"Moved section {section.name or '(no section)'} up")
        if h_down.button("", key=f"pl_sec_down_{s_n}", icon=":material/keyboard_arrow_down:",
                         help="Move this section down", disabled=s_n == len(pl.sections) - 1):
            playlists.move_section(lib, pl.id, section.name, 1)
            done(f"Moved section {section.name or '(no section)'} down")
        for item in section.items:
            with st.container(border=True, key=f"pl_item_{item.id}"):
                c_title, c_edit, c_up, c_down, c_rm = st.columns(
                    [12, 2, 1, 1, 1], vertical_alignment="center")
                kind = ":material/compare: Comparison · " if item.is_comparison else ""
                c_title.markdown(f"**{item.position}. {md_escape(item.title)}**  \n"
                                 f"{kind}{fmt_time(item.duration_s)}")
                with c_edit:
                    edit_item(item)
                if c_up.button("", key=f"pl_up_{item.id}", help="Move up",
                               icon=":material/arrow_upward:", disabled=item.position == 1):
                    playlists.move_item(lib, item.id, step=-1)
                    done(f"Moved {item.title} up")
                if c_down.button("", key=f"pl_down_{item.id}", help="Move down",
                                 icon=":material/arrow_downward:",
                                 disabled=item.position == len(pl.items)):
                    playlists.move_item(lib, item.id, step=1)
                    done(f"Moved {item.title} down")
                if c_rm.button("", key=f"pl_rm_{item.id}", help="Remove from the playlist",
                               icon=":material/close:"):
                    playlists.remove_item(lib, item.id)
                    done(f"Removed {item.title}")
                if item.note:
                    st.markdown(f":material/sticky_note_2: **Listen for:** "
                                f"{md_escape(item.note)}")
                if item.is_comparison:
                    render_columns(playlists.item_views(lib, item), f"pl_cmpview_{item.id}")
                else:
                    with st.expander("Listen and read", key=f"pl_listen_{item.id}"):
                        render_columns(playlists.item_views(lib, item),
                                       f"pl_clipview_{item.id}")

# Comparisons: make one, or take a suggestion ---------------------------------------------
with tab_compare:
    all_clips = clips.list_clips(lib)
    st.markdown("#### Make a comparison")
    st.caption("Two to four clips of the same situation side by side, typically an A-player "
               "beside an average or poor handling.")
    pick = st.multiselect("Clips (2 to 4)", [c.id for c in all_clips], key="pl_cmp_clips",
                          max_selections=4, placeholder="Pick the clips to compare",
                          format_func=lambda i: clip_label(
                              next(c for c in all_clips if c.id == i)))
    picked = [next(c for c in all_clips if c.id == i) for i in pick]
    col_notes = [st.text_input(f"What to notice in clip {k} ({md_escape(c.rep or '')})",
                               key=f"pl_cmp_note_{c.id}")
                 for k, c in enumerate(picked, 1)]
    m_title, m_sec = st.columns([3, 4])
    cmp_title = m_title.text_input("Title", key="pl_cmp_title",
                                   placeholder="Default: the shared skill and the reps")
    with m_sec:
        cmp_section = section_input("pl_cmp_section", sections[-1] if sections else None)
    cmp_note = st.text_input("Note", key="pl_cmp_note", placeholder="What to compare")
    if len(pick) == 1:
        st.caption("Pick at least one more clip.")
    shared = playlists.shared_skills(picked) if len(picked) >= 2 else ()
    if len(picked) >= 2 and not shared:
        st.warning("These clips share no skill tag. That is allowed, but a comparison works "
                   "best on the same situation.")
    if st.button("Add comparison", key="pl_cmp_go", type="primary",
                 disabled=not 2 <= len(pick) <= 4):
        item = attempt(playlists.add_comparison, lib, pl.id, pick, title=cmp_title,
                       note=cmp_note, clip_notes=col_notes, section=cmp_section)
        if item:
            done(f"Added comparison {item.title}",
                 reset={"pl_cmp_clips": [], "pl_cmp_title": "", "pl_cmp_note": "",
                        "pl_cmp_section_new": ""})

    st.markdown("#### Suggested comparisons")
    skill_names = [t.name for t in clips.tags(lib, "skill") if t.clips]
    sug_skill = st.selectbox("For the skill", skill_names, index=None, key="pl_sug_skill",
                             placeholder="Pick a skill")
    if sug_skill:
        suggestions = playlists.suggest_comparisons(lib, sug_skill)
        if not suggestions:
            st.caption("No pair yet: rate good handlings *good* (or mark their reps as "
                       "A-players) and weak ones *poor*.")
        for s in suggestions:
            with st.container(border=True, key=f"pl_sug_{s.model.id}_{s.poor.id}"):
                s_text, s_go = st.columns([6, 1], vertical_alignment="center")
                s_text.markdown(f"**{md_escape(s.reason)}**  \n"
                                f"{md_escape(s.model.title)}  \nvs "
                                f"{md_escape(s.poor.title)}")
                if s_go.button("Add", key=f"pl_sug_add_{s.model.id}_{s.poor.id}",
                               help="Add this pair as a comparison, A-player first"):
                    item = attempt(playlists.add_comparison, lib, pl.id, list(s.clip_ids),
                                   section=cmp_section)
                    if item:
                        done(f"Added comparison {item.title}")

# Learners: progress per learner ----------------------------------------------------------
with tab_learners:
    report = playlists.progress_report(lib, pl.id)
    st.page_link(LEARN_PAGE, label="Open the Learn page (for reps)", icon="🎓")
    if not report:
        st.caption("Nobody has started this playlist yet.")
    else:
        st.dataframe(
            [{"Learner": r.learner, "Done": r.fraction_done, "Items done": f"{r.done}/{r.total}",
              "Played": r.played, "Reflections": r.reflections,
              "Last activity": (r.last_activity or "").replace("T", " ").rstrip("Z")}
             for r in report],
            hide_index=True, key="pl_progress",
            column_config={"Done": st.column_config.ProgressColumn(
                "Done", min_value=0.0, max_value=1.0, format="percent")})
        who = st.selectbox("Read a learner's reflections", [r.learner for r in report],
                           index=None, key="pl_reflections_of", placeholder="Pick a learner")
        if who:
            prog = playlists.learner_progress(lib, pl.id, who)
            for i in prog.items:
                mark = "✅" if i.done else ("🎧" if i.played else "⬜")
                st.markdown(f"{mark} **{i.position}. {md_escape(i.title)}**"
                            + (f"  \n> {md_escape(i.reflection)}" if i.reflection else ""))

# Export: download buttons -----------------------------------------------------------------
with tab_export:
    st.caption("The HTML package works offline from disk in any browser; the SCORM package "
               "imports into an LMS, which then tracks completion (every item played). The "
               "M3U8 points at the clip files in this library.")
    if not pl.items:
        st.info("Add items first: there is nothing to export yet.")
    cols = st.columns(3)
    for n, fmt_name in enumerate(export.EXPORT_FORMATS):
        cols[n % 3].download_button(
            FORMAT_LABELS[fmt_name],
            data=lambda f=fmt_name: export.export_bytes(lib, pl.id, f),
            file_name=export.file_name(pl, fmt_name), mime=export.MIME_TYPES[fmt_name],
            key=f"pl_dl_{fmt_name}", on_click="ignore", disabled=not pl.items,
            icon=":material/download:", width="stretch")
