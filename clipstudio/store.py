"""SQLite storage through sqlite-utils: the single source of truth of a library.

One connection per thread (Streamlit runs each session in its own thread, and a sqlite3
connection must not be shared across threads), WAL so readers never block the writer,
and a busy timeout so a second writer (the CLI while the app ingests) waits instead of
failing. Schema changes are named migrations, applied once, in order, and recorded.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

BUSY_TIMEOUT_MS = 30_000


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _m0001_initial(db: sqlite_utils.Database) -> None:
    db["reps"].create({"name": str, "a_player": int}, pk="name", not_null={"a_player"},
                      defaults={"a_player": 0})
    db["calls"].create(
        {
            "id": int,
            "sha256": str,
            "title": str,
            "rep": str,
            "account": str,
            "call_date": str,
            "outcome": str,
            "consent": int,
            "duration_s": float,
            "channels": int,
            "sample_rate": int,
            "codec": str,
            "status": str,
            "source_path": str,
            "source_name": str,
            "media_file": str,
            "playback_file": str,
            "model": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"sha256", "title", "outcome", "duration_s", "status"},
    )
    db["calls"].create_index(["sha256"], unique=True)
    db["calls"].create_index(["rep"])
    db["calls"].create_index(["call_date"])
    db["utterances"].create(
        {
            "id": int,
            "call_id": int,
            "idx": int,
            "speaker": str,
            "role": str,
            "start_s": float,
            "end_s": float,
            "text": str,
        },
        pk="id",
        foreign_keys=[("call_id", "calls", "id")],
    )
    db["utterances"].create_index(["call_id", "idx"], unique=True)
    db["words"].create(
        {
            "id": int,
            "utterance_id": int,
            "call_id": int,
            "idx": int,
            "text": str,
            "start_s": float,
            "end_s": float,
            "probability": float,
        },
        pk="id",
        foreign_keys=[("utterance_id", "utterances", "id"), ("call_id", "calls", "id")],
    )
    db["words"].create_index(["call_id", "idx"], unique=True)
    db["words"].create_index(["utterance_id"])
    db["settings"].create({"key": str, "value": str}, pk="key")


def _m0002_speakers(db: sqlite_utils.Database) -> None:
    """Speakers become rows of their own (renamed, merged, given a role once per call)."""
    db["speakers"].create(
        {
            "id": int,
            "call_id": int,
            "label": str,
            "name": str,
            "role": str,
            "channel": int,
            "embedding": bytes,
        },
        pk="id",
        foreign_keys=[("call_id", "calls", "id")],
    )
    db["speakers"].create_index(["call_id", "label"], unique=True)
    db.execute("ALTER TABLE utterances DROP COLUMN speaker")
    db.execute("ALTER TABLE utterances DROP COLUMN role")
    db.execute("ALTER TABLE utterances ADD COLUMN speaker_id INTEGER REFERENCES speakers(id)")
    db["utterances"].create_index(["speaker_id"])
    db.execute("ALTER TABLE calls ADD COLUMN diarization TEXT")
    db.execute("ALTER TABLE reps ADD COLUMN team TEXT")
    db["voiceprints"].create(
        {"rep": str, "embedding": bytes, "call_id": int, "speaker_id": int, "created_at": str},
        pk="rep",
        foreign_keys=[("rep", "reps", "name")],
    )


DEFAULT_TRACKERS = (
    ("Price objection",
     '"too expensive" OR "over budget" OR "out of our budget" OR "too much" OR pricey '
     'OR "price is" OR discount', "customer"),
    ("Competitor mention",
     '"already use" OR "already using" OR "already have" OR competitor OR Outreach OR Gong '
     'OR Salesforce OR HubSpot', "any"),
    ("Timing", '"not right now" OR "next quarter" OR "next year" OR "bad time" '
     'OR "not a priority" OR "later this year" OR "circle back"', "customer"),
    ("Authority", '"my boss" OR "my director" OR "my manager" OR "check with" OR "sign off" '
     'OR "run it by" OR approve', "customer"),
    ("Next steps", '"next step" OR "next steps" OR calendar OR invite OR "follow up" '
     'OR "send you" OR "send over" OR pilot', "any"),
)


def _m0003_trackers(db: sqlite_utils.Database) -> None:
    """Trackers: named saved searches whose hits are kept per call."""
    db["trackers"].create({"id": int, "name": str, "query": str, "side": str,
                           "created_at": str}, pk="id", not_null={"name", "query", "side"})
    db["trackers"].create_index(["name"], unique=True)
    db["tracker_hits"].create(
        {"tracker_id": int, "call_id": int, "utterance_id": int, "start_s": float},
        pk=("tracker_id", "utterance_id"),
        foreign_keys=[("tracker_id", "trackers", "id"), ("call_id", "calls", "id"),
                      ("utterance_id", "utterances", "id")],
    )
    db["tracker_hits"].create_index(["call_id"])
    db["trackers"].insert_all(
        {"name": n, "query": q, "side": side, "created_at": now_iso()}
        for n, q, side in DEFAULT_TRACKERS)


DEFAULT_SKILLS = (
    ("Rapport", "Building trust and a personal connection early in the call."),
    ("Discovery questions", "Open questions that uncover the customer's problem, its cost and "
     "who is affected."),
    ("Active listening", "Playing back what the customer said, follow-up questions, letting "
     "them finish."),
    ("Value articulation", "Tying the product to the customer's own problem and numbers."),
    ("Objection handling: price", "\"Too expensive\", \"over budget\": reframing cost as "
     "value instead of discounting."),
    ("Objection handling: competitor", "\"We already use X\": staying curious, finding the "
     "gap, positioning alongside."),
    ("Objection handling: timing", "\"Not right now\", \"next quarter\": the cost of "
     "waiting, smaller first steps."),
    ("Objection handling: authority", "\"I need to check with my boss\": learning who "
     "decides and equipping the champion."),
    ("Negotiation", "Trading concessions for commitments; holding price."),
    ("Next steps and closing", "Agreeing a concrete next step with a date, or asking for "
     "the business."),
)
DEFAULT_MESSAGES = (
    ("Faster ramp", "Example: new reps reach quota sooner because they learn from real "
     "calls. Replace with your own value propositions."),
    ("Cost of inaction", "Example: what waiting another quarter costs the customer."),
)


def _m0004_clips(db: sqlite_utils.Database) -> None:
    """Clips cut from calls, and the skill and message taxonomies they are tagged with."""
    db["clips"].create(
        {
            "id": int,
            "call_id": int,
            "title": str,
            "start_s": float,  # snapped, padded bounds in the call's time
            "end_s": float,
            "first_word": int,  # call word idx of the first and last word inside
            "last_word": int,
            "format": str,  # mp3, m4a, opus, wav
            "stereo": int,  # 1 = channels kept, 0 = balanced mono mix
            "file": str,  # name in library/clips/
            "rating": str,  # good, poor, neutral
            "notes": str,
            "redactions": str,  # JSON list of [first, last] call word idx ranges
            "pad_before_s": float,
            "pad_after_s": float,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("call_id", "calls", "id")],
        not_null={"call_id", "title", "start_s", "end_s", "format", "file", "rating"},
        defaults={"rating": "neutral", "notes": "", "redactions": "[]", "stereo": 0},
    )
    db["clips"].create_index(["call_id"])
    db["tags"].create({"id": int, "kind": str, "name": str, "description": str,
                       "created_at": str}, pk="id", not_null={"kind", "name"})
    db["tags"].create_index(["kind", "name"], unique=True)
    db["clip_tags"].create({"clip_id": int, "tag_id": int}, pk=("clip_id", "tag_id"),
                           foreign_keys=[("clip_id", "clips", "id"), ("tag_id", "tags", "id")])
    db["clip_tags"].create_index(["tag_id"])
    stamp = now_iso()
    db["tags"].insert_all(
        [{"kind": "skill", "name": n, "description": d, "created_at": stamp}
         for n, d in DEFAULT_SKILLS]
        + [{"kind": "message", "name": n, "description": d, "created_at": stamp}
           for n, d in DEFAULT_MESSAGES])


def _m0005_playlists(db: sqlite_utils.Database) -> None:
    """Playlists of clips in sections, side-by-side comparisons, and learners' progress."""
    db["playlists"].create({"id": int, "title": str, "description": str, "audience": str,
                            "created_at": str, "updated_at": str}, pk="id",
                           not_null={"title"}, defaults={"description": "", "audience": ""})
    db["playlist_items"].create(
        {
            "id": int,
            "playlist_id": int,
            "position": int,
            "section": str,
            "kind": str,  # clip or comparison
            "clip_id": int,  # the clip of a clip item; NULL for comparisons
            "title": str,  # a comparison's title ("Price: A-player vs discounting")
            "note": str,  # the trainer's note: what to listen for
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("playlist_id", "playlists", "id"), ("clip_id", "clips", "id")],
        not_null={"playlist_id", "position", "kind"},
        defaults={"section": "", "note": "", "title": ""},
    )
    db["playlist_items"].create_index(["playlist_id", "position"])
    db["playlist_items"].create_index(["clip_id"])
    db["comparison_clips"].create(
        {"item_id": int, "position": int, "clip_id": int, "note": str},
        pk=("item_id", "position"),
        foreign_keys=[("item_id", "playlist_items", "id"), ("clip_id", "clips", "id")],
        defaults={"note": ""},
    )
    db["comparison_clips"].create_index(["clip_id"])
    db["learner_progress"].create(
        {"learner": str, "playlist_id": int, "item_id": int, "played": int, "done": int,
         "reflection": str, "updated_at": str},
        pk=("learner", "item_id"),
        foreign_keys=[("playlist_id", "playlists", "id"), ("item_id", "playlist_items", "id")],
        defaults={"played": 0, "done": 0, "reflection": ""},
    )
    db["learner_progress"].create_index(["playlist_id"])


