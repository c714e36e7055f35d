"""Trackers: named saved searches ("price objection", "competitor mention") run on every call.

A tracker is a search query plus the side that must say it (rep, customer or anyone).
Its hits are kept in SQLite per call, so the Library can filter and count by them and the
Call page can mark them, and they are recomputed whenever a call's transcript or speakers
change (through ``Library._changed``) or the tracker itself changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InputError, NotFoundError
from .store import now_iso

if TYPE_CHECKING:
    from .library import Library

SIDES = ("any", "rep", "customer")


@dataclass(frozen=True)
class Tracker:
    id: int
    name: str
    query: str
    side: str


@dataclass(frozen=True)
class TrackerHit:
    tracker_id: int
    tracker: str
    call_id: int
    utterance_id: int
    start_s: float
    text: str
    speaker: str | None


def trackers(lib: Library) -> list[Tracker]:
    return [Tracker(r["id"], r["name"], r["query"], r["side"])
            for r in lib.db.query("SELECT * FROM trackers ORDER BY id")]


def save_tracker(lib: Library, name: str, query: str, side: str = "any",
                 tracker_id: int | None = None) -> Tracker:
    """Create (or with ``tracker_id`` change) a tracker, then run it on every call."""
    name, query = (name or "").strip(), (query or "").strip()
    if not name:
        raise InputError("a tracker needs a name")
    if side not in SIDES:
        raise InputError(f"side must be one of {', '.join(SIDES)}, not {side!r}")
    lib.index.parse(query)  # a bad query is refused before it is saved
    clash = lib.db.execute("SELECT id FROM trackers WHERE name = ? AND id IS NOT ?",
                           [name, tracker_id]).fetchall()
    if clash:
        raise InputError(f"there is already a tracker called {name!r}")
    with lib.store.write():
        if tracker_id is None:
            tracker_id = lib.db["trackers"].insert(
                {"name": name, "query": query, "side": side, "created_at": now_iso()}).last_pk
        else:
            if not lib.db.execute("SELECT 1 FROM trackers WHERE id = ?",
                                  [tracker_id]).fetchall():
                raise NotFoundError(f"no tracker {tracker_id}")
            lib.db["trackers"].update(tracker_id, {"name": name, "query": query, "side": side})
    tracker = Tracker(int(tracker_id), name, query, side)
    for call in lib.calls():
        apply_trackers(lib, call.id, [tracker])
    return tracker


def delete_tracker(lib: Library, tracker_id: int) -> None:
    with lib.store.write():
        lib.db.execute("DELETE FROM tracker_hits WHERE tracker_id = ?", [tracker_id])
        lib.db.execute("DELETE FROM trackers WHERE id = ?", [tracker_id])


def apply_trackers(lib: Library, call_id: int, which: list[Tracker] | None = None) -> int:
    """Recompute the hits of ``which`` trackers (all by default) in one call."""
    found: list[tuple[int, int, int, float]] = []
    which = trackers(lib) if which is None else which
    for t in which:
        result = lib.index.search(t.query, call_id=call_id, limit=None,
                                  role=None if t.side == "any" else t.side)
        found += [(t.id, call_id, h.utterance_id, h.start_s) for h in result.hits]
    with lib.store.write():
        for t in which:
            lib.db.execute("DELETE FROM tracker_hits WHERE tracker_id = ? AND call_id = ?",
                           [t.id, call_id])
        lib.db.conn.executemany(
            "INSERT OR IGNORE INTO tracker_hits (tracker_id, call_id, utterance_id, start_s) "
            "VALUES (?, ?, ?, ?)", found)
    return len(found)


def call_hits(lib: Library, call_id: int) -> list[TrackerHit]:
    """A call's tracker hits in time order, with the words that triggered them."""
    speakers = {s.id: s.display for s in lib.speakers(call_id)}
    return [
        TrackerHit(r["tracker_id"], r["name"], r["call_id"], r["utterance_id"], r["start_s"],
                   r["text"], speakers.get(r["speaker_id"]))
        for r in lib.db.query(
            "SELECT h.tracker_id, t.name, h.call_id, h.utterance_id, h.start_s, u.text, "
            "u.speaker_id FROM tracker_hits h JOIN trackers t ON t.id = h.tracker_id "
            "JOIN utterances u ON u.id = h.utterance_id WHERE h.call_id = ? "
            "ORDER BY h.start_s, t.id", [call_id])
    ]


def counts(lib: Library) -> dict[int, dict[str, int]]:
    """{call_id: {tracker name: hits}} for every call with at least one hit."""
    out: dict[int, dict[str, int]] = {}
    for r in lib.db.query(
        "SELECT h.call_id, t.name, COUNT(*) AS n FROM tracker_hits h "
        "JOIN trackers t ON t.id = h.tracker_id GROUP BY h.call_id, t.id ORDER BY t.id"
    ):
        out.setdefault(r["call_id"], {})[r["name"]] = r["n"]
    return out
