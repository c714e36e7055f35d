"""Settings: what the library listens for, what counts as the same word, what it tracks."""

import streamlit as st

from app_support import flash, open_library, show_flash
from clipstudio import ClipStudioError, trackers
from clipstudio.search import format_synonyms, set_synonyms, synonyms
from clipstudio.speakers import ROLES

st.set_page_config(page_title="Settings · ClipStudio", page_icon="⚙️", layout="wide")
lib = open_library()
st.title("Library settings")
show_flash()


def attempt(action, done: str) -> None:
    """Run one core change; say what happened (an error stays on screen)."""
    try:
        action()
    except ClipStudioError as exc:
        st.error(str(exc))
    else:
        flash(done)
        st.rerun()


st.subheader("Trackers")
st.caption("Saved searches run on every call; their hits are counted in the Library and "
           "marked on each call's timeline. Same query syntax as Search.")
for t in trackers.trackers(lib):
    with st.form(f"tracker_form_{t.id}"):
        c1, c2, c3 = st.columns([2, 6, 2])
        name = c1.text_input("Name", t.name, key=f"tracker_name_{t.id}")
        query = c2.text_input("Search", t.query, key=f"tracker_query_{t.id}")
        side = c3.selectbox("Said by", trackers.SIDES, index=trackers.SIDES.index(t.side),
                            key=f"tracker_side_{t.id}")
        b1, b2 = st.columns([1, 1])
        if b1.form_submit_button("Save", key=f"tracker_save_{t.id}"):
            attempt(lambda t=t, n=name, q=query, s=side: trackers.save_tracker(
                lib, n, q, s, tracker_id=t.id), f"Tracker {name!r} saved and re-run")
        if b2.form_submit_button("Delete", key=f"tracker_delete_{t.id}"):
            attempt(lambda t=t: trackers.delete_tracker(lib, t.id), f"Tracker {t.name!r} deleted")
with st.form("tracker_new"):
    c1, c2, c3 = st.columns([2, 6, 2])
    name = c1.text_input("New tracker", key="tracker_new_name", placeholder="Security review")
    query = c2.text_input("Search", key="tracker_new_query",
                          placeholder='"security review" OR "security team" OR SOC')
    side = c3.selectbox("Said by", trackers.SIDES, key="tracker_new_side")
    if st.form_submit_button("Add tracker", key="tracker_add"):
        attempt(lambda: trackers.save_tracker(lib, name, query, side),
                f"Tracker {name!r} added and run on every call")

st.subheader("Synonyms")
st.caption("One group a line, words or phrases separated by commas. Searching any of them "
           "finds all of them.")
with st.form("synonyms_form"):
    text = st.text_area("Synonym groups", format_synonyms(synonyms(lib)), height=180,
                        key="settings_synonyms")
    if st.form_submit_button("Save synonyms", key="settings_synonyms_save"):
        attempt(lambda: set_synonyms(lib, text), "Synonyms saved")

st.subheader("Vocabulary")
st.caption("Product, competitor and customer names the speech model should listen for "
           "(used for every new call).")
with st.form("vocabulary_form"):
    vocab = st.text_area("Names", ", ".join(lib.vocabulary()), key="settings_vocabulary")
    if st.form_submit_button("Save vocabulary", key="settings_vocabulary_save"):
        attempt(lambda: lib.set_vocabulary(vocab), "Vocabulary saved")

st.subheader("Stereo recordings")
with st.form("channels_form"):
    left_role, right_role = lib.channel_roles()
    c1, c2 = st.columns(2)
    left = c1.selectbox("Left channel is the", ROLES, index=ROLES.index(left_role),
                        key="settings_left")
    right = c2.selectbox("Right channel is the", ROLES, index=ROLES.index(right_role),
                         key="settings_right")
    if st.form_submit_button("Save channels", key="settings_channels_save"):
        attempt(lambda: lib.set_channel_roles(left, right),
                "Saved: applies to stereo calls added from now on")