# Append only: a migration, once released, is never edited or reordered.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_speakers", _m0002_speakers),
    ("0003_trackers", _m0003_trackers),
    ("0004_clips", _m0004_clips),
    ("0005_playlists", _m0005_playlists),
]


class Store:
    """Opens the library database; ``store.db`` is this thread's own connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self.just_applied = self.migrate()  # what this open migrated, for derived backfills

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            db = sqlite_utils.Database(conn)
            if db.journal_mode != "wal":
                db.enable_wal()
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction that takes the write lock up front (BEGIN IMMEDIATE).

        A deferred BEGIN that reads first and writes later fails at once with "database
        is locked" when another process committed in between (the busy timeout does not
        apply to that upgrade); asking for the lock at BEGIN makes writers queue instead.
        Nested calls become savepoints.
        """
        db = self.db
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        else:
            try:
                db.execute("COMMIT")
            except BaseException:
                db.rollback()
                raise

    def migrate(self) -> list[str]:
        """Apply pending migrations in one transaction each; return the names applied."""
        db = self.db
        applied: list[str] = []
        with self.write():
            db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
            )
        done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            with self.write():
                # Re-check inside the write transaction: another process may have won.
                if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                    continue
                fn(db)
                db["_migrations"].insert({"name": name, "applied_at": now_iso()})
            applied.append(name)
        return applied

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM _migrations ORDER BY name")]

    # settings -------------------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.write():
            self.db["settings"].upsert({"key": key, "value": json.dumps(value)}, pk="key")
