"""Search over the real sample library: real whoosh index, real SQLite, real processes.

Expected matches come from the scripts' truth (``sample_calls/truth``), restricted to
phrases the tiny.en transcripts get right, so a test failing here means search is wrong,
not the transcription.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.index import LockError

from clipstudio import InputError, Library
from clipstudio.search import (
    DEFAULT_SYNONYMS,
    INDEX_DIRNAME,
    JOURNAL_FILE,
    META_FILE,
    SearchIndex,
    context,
    format_synonyms,
    grouped,
    parse_synonyms,
    set_synonyms,
    synonyms,
    to_json,
)

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT / "sample_calls" / "truth"


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def truth_roles(phrase: str) -> dict[str, Counter]:
    """{recording file name: Counter of roles of the script turns that say ``phrase``}."""
    out: dict[str, Counter] = {}
    for f in sorted(TRUTH.glob("*.json")):
        t = json.loads(f.read_text())
        for turn in t["turns"]:
            if f" {_norm(phrase)} " in f" {_norm(turn['text'])} ":
                out.setdefault(t["file"], Counter())[turn["role"]] += 1
    return out


@pytest.fixture
def lib(library_copy) -> Library:
    shutil.rmtree(library_copy / "index")  # ingest built one; these tests start without
    return Library(library_copy)


@pytest.fixture
def si(lib) -> SearchIndex:
    with SearchIndex(lib) as s:
        yield s


def sqlite_count(lib: Library) -> int:
    return lib.db.execute("SELECT COUNT(*) FROM utterances").fetchone()[0]


def ids(result) -> set[int]:
    return {h.utterance_id for h in result.hits}


def index_state(si: SearchIndex) -> dict[int, tuple]:
    """Every indexed utterance as (speaker, role, text), read straight from whoosh."""
    with whoosh_index.open_dir(str(si.dir)).searcher() as s:
        return {int(f["utterance_id"]): (f.get("speaker"), f.get("role"), f["text"])
                for f in s.all_stored_fields()}


def sqlite_state(lib: Library) -> dict[int, tuple]:
    return {u.id: (u.speaker, u.role, u.text)
            for c in lib.calls() for u in lib.transcript(c.id).utterances}


# building and the query language ---------------------------------------------------------
def test_first_open_builds_the_index_from_sqlite(lib, si):
    assert si.last_repair in ("missing", "schema")
    assert si.doc_count() == sqlite_count(lib) > 100
    assert index_state(si) == sqlite_state(lib)
    assert json.loads((si.dir / META_FILE).read_text())["schema_version"] >= 1
    again = SearchIndex(lib)  # in step now: nothing to do
    assert again.last_repair is None and again.doc_count() == si.doc_count()


@pytest.mark.parametrize("phrase", [
    "too expensive", "over budget", "we already use outreach", "check with my boss",
    "next quarter", "it is too expensive",
])
def test_phrase_finds_every_utterance_that_says_it(lib, si, phrase):
    expected = truth_roles(phrase)
    assert expected, f"no script turn says {phrase!r}"
    result = si.search(f'"{phrase}"', expand_synonyms=False)
    files = {c.id: Path(c.media_path).name for c in lib.calls()}
    names = {c.id: c.source_name for c in lib.calls()}
    got: dict[str, Counter] = {}
    for h in result.hits:
        got.setdefault(names[h.call_id], Counter())[h.role] += 1
        assert f" {_norm(phrase)} " in f" {_norm(h.text)} "
    assert got == expected, (files, result)
    assert result.total == sum(sum(c.values()) for c in expected.values())


def test_phrase_keeps_stop_words_exact(si):
    both = si.search('"is too expensive"', expand_synonyms=False)
    only = si.search('"it is too expensive"', expand_synonyms=False)
    assert len({h.call_id for h in both.hits}) == 2
    assert only.total == 1 and "it is too expensive" in only.hits[0].text
    # the words alone, not as a phrase, are found in far more places
    assert si.search("it is too", expand_synonyms=False).total > only.total


def test_inflected_forms_match(si):
    price = si.search("price", expand_synonyms=False, limit=None)
    texts = " ".join(h.text.lower() for h in price.hits)
    assert "pricing" in texts and re.search(r"\bprice\b", texts)
    assert ids(price) == ids(si.search("pricing", expand_synonyms=False, limit=None))
    assert any("expensive" in h.text for h in si.search("expense", expand_synonyms=False).hits)
    # porter2, not whoosh's buggy porter: "ramped" and "ramp" share a stem
    ramp = si.search("ramped", expand_synonyms=False, limit=None)
    assert any(re.search(r"\bramp\b", h.text) for h in ramp.hits)


def test_fuzzy_prefix_or_not(si):
    outreach = ids(si.search("outreach", limit=None))
    assert si.search("outrech", expand_synonyms=False).total == 0
    assert ids(si.search("outrech~", limit=None)) == outreach
    assert any("pricing" in h.text for h in si.search("pric*", limit=None).hits)
    without = si.search("outreach NOT recording", limit=None)
    assert without.hits and all("recording" not in h.text.lower() for h in without.hits)
    assert ids(without) < outreach
    assert ids(si.search("outreach -recording", limit=None)) == ids(without)
    boss = ids(si.search("boss", expand_synonyms=False, limit=None))
    either = ids(si.search("boss OR outreach", expand_synonyms=False, limit=None))
    assert either == boss | outreach
    both = si.search("outreach recording", limit=None)  # AND by default
    assert all("outreach" in h.text.lower() and "record" in h.text.lower() for h in both.hits)


def test_field_filters_in_the_query_and_as_arguments(lib, si):
    calls = {c.id: c for c in lib.calls()}
    cust = si.search("role:customer budget", limit=None)
    assert cust.hits and all(h.role == "customer" for h in cust.hits)
    assert ids(cust) == ids(si.search("budget", role="customer", limit=None))
    assert ids(cust) < ids(si.search("budget", limit=None))

    dana = si.search('rep:"Dana Lee" quarter', limit=None)
    assert dana.hits and {calls[h.call_id].rep for h in dana.hits} == {"Dana Lee"}
    assert ids(dana) == ids(si.search("quarter", rep="dana lee", limit=None))

    won = si.search("outcome:won budget", limit=None)
    assert won.hits and {calls[h.call_id].outcome for h in won.hits} == {"won"}
    assert ids(won) == ids(si.search("budget", outcome="won", limit=None))

    h1 = si.search("date:[2025-01-01 TO 2025-06-30] customer", limit=None)
    dates = {calls[h.call_id].call_date for h in h1.hits}
    assert dates and all("2025-01-01" <= d <= "2025-06-30" for d in dates)
    assert len(dates) < len({c.call_date for c in calls.values()})
    args = si.search("customer", date_from="2025-01-01", date_to="2025-06-30", limit=None)
    assert ids(args) == ids(h1)
    assert si.search("tags:pricing").total == 0  # the field exists, empty until tags arrive
    with pytest.raises(InputError):
        si.search("budget", outcome="maybe")
    with pytest.raises(InputError):
        si.search("budget", date_from="2025-07-01", date_to="2025-01-01")


def test_synonyms_expand_and_are_editable(lib, si):
    assert synonyms(lib) == DEFAULT_SYNONYMS
    pricey = si.search("pricey", limit=None)  # nobody says "pricey"; the group does the work
    assert ids(si.search('"too expensive"', expand_synonyms=False)) <= ids(pricey)
    assert ids(si.search('"over budget"', expand_synonyms=False)) <= ids(pricey)
    assert si.search("pricey", expand_synonyms=False).total == 0
    assert any("**over budget**" in h.highlight for h in pricey.hits)

    set_synonyms(lib, "mutiny, revolt\nincumbent tool, outreach")
    assert synonyms(lib) == [["mutiny", "revolt"], ["incumbent tool", "outreach"]]
    assert any("revolt" in h.text for h in si.search("mutiny").hits)
    outreach = ids(si.search("outreach", expand_synonyms=False, limit=None))
    assert ids(si.search('"incumbent tool"', limit=None)) == outreach
    assert ids(si.search("incumbent tool", limit=None)) == outreach  # unquoted run too
    assert si.search("pricey").total == 0  # the defaults were replaced
    assert parse_synonyms(format_synonyms(synonyms(lib))) == synonyms(lib)
    for bad in (["lonely"], [["only one"]], "x", [[1, 2]]):
        with pytest.raises(InputError):
            set_synonyms(lib, bad)


@pytest.mark.parametrize("bad", [
    "", "   ", '"too expensive', "(budget", "budget)", "nosuchfield:x", "budget AND",
    "OR budget", "date:[soon TO later]", "date:[2025-01-01 TO",
])
def test_bad_queries_raise_input_error(si, bad):
    with pytest.raises(InputError) as err:
        si.search(bad)
    assert "whoosh" not in str(err.value).lower() and str(err.value)


def test_results_highlight_group_context_and_json(lib, si):
    r = si.search('"too expensive"')
    assert all("**too expensive**" in h.highlight for h in r.hits)
    dollars = next(h for h in r.hits if "$" in h.text)
    assert "\\$" in dollars.highlight  # escaped: st.markdown would read $..$ as LaTeX
    assert [h.score for h in r.hits] == sorted((h.score for h in r.hits), reverse=True)

    r = si.search("budget", limit=None)
    groups = grouped(r)
    assert sum(g.count for g in groups) == len(r.hits) == r.total
    for g in groups:
        assert [h.start_s for h in g.hits] == sorted(h.start_s for h in g.hits)
        assert g.title == lib.call(g.call_id).title
    two = si.search("budget", limit=2)
    assert two.total == r.total and len(two.hits) == 2

    hit = si.search('"check with my boss"').hits[0]
    ctx = context(lib, hit, n=1)
    utts = lib.transcript(hit.call_id).utterances
    assert ctx.utterance.id == hit.utterance_id
    assert [u.id for u in ctx.before] == [utts[hit.index - 1].id]
    assert [u.id for u in ctx.after] == [utts[hit.index + 1].id]
    assert ctx.after[0].speaker == utts[hit.index + 1].speaker
    first = context(lib, si.search("budget", limit=None).hits[0], n=0)
    assert first.before == () == first.after

    data = to_json(si.search('"we already use outreach"'))
    assert set(data) == {"query", "total", "hits"} and data["total"] == 2
    assert set(data["hits"][0]) == {"call_id", "utterance_id", "speaker", "role", "start_s",
                                    "end_s", "text", "highlight"}
    json.dumps(data)


def test_search_is_fast_on_the_sample_library(si):
    si.search("budget")  # warm
    t = time.perf_counter()
    for q in ("budget", '"too expensive"', "outrech~", "role:customer price", "pric*"):
        si.search(q)
    assert (time.perf_counter() - t) / 5 < 0.25


# staying in step with SQLite -------------------------------------------------------------
def test_deleted_index_folder_is_rebuilt_with_the_same_count(lib, si):
    before = si.doc_count()
    si.close()
    shutil.rmtree(lib.root / INDEX_DIRNAME)
    fresh = SearchIndex(lib)
    assert fresh.last_repair == "missing"
    assert fresh.doc_count() == before == sqlite_count(lib)
    assert fresh.search('"check with my boss"').total == 1
    progress: list[float] = []
    assert fresh.rebuild(on_progress=progress.append) == before
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)


def test_old_schema_version_is_rebuilt(lib, si):
    (si.dir / META_FILE).write_text(json.dumps({"schema_version": 0}))
    assert SearchIndex(lib).last_repair == "schema"


def test_corrupt_index_is_rebuilt(lib, si):
    si.close()
    for f in si.dir.iterdir():
        if f.is_file() and f.name != META_FILE:
            f.write_bytes(b"\x00garbage\xff" * 100)
    fresh = SearchIndex(lib)
    assert fresh.last_repair == "corrupt"
    assert fresh.doc_count() == sqlite_count(lib)
    assert index_state(fresh) == sqlite_state(lib)


def test_speaker_edits_reach_the_index_in_the_same_operation(lib, si):
    hit = si.search('"check with my boss"').hits[0]
    speakers = lib.speakers(hit.call_id)
    customer = next(sp for sp in speakers if sp.role == "customer")
    rep = next(sp for sp in speakers if sp.role == "rep")
    lib.update_speaker(hit.call_id, customer.id, name="Emily Carter")  # reindexes the call
    emily = si.search('speaker:"emily carter"', limit=None)
    assert emily.total == sum(1 for u in lib.transcript(hit.call_id).utterances
                              if u.speaker == "Emily Carter")
    assert hit.utterance_id in ids(si.search('"check with my boss"', role="customer"))

    lib.move_utterance(hit.call_id, hit.utterance_id, rep.id)
    assert si.search('"check with my boss"', role="customer").total == 0
    moved = si.search('"check with my boss"', role="rep").hits[0]
    assert moved.utterance_id == hit.utterance_id and moved.speaker == rep.display
    assert index_state(si) == sqlite_state(lib)


def test_count_mismatch_is_repaired_per_call(lib, si):
    hit = si.search('"check with my boss"').hits[0]
    with lib.db.atomic():  # what a delete path does; it "forgot" to call index_call
        lib.db.execute("DELETE FROM words WHERE utterance_id = ?", [hit.utterance_id])
        lib.db.execute("DELETE FROM tracker_hits WHERE utterance_id = ?", [hit.utterance_id])
        lib.db.execute("DELETE FROM utterances WHERE id = ?", [hit.utterance_id])
    fresh = SearchIndex(lib)
    assert fresh.last_repair == "count"
    assert fresh.doc_count() == sqlite_count(lib)
    assert fresh.search('"check with my boss"').total == 0
    assert index_state(fresh) == sqlite_state(lib)


def test_remove_call_drops_its_documents(lib, si):
    call_id = si.search('"check with my boss"').hits[0].call_id
    with lib.db.atomic():
        for table in ("words", "tracker_hits", "utterances", "speakers"):
            lib.db.execute(f"DELETE FROM {table} WHERE call_id = ?", [call_id])
        lib.db.execute("DELETE FROM calls WHERE id = ?", [call_id])
    assert si.remove_call(call_id)
    assert si.search("boss").total > 0
    assert all(h.call_id != call_id for h in si.search("customer", limit=None).hits)
    assert si.doc_count() == sqlite_count(lib)


# concurrent writers ----------------------------------------------------------------------
WRITER = r"""
import sys, time
from pathlib import Path
from clipstudio import Library
from clipstudio.search import SearchIndex
root, tag, go, calls, rounds = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], 6
lib = Library(root)
si = SearchIndex(lib)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
for r in range(rounds):
    for cid in map(int, calls.split(",")):
        sp = next(s for s in lib.speakers(cid) if s.role == "customer")
        with lib.db.conn:  # BEGIN IMMEDIATE: waits on the busy timeout, never fails at once
            lib.db.conn.execute("BEGIN IMMEDIATE")
            lib.db.conn.execute("UPDATE speakers SET name = ? WHERE id = ?", [f"{tag}-{r}", sp.id])
        assert si.index_call(cid), "write deferred"
