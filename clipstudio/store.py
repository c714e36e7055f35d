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


# Append only: a migration, once released, is never edited or reordered.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_speakers", _m0002_speakers),
    ("0003_trackers", _m0003_trackers),
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
