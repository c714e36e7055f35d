"""Learn: a rep plays a playlist in order. The player moves on by itself when an item has
been played to the end (auto-advance), the rep marks items done and writes a short
reflection on each, and the progress bar shows how far they are.

The player is a small bidirectional component: it shows the item as the offline package
does (``clipstudio.export.item_html``), plays its clips one after the other, and tells the
page when all of them have been played, which records the item as played and opens the next
one. The URL carries the learner and the playlist (``?learner=NAME&playlist=ID``).
"""

from __future__ import annotations

import streamlit as st

from app_support import flash, fmt_time, md_escape, open_library, show_flash
from clipstudio import ClipStudioError, export, playlists

st.set_page_config(page_title="Learn · ClipStudio", page_icon="🎓", layout="wide")
lib = open_library()
show_flash()
st.title("Learn")

PLAYER_JS = """
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".cs-root");
  if (!root) {
    root = document.createElement("div");
    root.className = "cs-root";
    parentElement.appendChild(root);
  }
  if (root.dataset.item === String(data.item)) { return; }
  root.dataset.item = String(data.item);
  root.innerHTML = data.html;
  const audios = Array.from(root.querySelectorAll("audio"));
  const played = new Set();
  let reported = false;
  function check() {
    if (!reported && played.size === audios.length) {
      reported = true;
      setTriggerValue("ended", data.item);
    }
  }
  audios.forEach((a, i) => {
    a.addEventListener("play", () => {
      audios.forEach((o) => { if (o !== a && !o.paused) { o.pause(); } });
    });
    a.addEventListener("timeupdate", () => {
      if (a.duration && a.currentTime >= a.duration - 0.5) { played.add(i); }
    });
    a.addEventListener("ended", () => {
      played.add(i);
      const next = audios.findIndex((_, k) => !played.has(k));
      if (next >= 0) { audios[next].play().catch(() => {}); } else { check(); }
    });
  });
  root.querySelectorAll("button.ts").forEach((b) => {
    b.addEventListener("click", () => {
      const a = b.closest(".col").querySelector("audio");
      a.currentTime = parseFloat(b.dataset.t);
      a.play().catch(() => {});
    });
  });
  if (data.autoplay && audios.length) { audios[0].play().catch(() => {}); }
}
"""
PLAYER_CSS = export.PAGE_CSS + """
.cs-root article.item { margin: 0; }
.cs-root article > h3, .cs-root article > .meta { display: none; }
"""
player = st.components.v2.component("clipstudio_learn_player", html="",
                                    css=PLAYER_CSS, js=PLAYER_JS)

found = playlists.list_playlists(lib)
if not found:
    st.info("There are no playlists yet. A trainer builds them on the Playlists page.")
    st.stop()
by_id = {p.id: p for p in found}

if "learn_name" not in st.session_state:
    st.session_state["learn_name"] = st.query_params.get("learner", "")
if "learn_playlist" not in st.session_state and st.query_params.get("playlist", "").isdigit():
    if int(st.query_params["playlist"]) in by_id:
        st.session_state["learn_playlist"] = int(st.query_params["playlist"])

c_name, c_pick = st.columns([2, 3])
name = c_name.text_input("Your name", key="learn_name", placeholder="e.g. Ana Ruiz")
pid = c_pick.selectbox("Playlist", list(by_id), key="learn_playlist",
                       format_func=lambda i: by_id[i].title
                       + (f" · {by_id[i].audience}" if by_id[i].audience else ""))
st.query_params["playlist"] = str(pid)
if not name.strip():
    st.info("Type your name to start: your progress and reflections are kept under it.")
    st.stop()
try:
    learner = playlists.learner_name(name)
    pl = playlists.get_playlist(lib, pid)
    prog = playlists.learner_progress(lib, pl.id, learner)
except ClipStudioError as exc:
    st.error(str(exc))
    st.stop()
st.query_params["learner"] = learner
if not pl.items:
    st.info("This playlist has no items yet.")
    st.stop()

state = {i.item_id: i for i in prog.items}
at_key = f"learn_at_{pl.id}_{learner}"
if st.session_state.get(at_key) not in state:
    st.session_state[at_key] = prog.next_item_id or pl.items[0].id
