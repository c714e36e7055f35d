"""SQLite store: named migrations, WAL, busy timeout, a connection per thread, editing."""

from __future__ import annotations

import threading

import pytest

from clipstudio import InputError, Library, NotFoundError
from clipstudio.store import MIGRATIONS, Store


def test_migrations_are_named_and_applied_once(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert Store(tmp_path / "db.sqlite").migrate() == []
    tables = set(store.db.table_names())
    assert {"calls", "utterances", "words", "settings", "reps", "speakers", "voiceprints",
            "_migrations"} <= tables


def test_wal_busy_timeout_and_one_connection_per_thread(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    conns = []
    t = threading.Thread(target=lambda: conns.append(store.db.conn))
    t.start()
    t.join()
    assert conns[0] is not store.db.conn
    assert store.db.conn is store.db.conn


def test_settings_round_trip(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    assert store.get_setting("vocabulary", []) == []
    store.set_setting("vocabulary", ["Acme", "Gong"])
    assert Store(tmp_path / "db.sqlite").get_setting("vocabulary") == ["Acme", "Gong"]


def test_editing_call_metadata(library_copy):
    lib = Library(library_copy)
    call = lib.calls()[0]
    updated = lib.update_call(call.id, title="  Renamed call ", outcome="won", rep="New Rep",
                              call_date="2026-02-03", consent=False, a_player=True)
    assert (updated.title, updated.outcome, updated.rep) == ("Renamed call", "won", "New Rep")
    assert (updated.call_date, updated.consent, updated.a_player) == ("2026-02-03", False, True)
    assert Library(library_copy).call(call.id).title == "Renamed call"
    with pytest.raises(InputError, match="outcome must be one of"):
        lib.update_call(call.id, outcome="maybe")
    with pytest.raises(InputError, match="title cannot be empty"):
        lib.update_call(call.id, title=" ")
    with pytest.raises(InputError, match="cannot edit"):
        lib.update_call(call.id, duration_s=1)
    assert lib.call(call.id).outcome == "won"


def test_a_player_flag_belongs_to_the_rep(library_copy):
    lib = Library(library_copy)
    reps = {r["name"]: r for r in lib.reps()}
    assert reps["Dana Lee"]["a_player"] == 1 and reps["Tom Baker"]["a_player"] == 0
    tom = lib.calls(rep="Tom Baker")[0]
    lib.update_call(tom.id, a_player=True)
    assert all(c.a_player for c in lib.calls(rep="Tom Baker"))


def test_filters_and_missing_calls(library_copy):
    lib = Library(library_copy)
    assert {c.rep for c in lib.calls(rep="Dana Lee")} == {"Dana Lee"}
    assert {c.outcome for c in lib.calls(outcome="won")} == {"won"}
    dated = lib.calls(date_from="2025-04-01", date_to="2025-06-30")
    assert dated and all("2025-04-01" <= c.call_date <= "2025-06-30" for c in dated)
    with pytest.raises(NotFoundError, match="no call 999"):
        lib.call(999)
    with pytest.raises(NotFoundError, match="call ids are numbers"):
        lib.transcript("abc")


def test_library_path_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "lib"
    f.write_text("")
    with pytest.raises(InputError, match="is a file, not a folder"):
        Library(f)
