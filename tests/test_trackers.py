"""Trackers: saved searches run on every call, with their hits kept per call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clipstudio import InputError, Library
from clipstudio import trackers as tr


def test_default_trackers_mark_the_sample_calls_objections(library_copy):
    lib = Library(library_copy)
    assert [t.name for t in tr.trackers(lib)] == [
        "Price objection", "Competitor mention", "Timing", "Authority", "Next steps"]
    by_file = {c.source_name: c.id for c in lib.calls()}
    counts = tr.counts(lib)
    assert counts[by_file["maple_health_pricing.mp3"]]["Price objection"] >= 1
    assert counts[by_file["blue_river_pricing.mp3"]]["Price objection"] >= 1
    assert counts[by_file["acme_discovery.mp3"]]["Timing"] >= 1
    assert counts[by_file["lakeside_authority.m4a"]]["Authority"] >= 1
    assert counts[by_file["pine_valley_competitor.mp3"]]["Competitor mention"] >= 1
    # Price objections are the customer's: every hit was said by the customer side.
    hits = [h for cid in by_file.values() for h in tr.call_hits(lib, cid)
            if h.tracker == "Price objection"]
    roles = {u.id: u.role for cid in by_file.values() for u in lib.transcript(cid).utterances}
    assert hits and {roles[h.utterance_id] for h in hits} == {"customer"}
    assert any("expensive" in h.text.lower() for h in hits)
    # The Library can list just the calls where a tracker fired.
    priced = {c.id for c in lib.calls(trackers=["Price objection"])}
    assert priced == {cid for cid, c in counts.items() if "Price objection" in c}


def test_hits_follow_speaker_changes_and_tracker_edits(library_copy):
    lib = Library(library_copy)
    call = next(c for c in lib.calls() if c.source_name == "maple_health_pricing.mp3")
    price = [h for h in tr.call_hits(lib, call.id) if h.tracker == "Price objection"]
    rep = next(s for s in lib.speakers(call.id) if s.role == "rep")
    lib.move_utterance(call.id, price[0].utterance_id, rep.id)  # now "said" by the rep
    after = [h for h in tr.call_hits(lib, call.id) if h.tracker == "Price objection"]
    assert price[0].utterance_id not in {h.utterance_id for h in after}

    mine = tr.save_tracker(lib, "Spending freeze", '"frozen" OR freeze', "customer")
    assert any(h.tracker == "Spending freeze" for h in tr.call_hits(lib, call.id))
    tr.save_tracker(lib, "Spending freeze", "zebra", "customer", tracker_id=mine.id)
    assert not any(h.tracker == "Spending freeze" for h in tr.call_hits(lib, call.id))
    tr.delete_tracker(lib, mine.id)
    assert "Spending freeze" not in [t.name for t in tr.trackers(lib)]


def test_bad_trackers_are_refused(library_copy):
    lib = Library(library_copy)
    with pytest.raises(InputError, match="unbalanced quote"):
        tr.save_tracker(lib, "Broken", '"too expensive', "customer")
    with pytest.raises(InputError, match="already a tracker called"):
        tr.save_tracker(lib, "Timing", "later", "any")
    with pytest.raises(InputError, match="side must be one of"):
        tr.save_tracker(lib, "New", "later", "manager")
    assert len(tr.trackers(lib)) == 5


def test_trackers_cli(library_copy):
    exe = Path(sys.executable).parent / "clipstudio"
    r = subprocess.run([str(exe), "trackers", "--library", str(library_copy), "--add",
                        "Freeze", "--query", "frozen", "--side", "customer", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    listed = {t["name"]: t for t in json.loads(r.stdout)}
    assert listed["Freeze"]["hits"] >= 1 and listed["Price objection"]["hits"] >= 2
