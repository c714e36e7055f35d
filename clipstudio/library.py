"""The facade: one library folder, its store and media. The CLI and the pages talk to this.

Folder layout::

    library/
      clipstudio.db     SQLite, the single source of truth
      media/            originals (<hash>.<ext>) and browser playback copies (<hash>.playback.mp3)
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, NotFoundError
from .ingest import IngestOptions, ProgressFn, file_sha256, ingest_paths
from .media import MediaInfo, remove_stale_temp_files
from .metadata import parse_date, parse_outcome
from .models import Call, CallMeta, CallSpeaker, IngestReport, Transcript, Utterance, Word
from .search import SearchIndex, SearchResult
from .speakers import MAX_SPEAKERS, METHODS, MIN_SPEAKERS, ROLES, Attribution, check_pyannote
from .store import Store, now_iso
from .trackers import apply_trackers
from .transcribe import resolve_device, resolve_model

ENV_LIBRARY = "CLIPSTUDIO_LIBRARY"
EDITABLE_FIELDS = ("title", "rep", "account", "call_date", "outcome", "consent")


def default_root() -> Path:
    return Path(os.environ.get(ENV_LIBRARY) or "library")


def _blob(embedding: np.ndarray | None) -> bytes | None:
    return None if embedding is None else np.asarray(embedding, dtype=np.float32).tobytes()


def split_terms(text: str) -> list[str]:
    """'Acme, ComfyUI;  Salesforce' -> ['Acme', 'ComfyUI', 'Salesforce']."""
    return [t.strip() for t in text.replace(";", ",").replace("\n", ",").split(",") if t.strip()]


class Library:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"library path {self.root} is a file, not a folder")
        self.media_dir = self.root / "media"
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.root / "clipstudio.db")
        self._index: SearchIndex | None = None
        if "0003_trackers" in self.store.just_applied:  # calls from before trackers existed
            for call in self.calls():
                apply_trackers(self, call.id)

    @property
    def db(self):
        return self.store.db

    # search ---------------------------------------------------------------------------
    @property
    def index(self) -> SearchIndex:
        """The whoosh index, opened (and rebuilt if missing, stale or corrupt) on first use."""
        if self._index is None:
            self._index = SearchIndex(self)
        return self._index

    def search(self, query: str, **filters: Any) -> SearchResult:
        """Utterances matching ``query`` (see clipstudio.search for the syntax)."""
        return self.index.search(query, **filters)

    def reindex(self, on_progress: Callable[[float], None] | None = None) -> int:
        """Rebuild the search index from SQLite; returns the number of utterances indexed."""
        return self.index.rebuild(on_progress=on_progress)

    def _clip_changed(self, call_id: int) -> None:
        """Keep derived views in step after one of a call's clips was made, edited or
        deleted: a call's index documents include its clips and their tags."""
        self.index.index_call(call_id)

    def _changed(self, call_id: int) -> None:
        """Keep derived views in step after a committed change to a call: the search
        index, then the trackers (which search it)."""
        self.index.index_call(call_id)
        apply_trackers(self, call_id)

    # ingest ---------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        manifest: str | Path | None = None,
        model: str | None = None,
        device: str = "auto",
        vocabulary: str | Iterable[str] | None = None,
        chunk_s: float | None = None,
        diarization: str = "auto",
        num_speakers: int | None = None,
        transcript: str | Path | None = None,
        on_progress: ProgressFn | None = None,
    ) -> IngestReport:
        resolve_model(model)  # a typo in --model or --device fails before any work starts
        resolve_device(device)
        if diarization not in METHODS:
            raise InputError(f"diarization must be one of {', '.join(METHODS)}")
        if num_speakers is not None and not MIN_SPEAKERS <= num_speakers <= MAX_SPEAKERS:
            raise InputError(f"--speakers must be {MIN_SPEAKERS} to {MAX_SPEAKERS}")
        if diarization == "pyannote":
            check_pyannote()
        if vocabulary:
            self.add_vocabulary(vocabulary)
        options = IngestOptions(model=model, device=device, diarization=diarization,
                                num_speakers=num_speakers,
                                transcript=Path(transcript) if transcript else None)
        if chunk_s:
            options = replace(options, chunk_s=chunk_s)
        return ingest_paths(
            self,
            paths,
            manifest=Path(manifest) if manifest else None,
            options=options,
            on_progress=on_progress,
        )

    def call_id_for_hash(self, sha: str) -> int | None:
        row = self.db.execute("SELECT id FROM calls WHERE sha256 = ?", [sha]).fetchone()
        return row[0] if row else None

    def insert_call(
        self,
        *,
        sha: str,
        meta: CallMeta,
        info: MediaInfo,
        duration_s: float,
        source: Path,
        model: str,
        attribution: Attribution,
        files: list[tuple[Path, Path]],
    ) -> int:
        """Write one call, its utterances and words, and move its files into place, atomically.

        The renames happen inside the transaction: if the commit never happens, the
        final-named files are overwritten by the rerun (same hash, same names).
        """
        db = self.db
        stamp = now_iso()
        with self.store.write():
            if meta.rep and meta.a_player is not None:
                db["reps"].upsert({"name": meta.rep, "a_player": int(meta.a_player)}, pk="name")
            elif meta.rep:
                db.execute("INSERT OR IGNORE INTO reps (name, a_player) VALUES (?, 0)", [meta.rep])
            call_id = db["calls"].insert(
                {
                    "sha256": sha,
                    "title": meta.title,
                    "rep": meta.rep,
                    "account": meta.account,
                    "call_date": meta.call_date,
                    "outcome": meta.outcome,
                    "consent": None if meta.consent is None else int(meta.consent),
                    "duration_s": round(duration_s, 3),
                    "channels": info.channels,
                    "sample_rate": info.sample_rate,
                    "codec": info.codec,
                    "status": "transcribed",
                    "source_path": str(source.resolve()),
                    "source_name": source.name,
                    "media_file": files[0][1].name,
                    "playback_file": files[1][1].name,
                    "model": model,
                    "diarization": attribution.method,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            ).last_pk
            speaker_ids = {}
            for sp in attribution.speakers:
                speaker_ids[sp.label] = db.execute(
                    "INSERT INTO speakers (call_id, label, name, role, channel, embedding) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [call_id, sp.label, sp.name, sp.role, sp.channel, _blob(sp.embedding)],
                ).lastrowid
            word_rows = []
            for i, u in enumerate(attribution.utterances):
                utt_id = db.execute(
                    "INSERT INTO utterances (call_id, idx, speaker_id, start_s, end_s, text) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [call_id, i, speaker_ids.get(u.speaker), u.start_s, u.end_s, u.text],
                ).lastrowid
                for w in u.words:
                    word_rows.append(
                        (utt_id, call_id, len(word_rows), w.text, w.start_s, w.end_s,
                         w.probability)
                    )
            db.conn.executemany(
                "INSERT INTO words (utterance_id, call_id, idx, text, start_s, end_s, probability)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                word_rows,
            )
            for tmp, final in files:
                os.utime(tmp)  # fresh mtime: orphan cleanup only takes files a minute old
                os.replace(tmp, final)
        self._changed(int(call_id))
        return int(call_id)

    def relink_media(self, call_id: int | str, path: str | Path) -> Call:
        """Put a copy of a call's original recording back after it went missing.

        The file must be the same recording (same SHA-256 as at ingest), so clips keep
        pointing at the moments they were cut from.
        """
        call = self.call(call_id)
        src = Path(path)
        if not src.is_file():
            raise InputError(f"{src} is not a file")
        if file_sha256(src) != call.sha256:
            raise InputError(f"{src} is not the recording of call {call.id} (its content "
                             "differs from the file that was ingested)")
        dest = Path(call.media_path)
        tmp = dest.with_name(f".tmp-{os.getpid()}-relink{dest.suffix}")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return call

    def remove_orphan_media(self, min_age_s: float = 60.0) -> int:
        """Delete media no call refers to (a crash between rename and commit), and dead temps."""
        removed = remove_stale_temp_files(self.media_dir)
        known: set[str] = set()
        for media_file, playback_file in self.db.execute(
            "SELECT media_file, playback_file FROM calls"
        ):
            known.update((media_file, playback_file))
        cutoff = time.time() - min_age_s
        for f in self.media_dir.iterdir():
            if f.is_file() and not f.name.startswith(".") and f.name not in known:
                if f.stat().st_mtime < cutoff:
                    f.unlink(missing_ok=True)
                    removed += 1
        return removed

    # reading --------------------------------------------------------------------------
    _CALL_SQL = (
        "SELECT c.*, COALESCE(r.a_player, 0) AS a_player FROM calls c "
        "LEFT JOIN reps r ON r.name = c.rep"
    )

    def _call_from_row(self, row: dict[str, Any]) -> Call:
        return Call(
            id=row["id"],
            title=row["title"],
            rep=row["rep"],
            account=row["account"],
            call_date=row["call_date"],
            outcome=row["outcome"],
            consent=None if row["consent"] is None else bool(row["consent"]),
            a_player=bool(row["a_player"]),
            duration_s=row["duration_s"],
            channels=row["channels"],
            status=row["status"],
            source_name=row["source_name"],
            media_path=str(self.media_dir / row["media_file"]),
            playback_path=str(self.media_dir / row["playback_file"]),
            model=row["model"],
            created_at=row["created_at"],
            diarization=row["diarization"],
            sha256=row["sha256"],
        )

    def calls(
        self,
        *,
        rep: str | None = None,
        outcome: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        trackers: Iterable[str] = (),
    ) -> list[Call]:
        """Calls newest first, optionally filtered by rep, outcome, an inclusive date range
        and trackers (the call must have hits of every tracker named)."""
        where, params = [], []
        for name in trackers:
            where.append("EXISTS (SELECT 1 FROM tracker_hits h JOIN trackers t "
                         "ON t.id = h.tracker_id WHERE h.call_id = c.id AND t.name = ?)")
            params.append(name)
        if rep:
            where.append("c.rep = ?")
            params.append(rep)
        if outcome:
            where.append("c.outcome = ?")
            params.append(parse_outcome(outcome))
        if date_from:
            where.append("c.call_date >= ?")
            params.append(parse_date(date_from, where="date_from"))
        if date_to:
            where.append("c.call_date <= ?")
            params.append(parse_date(date_to, where="date_to"))
        sql = self._CALL_SQL + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY c.call_date DESC, c.id DESC"
        return [self._call_from_row(r) for r in self.db.query(sql, params)]

    def call(self, call_id: int | str) -> Call:
        try:
            cid = int(call_id)
        except (TypeError, ValueError):
            raise NotFoundError(f"no call {call_id!r}: call ids are numbers") from None
        rows = list(self.db.query(self._CALL_SQL + " WHERE c.id = ?", [cid]))
        if not rows:
            raise NotFoundError(f"no call {cid} in library {self.root}")
        return self._call_from_row(rows[0])

    def transcript(self, call_id: int | str) -> Transcript:
        call = self.call(call_id)
        words: dict[int, list[Word]] = {}
        for r in self.db.query(
            "SELECT utterance_id, text, start_s, end_s, probability FROM words "
            "WHERE call_id = ? ORDER BY idx", [call.id]
        ):
            words.setdefault(r["utterance_id"], []).append(
                Word(r["text"], r["start_s"], r["end_s"], r["probability"])
            )
        speakers = self.speakers(call.id)
        by_id = {sp.id: sp for sp in speakers}
        utterances = tuple(
            Utterance(
                id=r["id"],
                index=r["idx"],
                start_s=r["start_s"],
                end_s=r["end_s"],
                text=r["text"],
                words=tuple(words.get(r["id"], ())),
                speaker=by_id[r["speaker_id"]].display if r["speaker_id"] in by_id else None,
                role=by_id[r["speaker_id"]].role if r["speaker_id"] in by_id else None,
            )
            for r in self.db.query(
                "SELECT * FROM utterances WHERE call_id = ? ORDER BY idx", [call.id]
            )
        )
        return Transcript(call, utterances, speakers)

    # speakers -------------------------------------------------------------------------
    def speakers(self, call_id: int) -> tuple[CallSpeaker, ...]:
        """A call's speakers with what to call them and how long each talked."""
        rows = list(self.db.query(
            "SELECT s.id, s.label, s.name, s.role, s.channel, "
            "COALESCE((SELECT SUM(u.end_s - u.start_s) FROM utterances u "
            "WHERE u.speaker_id = s.id), 0) AS talk_s "
            "FROM speakers s WHERE s.call_id = ? ORDER BY s.id", [call_id]))
        role_count: dict[str, int] = {}
        for r in rows:
            role_count[r["role"]] = role_count.get(r["role"], 0) + 1
        out = []
        for n, r in enumerate(rows, start=1):
            if r["name"]:
                display = r["name"]
            elif r["role"] and role_count[r["role"]] == 1:
                display = r["role"].title()
            else:
                display = f"Speaker {n}"
            out.append(CallSpeaker(r["id"], call_id, r["label"], r["name"], r["role"],
                                   r["channel"], display, round(r["talk_s"], 3)))
        return tuple(out)

    def _speaker(self, call_id: int, speaker_id: int) -> CallSpeaker:
        for sp in self.speakers(self.call(call_id).id):
            if sp.id == int(speaker_id):
                return sp
        raise NotFoundError(f"call {call_id} has no speaker {speaker_id}")

    def update_speaker(
        self, call_id: int, speaker_id: int, *, name: str | None = None, role: str | None = None
    ) -> CallSpeaker:
        """Rename a speaker and/or set their role (rep, customer, other)."""
        sp = self._speaker(call_id, speaker_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name.strip() or None
        if role is not None:
            if role not in ROLES:
                raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
            changes["role"] = role
        if changes:
            with self.store.write():
                self.db["speakers"].update(sp.id, changes)
                if changes.get("role") == "rep" and changes.get("name", sp.name):
                    rep = changes.get("name", sp.name)
                    self.db.execute(
                        "INSERT OR IGNORE INTO reps (name, a_player) VALUES (?, 0)", [rep])
            self._changed(sp.call_id)
        return self._speaker(call_id, speaker_id)

    def merge_speakers(self, call_id: int, source_id: int, into_id: int) -> CallSpeaker:
        """Give all of ``source``'s utterances to ``into`` and remove ``source``."""
        src, dst = self._speaker(call_id, source_id), self._speaker(call_id, into_id)
        if src.id == dst.id:
            raise InputError("cannot merge a speaker into themself")
        with self.store.write():
            self.db.execute("UPDATE utterances SET speaker_id = ? WHERE speaker_id = ?",
                            [dst.id, src.id])
            self.db.execute("DELETE FROM speakers WHERE id = ?", [src.id])
        self._changed(dst.call_id)
        return self._speaker(call_id, dst.id)

    def move_utterance(self, call_id: int, utterance_id: int, speaker_id: int) -> None:
        """Say that an utterance was spoken by another of the call's speakers."""
        sp = self._speaker(call_id, speaker_id)
        row = self.db.execute("SELECT call_id FROM utterances WHERE id = ?",
                              [int(utterance_id)]).fetchone()
        if not row or row[0] != sp.call_id:
            raise NotFoundError(f"call {call_id} has no utterance {utterance_id}")
        with self.store.write():
            self.db.execute("UPDATE utterances SET speaker_id = ? WHERE id = ?",
                            [sp.id, int(utterance_id)])
        self._changed(sp.call_id)

    def enroll_voiceprint(self, rep: str, call_id: int, speaker_id: int) -> None:
        """Remember a rep's voice from one of their calls, to recognise them in others."""
        sp = self._speaker(call_id, speaker_id)
        row = self.db.execute("SELECT embedding FROM speakers WHERE id = ?", [sp.id]).fetchone()
        if not row or row[0] is None:
            raise InputError(f"speaker {sp.display} in call {call_id} has no voice embedding "
                             "(too little speech)")
        with self.store.write():
            self.db.execute("INSERT OR IGNORE INTO reps (name, a_player) VALUES (?, 0)", [rep])
            self.db["voiceprints"].upsert(
                {"rep": rep, "embedding": row[0], "call_id": sp.call_id, "speaker_id": sp.id,
                 "created_at": now_iso()}, pk="rep")
            self.db["speakers"].update(sp.id, {"name": rep, "role": "rep"})
        self._changed(sp.call_id)

    def voiceprints(self) -> dict[str, np.ndarray]:
        return {r["rep"]: np.frombuffer(r["embedding"], dtype=np.float32)
                for r in self.db.query("SELECT rep, embedding FROM voiceprints")}

    def channel_roles(self) -> tuple[str, str]:
        """Which party each stereo channel carries; default left = rep, right = customer."""
        roles = self.store.get_setting("channel_roles", ["rep", "customer"])
        return roles[0], roles[1]

    def set_channel_roles(self, left: str, right: str) -> None:
        for role in (left, right):
            if role not in ROLES:
                raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        self.store.set_setting("channel_roles", [left, right])

    def reps(self) -> list[dict[str, Any]]:
        """Rep profiles: name, team, A-player flag, calls, and whether a voiceprint is kept."""
        return list(self.db.query(
            "SELECT r.name, r.team, r.a_player, COUNT(c.id) AS calls, "
            "EXISTS(SELECT 1 FROM voiceprints v WHERE v.rep = r.name) AS voiceprint "
            "FROM reps r LEFT JOIN calls c ON c.rep = r.name GROUP BY r.name ORDER BY r.name"
        ))

    def update_rep(self, name: str, *, team: str | None = None,
                   a_player: bool | None = None) -> dict[str, Any]:
        """Create or change a rep profile (the A-player flag applies to all their calls)."""
        name = (name or "").strip()
        if not name:
            raise InputError("a rep needs a name")
        with self.store.write():
            self.db.execute("INSERT OR IGNORE INTO reps (name, a_player) VALUES (?, 0)", [name])
            if team is not None:
                self.db.execute("UPDATE reps SET team = ? WHERE name = ?",
                                [team.strip() or None, name])
            if a_player is not None:
                self.db.execute("UPDATE reps SET a_player = ? WHERE name = ?",
                                [int(a_player), name])
        return next(r for r in self.reps() if r["name"] == name)

    def overview(self, recent: int = 5) -> dict[str, Any]:
        """Numbers for the home page: calls, hours, reps, and the most recent calls."""
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(duration_s), 0), COUNT(DISTINCT rep) FROM calls"
        ).fetchone()
        return {
            "calls": row[0],
            "hours": row[1] / 3600,
            "reps": row[2],
            "recent": self.calls()[:recent],
        }

    # editing --------------------------------------------------------------------------
    def update_call(self, call_id: int | str, **fields: Any) -> Call:
        """Change a call's metadata; ``a_player`` updates the call's rep."""
        call = self.call(call_id)
        a_player = fields.pop("a_player", None)
        unknown = set(fields) - set(EDITABLE_FIELDS)
        if unknown:
            raise InputError(f"cannot edit {', '.join(sorted(unknown))}; "
                             f"editable: {', '.join(EDITABLE_FIELDS)}, a_player")
        clean: dict[str, Any] = {}
        for key, value in fields.items():
            if key == "title":
                value = (value or "").strip()
                if not value:
                    raise InputError("title cannot be empty")
            elif key in ("rep", "account"):
                value = (value or "").strip() or None
            elif key == "call_date":
                value = parse_date(value) if value else None
            elif key == "outcome":
                value = parse_outcome(value)
            elif key == "consent":
                value = None if value is None else int(bool(value))
            clean[key] = value
        with self.store.write():
            if clean:
                clean["updated_at"] = now_iso()
                self.db["calls"].update(call.id, clean)
            rep = clean.get("rep", call.rep)
            if rep:
                self.db.execute("INSERT OR IGNORE INTO reps (name, a_player) VALUES (?, 0)", [rep])
                if a_player is not None:
                    self.db.execute("UPDATE reps SET a_player = ? WHERE name = ?",
                                    [int(bool(a_player)), rep])
        self._changed(call.id)
        return self.call(call.id)

    # settings -------------------------------------------------------------------------
    def vocabulary(self) -> list[str]:
        """Product, competitor and customer names passed to the model as hotwords."""
        return list(self.store.get_setting("vocabulary", []))

    def add_vocabulary(self, terms: str | Iterable[str]) -> list[str]:
        new = split_terms(terms) if isinstance(terms, str) else [t.strip() for t in terms]
        current = self.vocabulary()
        lowered = {t.lower() for t in current}
        for term in new:
            if term and term.lower() not in lowered:
                current.append(term)
                lowered.add(term.lower())
        self.store.set_setting("vocabulary", current)
        return current

    def set_vocabulary(self, terms: str | Iterable[str]) -> list[str]:
        self.store.set_setting("vocabulary", [])
        return self.add_vocabulary(terms)
