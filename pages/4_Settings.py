"""Settings: what the library listens for, what counts as the same word, what it tracks."""

import streamlit as st

from app_support import attempt, open_library, show_flash
from clipstudio import clips as C
from clipstudio import trackers
from clipstudio.search import format_synonyms, set_synonyms, synonyms
from clipstudio.speakers import ROLES

st.set_page_config(page_title="Settings · ClipStudio", page_icon="⚙️", layout="wide")
lib = open_library()
st.title("Library settings")
show_flash()


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

st.subheader("Skills and messages")
st.caption("The taxonomies clips are tagged with. Skills are what a rep does well or badly; "
           "messages are your value propositions.")
for kind, label in (("skill", "Skills"), ("message", "Messages")):
    with st.expander(f"{label} ({len(C.tags(lib, kind))})"):
        for t in C.tags(lib, kind):
            with st.form(f"tag_form_{t.id}", border=False):
                c1, c2, c3, c4 = st.columns([3, 6, 1, 1], vertical_alignment="bottom")
                name = c1.text_input("Name", t.name, key=f"tag_name_{t.id}")
                description = c2.text_input("Description", t.description,
                                            key=f"tag_description_{t.id}")
                if c3.form_submit_button("Save", key=f"tag_save_{t.id}"):
                    attempt(lambda t=t, n=name, d=description: C.save_tag(
                        lib, t.kind, n, d, tag_id=t.id), f"Saved {name!r}")
                if c4.form_submit_button("Delete", key=f"tag_delete_{t.id}",
                                         help=f"{t.clips} clip(s) carry it; they lose the tag"):
                    attempt(lambda t=t: C.delete_tag(lib, t.id), f"Deleted {t.name!r}")
        with st.form(f"tag_new_{kind}"):
            c1, c2 = st.columns([3, 7])
            name = c1.text_input(f"New {kind}", key=f"tag_new_name_{kind}")
            description = c2.text_input("Description", key=f"tag_new_description_{kind}")
            if st.form_submit_button(f"Add {kind}", key=f"tag_add_{kind}"):
                attempt(lambda k=kind, n=name, d=description: C.save_tag(lib, k, n, d),
                        f"Added {kind} {name!r}")

st.subheader("Clips")
with st.form("clip_settings_form"):
    before, after = C.setting_pads(lib)
    c1, c2, c3 = st.columns(3)
    pad_before = c1.number_input("Padding before the first word (s)", 0.0, 5.0, before,
                                 step=0.1, key="settings_pad_before")
    pad_after = c2.number_input("Padding after the last word (s)", 0.0, 5.0, after, step=0.1,
                                key="settings_pad_after")
    max_s = c3.number_input("Longest clip (s)", 1.0, 7200.0, C.max_clip_s(lib), step=30.0,
                            key="settings_clip_max")
    if st.form_submit_button("Save clip settings", key="settings_clip_save"):
        attempt(lambda: C.set_clip_settings(lib, pad_before_s=pad_before, pad_after_s=pad_after,
                                            max_s=max_s), "Clip settings saved")
