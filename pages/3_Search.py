"""Search: every moment in the library that matches a query, grouped by call.

The query and filters live in the URL (``?q=...&role=customer``), so a search can be
shared; a hit opens the call two seconds before the moment.
"""

import streamlit as st

from app_support import CALL_PAGE, CLIP_EDITOR_PAGE, fmt_time, open_library
from clipstudio import ClipStudioError
from clipstudio.clips import tags as clip_tags
from clipstudio.models import OUTCOMES
from clipstudio.search import context, grouped
from clipstudio.speakers import ROLES

st.set_page_config(page_title="Search · ClipStudio", page_icon="🔎", layout="wide")
lib = open_library()
st.title("Search calls")

params = st.query_params
reps = [r["name"] for r in lib.reps()]
query = st.text_input(
    "Find moments", params.get("q", ""), key="search_q",
    placeholder='"too expensive"   price* role:customer   salesforse~   budget NOT renewal',
    help='Words are ANDed; quotes for exact phrases; OR, NOT, word~ (fuzzy), word* (prefix); '
         'fields: role:customer, rep:"Dana Lee", outcome:won, date:[2025-01-01 TO 2025-06-30].',
)
f1, f2, f3, f4 = st.columns(4)
role = f1.selectbox("Said by", ["anyone", *ROLES], key="search_role",
                    index=(["anyone", *ROLES].index(params["role"])
                           if params.get("role") in ROLES else 0))
rep = f2.selectbox("Rep", ["all reps", *reps], key="search_rep",
                   index=reps.index(params["rep"]) + 1 if params.get("rep") in reps else 0)
outcome = f3.selectbox("Outcome", ["any outcome", *OUTCOMES], key="search_outcome",
                       index=OUTCOMES.index(params["outcome"]) + 1
                       if params.get("outcome") in OUTCOMES else 0)
limit = f4.number_input("Show at most", 10, 500, int(params.get("limit", 50)), step=10,
                        key="search_limit")
tags = [t.name for t in clip_tags(lib)]
tag = st.selectbox("Only inside clips tagged", tags, key="search_tag",
                   placeholder="anywhere, in a clip or not",
                   index=tags.index(params["tag"]) if params.get("tag") in tags else None)

wanted = {"q": query.strip(), "role": role if role in ROLES else None,
          "rep": rep if rep in reps else None,
          "outcome": outcome if outcome in OUTCOMES else None, "tag": tag}
for key, value in wanted.items():  # mirror the search into the URL
    if value:
        st.query_params[key] = value
    elif key in st.query_params:
        del st.query_params[key]

if not wanted["q"]:
    st.info('Type what a customer or rep said, e.g. "too expensive" or "check with my boss".')
    st.stop()
try:
    result = lib.search(wanted["q"], role=wanted["role"], rep=wanted["rep"],
                        outcome=wanted["outcome"], tag=wanted["tag"], limit=int(limit))
except ClipStudioError as exc:
    st.error(str(exc))
    st.stop()

calls = grouped(result)
st.caption(f"{result.total} moment{'s' if result.total != 1 else ''} in {len(calls)} "
           f"call{'s' if len(calls) != 1 else ''}"
           + (f" · showing the best {len(result.hits)}" if len(result.hits) < result.total
              else ""))
if not result.total:
    st.warning("Nothing matches. Try fewer words, a prefix (price*) or a fuzzy word (~).")

COLOURS = {"rep": "blue", "customer": "orange"}
for group in calls:
    with st.container(border=True):
        st.markdown(f"**{group.title}** · {group.count} hit{'s' if group.count != 1 else ''}")
        for hit in group.hits:
            ctx = context(lib, hit, n=1)
            who = f":{COLOURS.get(hit.role, 'gray')}[**{hit.speaker or 'Unknown'}**]"
            left, right = st.columns([8, 2])
            with left:
                for u in ctx.before:
                    st.caption(f"{fmt_time(u.start_s)} {u.speaker or ''}: {u.text}")
                st.markdown(f"`{fmt_time(hit.start_s)}` {who} {hit.highlight}")
                for u in ctx.after:
                    st.caption(f"{fmt_time(u.start_s)} {u.speaker or ''}: {u.text}")
            key = f"{hit.call_id}_{hit.utterance_id}"
            moment = {"call": str(hit.call_id), "t": str(int(max(0.0, hit.start_s - 2)))}
            if right.button("▶ Play", key=f"search_play_{key}",
                            help="Open the call two seconds before this moment"):
                st.switch_page(CALL_PAGE, query_params=moment)
            if right.button("✂ Cut a clip", key=f"search_clip_{key}",
                            help="Open the clip editor at this moment"):
                st.switch_page(CLIP_EDITOR_PAGE, query_params={
                    "call": str(hit.call_id), "t": f"{hit.start_s:.2f}"})