print("done", flush=True)
"""

HOLDER = r"""
import sys, time
from clipstudio import Library
from clipstudio.search import SearchIndex
si = SearchIndex(Library(sys.argv[1]))
with si._writelock(5):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_two_processes_writing_at_once_lose_nothing(lib, si, tmp_path):
    calls = [c.id for c in lib.calls()]
    go = tmp_path / "go"
    procs = [_spawn(WRITER, str(lib.root), tag, str(go), ",".join(map(str, part)))
             for tag, part in (("A", calls[::2]), ("B", calls[1::2]))]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        go.touch()  # both start writing at the same moment
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and "done" in out, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert not (si.dir / JOURNAL_FILE).read_bytes()  # nothing left owed
    assert si.doc_count() == sqlite_count(lib)
    assert index_state(si) == sqlite_state(lib)  # every call carries its last rename
    for tag, part in (("A", calls[::2]), ("B", calls[1::2])):
        said = sum(u.speaker == f"{tag}-5" for c in part for u in lib.transcript(c).utterances)
        assert said and si.search(f'speaker:"{tag}-5"', limit=None).total == said


def test_a_write_waits_for_the_lock_and_a_timed_out_one_is_caught_up(lib, si):
    hit = si.search('"check with my boss"').hits[0]
    customer = next(sp for sp in lib.speakers(hit.call_id) if sp.role == "customer")

    # whoosh's own writer sees our lock: plain whoosh writers queue behind us too
    with si._writelock(1):
        with pytest.raises(LockError):
            whoosh_index.open_dir(str(si.dir)).writer()

    holder = _spawn(HOLDER, str(lib.root), "1.5")
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        t = time.monotonic()
        lib.update_speaker(hit.call_id, customer.id, name="Waited")  # its reindex waits
        assert time.monotonic() - t > 0.5  # it queued instead of failing
        assert si.search('speaker:"Waited"').total > 0
    finally:
        holder.wait(timeout=30)

    impatient = SearchIndex(lib, write_timeout_s=0.2)
    holder = _spawn(HOLDER, str(lib.root), "2")
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        with lib.store.write():  # a change made while the index is locked elsewhere
            lib.db.execute("UPDATE speakers SET name = 'Deferred' WHERE id = ?", [customer.id])
        assert impatient.index_call(hit.call_id) is False  # gave up waiting...
        assert (si.dir / JOURNAL_FILE).read_text().split() == [str(hit.call_id)]
    finally:
        holder.wait(timeout=30)
    fresh = SearchIndex(lib)  # ...and the next open applies what was owed
    assert fresh.search('speaker:"Deferred"').total > 0
    assert not (si.dir / JOURNAL_FILE).read_bytes()
    assert index_state(fresh) == sqlite_state(lib)
