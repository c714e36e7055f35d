"""Playlists built from clips of the real sample calls: sections, order, comparisons with
their column figures, suggestions, learners' progress, the CLI, and both pages (AppTest,
started from Home.py).

The clips are cut once per module (real ffmpeg) into a copy of the sample library; every
test works on its own copy of that library.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from clipstudio import Library
from clipstudio import clips as C
from clipstudio import playlists as P
from clipstudio.cli import main
from clipstudio.errors import InputError, NotFoundError

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "Home.py")
PLAYLISTS_PAGE = "pages/7_Playlists.py"
LEARN_PAGE = "pages/9_Learn.py"
PRICE = "Objection handling: price"
DISCOVERY = "Discovery questions"


def _call(lib: Library, fragment: str):
    return next(c for c in lib.calls() if fragment in c.title)


def _hit(lib: Library, fragment: str, query: str):
    call = _call(lib, fragment)
    hits = lib.search(query, role="customer", call_id=call.id).hits
    assert hits, f"{query} not found in {fragment}"
    return call, hits[0]


def make_sample_clips(lib: Library) -> dict[str, int]:
    """The price objection handled well (Blue River, Marcus Reed, A-player) and poorly
    (Maple Health, Tom Baker), each with the rep's answer; a discovery question; and a
    neutral price moment from an average rep."""
    call, hit = _hit(lib, "Blue River", '"too expensive"')
    good = C.make_clip(lib, call.id, start_s=hit.start_s, end_s=hit.end_s + 20,
                       skills=[PRICE], rating="good", title="Blue River: asks before answering")
    call, hit = _hit(lib, "Maple Health", '"too expensive"')
    poor = C.make_clip(lib, call.id, start_s=hit.start_s, end_s=hit.end_s + 28,
                       skills=[PRICE], rating="poor", title="Maple Health: discounts at once")
    acme = _call(lib, "Acme")
    first_rep = next(u for u in lib.transcript(acme.id).utterances if u.role == "rep"
                     and "?" in u.text)
    disc = C.make_clip(lib, acme.id, start_s=first_rep.start_s, end_s=first_rep.end_s,
                       skills=[DISCOVERY], rating="good", title="Acme: why now")
    call, hit = _hit(lib, "Redwood", "Outreach")
    neutral = C.make_clip(lib, call.id, start_s=hit.start_s, end_s=hit.end_s,
                          skills=[PRICE], rating="neutral", title="Redwood: neutral")
    return {"good": good.id, "poor": poor.id, "disc": disc.id, "neutral": neutral.id}


@pytest.fixture(scope="module")
def clip_library(sample_library, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    src, _ = sample_library
    with sqlite3.connect(src / "clipstudio.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = tmp_path_factory.mktemp("playlists") / "library"
    shutil.copytree(src, root)
    lib = Library(root)
    ids = make_sample_clips(lib)
    with sqlite3.connect(root / "clipstudio.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return root, ids


@pytest.fixture
def lib_ids(clip_library, tmp_path) -> tuple[Library, dict[str, int]]:
    src, ids = clip_library
    dest = tmp_path / "library"
    shutil.copytree(src, dest)
    return Library(dest), ids


def price_playlist(lib: Library, ids: dict[str, int]) -> P.Playlist:
    pl = P.create_playlist(lib, "Handling price objections", audience="new AEs, week 1",
                           description="Turn price into value, never discount first")
    P.add_items(lib, pl.id, [ids["disc"]], section="Discovery", note="open questions first")
    P.add_items(lib, pl.id, [ids["good"], ids["poor"]], section="Handling price",
                note="listen for how he turns price into cost of inaction")
    P.add_comparison(lib, pl.id, [ids["good"], ids["poor"]],
                     clip_notes=["asks what the budget is for", "discounts three times"])
    return P.get_playlist(lib, pl.id)


def order(pl: P.Playlist) -> list[tuple[str, str]]:
    return [(i.section, i.title) for i in pl.items]


# building -------------------------------------------------------------------------------

def test_build_sections_notes_and_several_clips_at_once(lib_ids):
    lib, ids = lib_ids
    pl = price_playlist(lib, ids)
    assert [s.name for s in pl.sections] == ["Discovery", "Handling price"]
    assert [i.position for i in pl.items] == [1, 2, 3, 4]
    assert [i.kind for i in pl.items] == ["clip", "clip", "clip", "comparison"]
    assert pl.items[1].note == "listen for how he turns price into cost of inaction"
    assert pl.items[1].title == "Blue River: asks before answering"
    assert pl.audience == "new AEs, week 1"
    assert pl.duration_s == pytest.approx(sum(i.duration_s for i in pl.items))

    # adding to an existing section puts the clip at the end of that section
    res = P.add_items(lib, pl.id, [ids["neutral"], ids["disc"]], section="Discovery")
    assert [i.clips[0].id for i in res.added] == [ids["neutral"]]
    assert res.skipped_clip_ids == (ids["disc"],)  # already there
    pl = P.get_playlist(lib, pl.id)
    assert [i.title for i in pl.sections[0].items] == ["Acme: why now", "Redwood: neutral"]
    assert pl.items[1].title == "Redwood: neutral" and pl.items[1].position == 2

    # an unknown clip refuses the whole batch: nothing added
    with pytest.raises(NotFoundError, match="no clip 999"):
        P.add_items(lib, pl.id, [ids["good"], 999])
    assert len(P.get_playlist(lib, pl.id).items) == 5
    with pytest.raises(InputError, match="at least one clip"):
        P.add_items(lib, pl.id, [])

    # a clip may be in several playlists; deleting it is then refused, naming them
    other = P.create_playlist(lib, "Week 2")
    P.add_items(lib, other.id, [ids["good"]])
    assert C.playlists_using(lib, ids["good"]) == ["Handling price objections", "Week 2"]
    with pytest.raises(C.ClipInUseError, match="Handling price objections, Week 2"):
        C.delete_clip(lib, ids["good"])
    summaries = {s.title: s for s in P.list_playlists(lib)}
    assert summaries["Handling price objections"].items == 5
    assert summaries["Handling price objections"].comparisons == 1


def test_playlist_checks(lib_ids):
    lib, ids = lib_ids
    with pytest.raises(InputError, match="needs a title"):
        P.create_playlist(lib, "   ")
    pl = P.create_playlist(lib, "Price")
    with pytest.raises(InputError, match="already a playlist called"):
        P.create_playlist(lib, "price")
    with pytest.raises(NotFoundError, match="no playlist 42"):
        P.get_playlist(lib, 42)
    with pytest.raises(NotFoundError, match="playlist ids are numbers"):
        P.get_playlist(lib, "abc")
    with pytest.raises(InputError, match="keep it under"):
        P.add_items(lib, pl.id, [ids["good"]], note="x" * (P.MAX_NOTE_CHARS + 1))
    assert P.get_playlist(lib, pl.id).items == ()
    item = P.add_items(lib, pl.id, [ids["good"]]).added[0]
    with pytest.raises(InputError, match="rename the clip"):
        P.update_item(lib, item.id, title="New title")
    renamed = P.update_playlist(lib, pl.id, title="Price, week 1", audience="new AEs")
    assert (renamed.title, renamed.audience) == ("Price, week 1", "new AEs")
    P.delete_playlist(lib, pl.id)
    assert P.list_playlists(lib) == []
    assert C.get_clip(lib, ids["good"]).id == ids["good"]  # the clips stay


def test_reorder_items_and_sections(lib_ids):
    lib, ids = lib_ids
    pl = price_playlist(lib, ids)
    disc, good, poor, cmp_ = (i.id for i in pl.items)

    # "up" on a section's first item moves it to the end of the section above...
    pl = P.move_item(lib, good, step=-1)
    assert order(pl)[:2] == [("Discovery", "Acme: why now"),
                             ("Discovery", "Blue River: asks before answering")]
    # ...and a second "up" moves it within that section
    pl = P.move_item(lib, good, step=-1)
    assert [i.id for i in pl.items] == [good, disc, poor, cmp_]
    assert [s.name for s in pl.sections] == ["Discovery", "Handling price"]
    pl = P.move_item(lib, good, step=-1)  # already first: nothing moves
    assert [i.id for i in pl.items] == [good, disc, poor, cmp_]

    # to a position: into the middle of another section makes it part of that section
    pl = P.move_item(lib, disc, to=3)
    assert [i.id for i in pl.items] == [good, poor, disc, cmp_]
    assert [i.section for i in pl.items] == ["Discovery", "Handling price", "Handling price",
                                             "Handling price"]
    pl = P.move_item(lib, cmp_, to=1)  # to the top: the first section
    assert [i.id for i in pl.items] == [cmp_, good, poor, disc]
    assert pl.items[0].section == "Discovery"
    pl = P.move_item(lib, cmp_, to=99)  # clamped to the end
    assert pl.items[-1].id == cmp_ and pl.items[-1].position == 4

    pl = P.move_section(lib, pl.id, "Handling price", -1)
    assert [s.name for s in pl.sections] == ["Handling price", "Discovery"]
    assert [i.position for i in pl.items] == [1, 2, 3, 4]
    pl = P.rename_section(lib, pl.id, "Discovery", "Handling price")  # merge
    assert [s.name for s in pl.sections] == ["Handling price"]

    item = P.update_item(lib, poor, section="Bad habits", note="count the discounts")
    assert (item.section, item.note, item.position) == ("Bad habits", "count the discounts", 4)

    P.record_progress(lib, "Ana Ruiz", poor, played=True)
    P.remove_item(lib, poor)
    pl = P.get_playlist(lib, pl.id)
    assert [i.position for i in pl.items] == [1, 2, 3] and poor not in [i.id for i in pl.items]
    assert P.learner_progress(lib, pl.id, "Ana Ruiz").played == 0  # its progress went too
    with pytest.raises(InputError, match="up or down"):
        P.move_item(lib, good)
    with pytest.raises(NotFoundError, match="no playlist item"):
        P.move_item(lib, 9999, step=1)


# comparisons ----------------------------------------------------------------------------

def test_comparison_columns_show_the_difference(lib_ids):
    lib, ids = lib_ids
    pl = price_playlist(lib, ids)
    item = pl.items[-1]
    assert item.is_comparison
    assert item.title == (f"{PRICE} \u2014 Marcus Reed (A-player) vs Tom Baker (poor)")
    cmp_ = P.comparison(lib, item.id)
    assert cmp_.shared_skills == (PRICE,)
    good, poor = cmp_.columns
    assert (good.clip.rep, poor.clip.rep) == ("Marcus Reed", "Tom Baker")
    assert (good.note, poor.note) == ("asks what the budget is for", "discounts three times")
    # Marcus listens and asks; Tom talks and discounts (sample_calls/README.md)
    assert good.rep_talk_share is not None and poor.rep_talk_share is not None
    assert good.rep_talk_share < 0.6 < poor.rep_talk_share
    assert len(good.rep_questions) >= 2 and not poor.rep_questions
    assert all(q.endswith("?") for q in good.rep_questions)
    assert any("budget" in q for q in good.rep_questions)
    assert {line.role for line in good.lines} == {"rep", "customer"}
    assert good.duration_s == good.clip.duration_s
    assert "20" in " ".join(line.text for line in poor.lines)  # "20 % off right away"

    for bad in ([ids["good"]], [ids["good"], ids["poor"], ids["disc"], ids["neutral"], 77]):
        with pytest.raises(InputError, match=f"2 to 4 clips, not {len(bad)}"):
            P.add_comparison(lib, pl.id, bad)
    with pytest.raises(InputError, match="appears twice"):
        P.add_comparison(lib, pl.id, [ids["good"], ids["good"]])
    with pytest.raises(InputError, match="3 column notes for 2 clips"):
        P.add_comparison(lib, pl.id, [ids["good"], ids["poor"]], clip_notes=["a", "b", "c"])
    assert len(P.get_playlist(lib, pl.id).items) == 4  # nothing added by the refusals

    # different skills are allowed (the trainer decides), with no shared skill
    mixed = P.add_comparison(lib, pl.id, [ids["disc"], ids["good"], ids["poor"]],
                             title="Three openings")
    assert P.comparison(lib, mixed.id).shared_skills == ()
    assert len(mixed.clips) == 3 and mixed.title == "Three openings"
    changed = P.update_item(lib, mixed.id, clip_notes=["one", "two", "three"])
    assert changed.clip_notes == ("one", "two", "three")
    with pytest.raises(InputError, match="give 3 column notes"):
        P.update_item(lib, mixed.id, clip_notes=["one"])
    with pytest.raises(InputError, match="is a clip, not a comparison"):
        P.comparison(lib, pl.items[0].id)

    # force-deleting a compared clip leaves a comparison of one: it is removed
    C.delete_clip(lib, ids["poor"], force=True)
    kinds = [(i.kind, len(i.clips)) for i in P.get_playlist(lib, pl.id).items]
    assert kinds == [("clip", 1), ("clip", 1), ("comparison", 2)]


def test_suggest_comparisons_pairs_a_model_with_a_poor_handling(lib_ids):
    lib, ids = lib_ids
    found = P.suggest_comparisons(lib, PRICE.lower())
    assert [s.clip_ids for s in found] == [(ids["good"], ids["poor"])]
    s = found[0]
    assert s.skill == PRICE
    assert s.reason == "Marcus Reed (A-player and rated good) vs Tom Baker (rated poor)"
    assert P.suggest_comparisons(lib, DISCOVERY) == []  # nothing rated poor
    with pytest.raises(InputError, match="no skill called"):
        P.suggest_comparisons(lib, "Juggling")
    # an A-player's clip rated poor is a poor handling, not a model
    C.update_clip(lib, ids["good"], rating="poor")
    assert P.suggest_comparisons(lib, PRICE) == []


# learners -------------------------------------------------------------------------------

def test_learner_progress_and_trainer_report(lib_ids):
    lib, ids = lib_ids
    pl = price_playlist(lib, ids)
    first, second = pl.items[0].id, pl.items[1].id
    assert P.progress_report(lib, pl.id) == []
    P.record_progress(lib, "  Ana   Ruiz ", first, played=True)
    got = P.record_progress(lib, "Ana Ruiz", first, done=True,
                            reflection="She asked why now before pitching.")
    assert (got.played, got.done, got.reflection) == (True, True,
                                                      "She asked why now before pitching.")
    P.record_progress(lib, "Ana Ruiz", second, played=True)
    P.record_progress(lib, "Ben Cole", first, played=True)

    prog = P.learner_progress(lib, pl.id, "Ana Ruiz")
    assert (prog.done, prog.played, prog.total) == (1, 2, 4)
    assert prog.fraction_done == 0.25
    assert prog.next_item_id == second
    rows = {r.learner: r for r in P.progress_report(lib, pl.id)}
    assert list(rows) == ["Ana Ruiz", "Ben Cole"]  # most done first
    assert (rows["Ana Ruiz"].done, rows["Ana Ruiz"].played, rows["Ana Ruiz"].reflections) == (
        1, 2, 1)
    assert (rows["Ben Cole"].done, rows["Ben Cole"].played) == (0, 1)
    assert P.learners(lib) == ["Ana Ruiz", "Ben Cole"]

    # undo keeps the rest; a too-long reflection is refused and the old one kept
    P.record_progress(lib, "Ana Ruiz", first, done=False)
    with pytest.raises(InputError, match="a few sentences"):
        P.record_progress(lib, "Ana Ruiz", first, reflection="x" * 5000)
    again = P.learner_progress(lib, pl.id, "Ana Ruiz").items[0]
    assert (again.played, again.done, again.reflection) == (
        True, False, "She asked why now before pitching.")
    with pytest.raises(InputError, match="needs a name"):
        P.record_progress(lib, "  ", first, played=True)
    P.delete_playlist(lib, pl.id)
    assert P.learners(lib) == []


# CLI ------------------------------------------------------------------------------------

def run_cli(capsys, lib: Library, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--library", str(lib.root)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_builds_shows_and_exports_a_playlist(lib_ids, capsys, tmp_path):
    lib, ids = lib_ids
    code, out, _ = run_cli(capsys, lib, "playlist", "create", "Handling price objections",
                           "--audience", "new AEs, week 1", "--json")
    assert code == 0
    made = json.loads(out)
    assert made == {"playlist_id": made["playlist_id"], "title": "Handling price objections"}
    pid = str(made["playlist_id"])

    code, out, _ = run_cli(capsys, lib, "playlist", "add", pid, str(ids["good"]),
                           str(ids["poor"]), "--section", "Handling price", "--note",
                           "cost of inaction")
    assert code == 0 and "added 2 clips" in out and "== Handling price ==" in out
    code, out, _ = run_cli(capsys, lib, "playlist", "add", pid, str(ids["disc"]),
                           str(ids["good"]), "--section", "Discovery")
    assert "added 1 clip; skipped clip" in out
    code, out, _ = run_cli(capsys, lib, "playlist", "compare", pid, str(ids["good"]),
                           str(ids["poor"]), "--clip-note", "asks", "--clip-note", "discounts",
                           "--section", "Handling price")
    assert code == 0 and "added comparison item" in out
    assert "notice: asks" in out and "rep talks" in out

    code, out, err = run_cli(capsys, lib, "playlist", "compare", pid, str(ids["good"]))
    assert code == 2 and "2 to 4 clips, not 1" in err and not out

    code, out, _ = run_cli(capsys, lib, "playlist", "show", pid, "--json")
    shown = json.loads(out)
    assert shown["sections"] == ["Handling price", "Discovery"]
    assert [i["kind"] for i in shown["items"]] == ["clip", "clip", "comparison", "clip"]
    assert [c["clip_id"] for c in shown["items"][2]["clips"]] == [ids["good"], ids["poor"]]
    assert shown["items"][2]["clips"][0]["note"] == "asks"
    cmp_item = shown["items"][2]["item_id"]
    disc_item = shown["items"][3]["item_id"]

    code, out, _ = run_cli(capsys, lib, "playlist", "move", str(disc_item), "--to", "1")
    assert code == 0 and out.index("== Discovery ==") < out.index("== Handling price ==")
    code, out, _ = run_cli(capsys, lib, "playlist", "move", str(cmp_item), "--up", "--json")
    assert [i["kind"] for i in json.loads(out)["items"]] == ["clip", "clip", "comparison",
                                                             "clip"]

    code, out, _ = run_cli(capsys, lib, "playlist", "progress", pid, "--learner", "Ana",
                           "--item", str(cmp_item), "--played", "--done", "--reflection",
                           "asks first")
    assert code == 0 and "Ana: 1 of 4 done, 1 played" in out and "asks first" in out
    code, out, _ = run_cli(capsys, lib, "playlist", "progress", pid, "--json")
    assert json.loads(out)[0] | {"last_activity": None} == {
        "learner": "Ana", "done": 1, "played": 1, "total": 4, "reflections": 1,
        "last_activity": None}

    code, out, _ = run_cli(capsys, lib, "playlist", "suggest", PRICE)
    assert f"clips {ids['good']} + {ids['poor']}" in out

    dest = tmp_path / "price.json"
    code, out, _ = run_cli(capsys, lib, "export", "playlist", pid, "--format", "json",
                           "--out", str(dest))
    assert code == 0 and f"wrote {dest}" in out
    assert json.loads(dest.read_text())["title"] == "Handling price objections"

    code, out, _ = run_cli(capsys, lib, "playlist", "remove", str(cmp_item))
    assert code == 0 and f"removed item {cmp_item}" in out and "COMPARE" not in out
    code, _, err = run_cli(capsys, lib, "playlist", "show", "999")
    assert code == 2 and "no playlist 999" in err
    code, _, err = run_cli(capsys, lib, "export", "playlist", pid, "--format", "csv",
                           "--out", str(tmp_path / "missing" / "x.csv"))
    assert code == 2 and "does not exist" in err


# pages ----------------------------------------------------------------------------------

def start(monkeypatch, library: Path, page: str) -> AppTest:
    monkeypatch.setenv("CLIPSTUDIO_LIBRARY", str(library))
    at = AppTest.from_file(HOME, default_timeout=60)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_playlists_page_builds_a_price_playlist_with_a_comparison(monkeypatch, lib_ids):
    lib, ids = lib_ids
    at = start(monkeypatch, lib.root, PLAYLISTS_PAGE)
    assert "Create a playlist" in " ".join(i.value for i in at.info)
    at.text_input(key="pl_new_title").input("Handling price objections")
    at.text_input(key="pl_new_audience").input("new AEs, week 1")
    ok(at.button(key="pl_new_create").click().run())
    pl = P.list_playlists(lib)[0]
    assert (pl.title, pl.audience) == ("Handling price objections", "new AEs, week 1")
    assert at.selectbox(key="pl_pick").value == pl.id
    assert at.query_params.get("playlist") == str(pl.id)

    # add both price clips at once, filtered by skill, into a new section with a note
    at.selectbox(key="pl_add_skill").set_value(PRICE).run()
    options = at.multiselect(key="pl_add_clips").options
    assert len(options) == 3 and not any("Acme" in o for o in options)
    at.multiselect(key="pl_add_clips").set_value([ids["good"], ids["poor"]]).run()
    at.text_input(key="pl_add_section_new").input("Handling price")
    at.text_input(key="pl_add_note").input("cost of inaction")
    ok(at.button(key="pl_add").click().run())
    at.selectbox(key="pl_add_skill").set_value(None).run()
    at.multiselect(key="pl_add_clips").set_value([ids["disc"]]).run()
    at.text_input(key="pl_add_section_new").input("Discovery")
    ok(at.button(key="pl_add").click().run())
    items = P.get_playlist(lib, pl.id).items
    assert [(i.section, i.clips[0].id) for i in items] == [
        ("Handling price", ids["good"]), ("Handling price", ids["poor"]),
        ("Discovery", ids["disc"])]
    assert items[0].note == "cost of inaction"

    # reorder: the discovery clip up twice (into the price section, then within it)
    ok(at.button(key=f"pl_up_{items[2].id}").click().run())
    ok(at.button(key=f"pl_up_{items[2].id}").click().run())
    assert [i.id for i in P.get_playlist(lib, pl.id).items] == [
        items[0].id, items[2].id, items[1].id]
    assert at.button(key=f"pl_up_{items[0].id}").disabled  # the first cannot go up
    ok(at.button(key=f"pl_rm_{items[2].id}").click().run())
    assert len(P.get_playlist(lib, pl.id).items) == 2

    # a comparison from the suggestions, then one made by hand with column notes
    at.selectbox(key="pl_sug_skill").set_value(PRICE).run()
    ok(at.button(key=f"pl_sug_add_{ids['good']}_{ids['poor']}").click().run())
    at.multiselect(key="pl_cmp_clips").set_value([ids["good"], ids["neutral"]]).run()
    at.text_input(key=f"pl_cmp_note_{ids['good']}").input("asks what the budget is for")
    at.text_input(key=f"pl_cmp_note_{ids['neutral']}").input("no question")
    at.text_input(key="pl_cmp_title").input("Budget <questions>")
    ok(at.button(key="pl_cmp_go").click().run())
    items = P.get_playlist(lib, pl.id).items
    assert [i.kind for i in items] == ["clip", "clip", "comparison", "comparison"]
    assert items[3].title == "Budget <questions>"
    assert items[3].clip_notes == ("asks what the budget is for", "no question")

    # the comparison view: a column per clip with its figures and notes
    metrics = {(m.label, m.value) for m in at.metric}
    good = P.comparison(lib, items[2].id).columns[0]
    assert ("Rep talk", f"{good.rep_talk_share:.0%}") in metrics
    assert ("Rep questions", str(len(good.rep_questions))) in metrics
    assert any("What to notice" in i.value and "asks what the budget" in i.value
               for i in at.info)
    text = " ".join(m.value for m in at.markdown)
    assert "Budget \\<questions\\>" in text  # shown literally, not as markup
    assert ":blue[**Marcus Reed**]" in text and ":orange[**Customer**]" in text

    # one learner's progress shows in the Learners tab
    P.record_progress(lib, "Ana Ruiz", items[0].id, played=True, done=True,
                      reflection="asks first")
    ok(at.run())
    table = at.dataframe[0].value
    assert list(table["Learner"]) == ["Ana Ruiz"]
    assert list(table["Items done"]) == ["1/4"]
    at.selectbox(key="pl_reflections_of").set_value("Ana Ruiz").run()
    assert any("asks first" in m.value for m in at.markdown)

    # the export buttons: one per format
    print("DL", at.get("download_button"))


def test_learn_page_plays_marks_done_and_reflects(monkeypatch, lib_ids):
    lib, ids = lib_ids
    pl = price_playlist(lib, ids)
    at = start(monkeypatch, lib.root, LEARN_PAGE)
    assert "Type your name" in " ".join(i.value for i in at.info)
    at.text_input(key="learn_name").input("Ana Ruiz").run()
    ok(at)
    assert at.selectbox(key="learn_playlist").value == pl.id
    assert at.query_params.get("learner") == "Ana Ruiz"
    assert at.subheader[0].value == f"1. {pl.items[0].title}"
    assert at.button(key="learn_prev").disabled
    assert at.get("progress")[0].proto.text.startswith("0 of 4 done")

    ok(at.button(key="learn_done").click().run())
    assert at.subheader[0].value == f"2. {pl.items[1].title}"  # moved on
    prog = P.learner_progress(lib, pl.id, "Ana Ruiz")
    assert (prog.done, prog.items[0].done) == (1, True)
    assert at.get("progress")[0].proto.text.startswith("1 of 4 done")

    at.text_area(key=f"learn_reflection_{pl.items[1].id}").input("He asks about the budget.")
    ok(at.button(key=f"learn_save_{pl.items[1].id}").click().run())
    assert P.learner_progress(lib, pl.id, "Ana Ruiz").items[1].reflection == (
        "He asks about the budget.")

    ok(at.button(key=f"learn_goto_{pl.items[3].id}").click().run())
    assert at.subheader[0].value == f"4. {pl.items[3].title}"
    assert at.button(key="learn_next").disabled
    ok(at.button(key="learn_prev").click().run())
    assert at.subheader[0].value == f"3. {pl.items[2].title}"
    for item in pl.items:
        P.record_progress(lib, "Ana Ruiz", item.id, done=True)
    ok(at.run())
    assert "finished this playlist" in " ".join(s.value for s in at.success)