item = pl.item(st.session_state[at_key])
autoplay_key = f"learn_autoplay_{pl.id}_{learner}"


def go(item_id: int, autoplay: bool = False) -> None:
    st.session_state[at_key] = item_id
    st.session_state[autoplay_key] = autoplay
    st.rerun()


def neighbour(step: int) -> int | None:
    n = item.position - 1 + step
    return pl.items[n].id if 0 <= n < len(pl.items) else None


st.progress(prog.fraction_done,
            text=f"{prog.done} of {prog.total} done · {prog.played} played · "
                 f"{fmt_time(pl.duration_s)} in all")
if prog.done == prog.total:
    st.success("You have finished this playlist. Well done!")

c_list, c_main = st.columns([1, 3])
with c_list:
    st.markdown(f"**{md_escape(pl.title)}**")
    if pl.description:
        st.caption(pl.description)
    for section in pl.sections:
        if section.name:
            st.caption(section.name)
        for it in section.items:
            s = state[it.id]
            icon = (":material/check_circle:" if s.done else
                    ":material/headphones:" if s.played else ":material/radio_button_unchecked:")
            if st.button(f"{it.position}. {it.title}", key=f"learn_goto_{it.id}", icon=icon,
                         type="primary" if it.id == item.id else "tertiary",
                         help="Done" if s.done else ("Played" if s.played else "Not played yet"),
                         width="stretch"):
                go(it.id)

with c_main:
    cur = state[item.id]
    st.subheader(f"{item.position}. {item.title}")
    st.caption(("Comparison · " if item.is_comparison else "")
               + f"{fmt_time(item.duration_s)}"
               + (f" · {item.section}" if item.section else ""))
    auto = st.toggle("Auto-advance", value=True, key="learn_auto",
                     help="When an item has been played to the end, open the next one "
                          "and play it")
    try:
        views = playlists.item_views(lib, item)
        html = export.item_html(item, views, src=export.data_uri)
    except ClipStudioError as exc:
        st.error(str(exc))
        st.stop()
    result = player(key=f"learn_player_{item.id}",
                    data={"item": item.id, "html": html,
                          "autoplay": bool(st.session_state.pop(autoplay_key, False))},
                    on_ended_change=lambda: None)
    if result is not None and result.get("ended") == item.id:
        playlists.record_progress(lib, learner, item.id, played=True)
        nxt = neighbour(1)
        if auto and nxt is not None:
            flash(f"Played {item.position}. {item.title}; on to the next one",
                  ":material/headphones:")
            go(nxt, autoplay=True)
        flash(f"Played {item.position}. {item.title}", ":material/headphones:")
        st.rerun()

    b_prev, b_done, b_next = st.columns(3)
    prev_id, next_id = neighbour(-1), neighbour(1)
    if b_prev.button("Previous", key="learn_prev", icon=":material/skip_previous:",
                     disabled=prev_id is None, width="stretch"):
        go(prev_id)
    if cur.done:
        if b_done.button("Done ✓ (undo)", key="learn_undone", width="stretch"):
            playlists.record_progress(lib, learner, item.id, done=False)
            flash("Marked not done")
            st.rerun()
    elif b_done.button("Mark done", key="learn_done", type="primary",
                       icon=":material/check:", width="stretch"):
        playlists.record_progress(lib, learner, item.id, done=True)
        flash(f"Done: {item.position}. {item.title}")
        if next_id is not None:
            go(next_id, autoplay=auto)
        st.rerun()
    if b_next.button("Next", key="learn_next", icon=":material/skip_next:",
                     disabled=next_id is None, width="stretch"):
        go(next_id)

    with st.form(f"learn_reflection_form_{item.id}", border=True):
        text = st.text_area("Your reflection", cur.reflection,
                            key=f"learn_reflection_{item.id}", height=100,
                            max_chars=playlists.MAX_REFLECTION_CHARS,
                            placeholder="What did you notice? What will you try on your "
                                        "next call?")
        if st.form_submit_button("Save reflection", key=f"learn_save_{item.id}"):
            try:
                playlists.record_progress(lib, learner, item.id, reflection=text)
            except ClipStudioError as exc:
                st.error(str(exc))
            else:
                flash("Saved your reflection")
                st.rerun()
