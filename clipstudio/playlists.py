"""Onboarding playlists: ordered sections of clips with a trainer's note each, side-by-side
comparisons of two to four clips of the same situation, and each learner's progress.

Order: every item has a position (1, 2, 3... in play order). A section is the name items
share; sections are shown in the order of their first item, and the items of one section
are always consecutive: adding to an existing section puts the clips after its last item;
moving an item to a position inside another section (or next to one, unless the item is
alone in its section, which then moves with it) makes it part of that section; and "up" on
a section's first item moves it to the end of the section above (a second "up" then moves it
within that section).

Comparisons hold 2 to 4 distinct clips, each with its own "what to notice" note. Clips that
share no skill tag are allowed (a trainer may know better than the tags), but
:func:`suggest_comparisons` only pairs clips of the same skill.

Column figures for a clip (see :func:`clip_view`): the rep's **talk share** is the time of
the rep's words over the time of the rep's and the customer's words (overlaps count for
both, as in the call stats); the rep's **questions** are the rep's sentences that read as
questions, by the same rule as the call stats (:func:`clipstudio.insights.is_question`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clips import clip_transcript, get_clip, list_clips
from .errors import InputError, NotFoundError
from .insights import SENTENCE, is_question
from .models import Clip, ClipLine
from .store import now_iso

if TYPE_CHECKING:
    from .library import Library

ITEM_KINDS = ("clip", "comparison")
MIN_COMPARISON_CLIPS = 2
MAX_COMPARISON_CLIPS = 4
MAX_TITLE_CHARS = 200
MAX_NOTE_CHARS = 2000
MAX_REFLECTION_CHARS = 2000
MAX_LEARNER_CHARS = 80
MAX_SUGGESTIONS = 20


# results --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlaylistItem:
    """One step of a playlist: a clip, or a comparison of 2-4 clips shown side by side."""

    id: int
    playlist_id: int
    position: int  # 1-based play order within the playlist
    section: str  # "" when the item is in no section
    kind: str  # clip or comparison
    title: str  # the clip's title for a clip item, the comparison's own for a comparison
    note: str  # the trainer's note: what to listen for
    clips: tuple[Clip, ...]  # one for a clip item; the columns, in order, for a comparison
    clip_notes: tuple[str, ...]  # a comparison's "what to notice" per column ("" for clips)
    created_at: str

    @property
    def is_comparison(self) -> bool:
        return self.kind == "comparison"

    @property
    def duration_s(self) -> float:
        return round(sum(c.duration_s for c in self.clips), 3)


@dataclass(frozen=True)
class Section:
    name: str
    items: tuple[PlaylistItem, ...]


@dataclass(frozen=True)
class Playlist:
    id: int
    title: str
    description: str
    audience: str  # who it is for, e.g. "new AEs, week 1"
    created_at: str
    updated_at: str
    items: tuple[PlaylistItem, ...]  # in play order

    @property
    def sections(self) -> tuple[Section, ...]:
        """Sections in the order of their first item."""
        groups: dict[str, list[PlaylistItem]] = {}
        for item in self.items:
            groups.setdefault(item.section, []).append(item)
        return tuple(Section(name, tuple(items)) for name, items in groups.items())

    @property
    def duration_s(self) -> float:
        return round(sum(i.duration_s for i in self.items), 3)

    def item(self, item_id: int) -> PlaylistItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise NotFoundError(f"playlist {self.id} has no item {item_id}")


@dataclass(frozen=True)
class PlaylistSummary:
    id: int
    title: str
    description: str
    audience: str
    items: int
    comparisons: int
    updated_at: str


@dataclass(frozen=True)
class AddResult:
    added: tuple[PlaylistItem, ...]
    skipped_clip_ids: tuple[int, ...]  # already in the playlist as clip items


@dataclass(frozen=True)
class ClipView:
    """A clip as a column shows it: transcript, duration, the rep's talk share and
    questions, and the trainer's note."""

    clip: Clip
    note: str
    lines: tuple[ClipLine, ...]
    duration_s: float
    rep_talk_share: float | None  # 0..1; None when no word has a rep or customer role
    rep_questions: tuple[str, ...]  # the rep's sentences that are questions


@dataclass(frozen=True)
class Comparison:
    item_id: int
    title: str
    note: str
    shared_skills: tuple[str, ...]  # skill tags every column's clip carries
    columns: tuple[ClipView, ...]


@dataclass(frozen=True)
class Suggestion:
    """A pair worth comparing: a model handling (A-player or rated good) and a poor one."""

    skill: str
    model: Clip
    poor: Clip
    reason: str

    @property
    def clip_ids(self) -> tuple[int, int]:
        return (self.model.id, self.poor.id)


@dataclass(frozen=True)
class ItemProgress:
    item_id: int
    position: int
    title: str
    played: bool
    done: bool
    reflection: str
    updated_at: str | None


@dataclass(frozen=True)
class LearnerProgress:
    learner: str
    playlist_id: int
    items: tuple[ItemProgress, ...]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def played(self) -> int:
        return sum(1 for i in self.items if i.played)

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.done)

    @property
    def fraction_done(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def next_item_id(self) -> int | None:
        """The first item not marked done (None when all are)."""
        return next((i.item_id for i in self.items if not i.done), None)


@dataclass(frozen=True)
class LearnerSummary:
    """One row of the trainer's progress table."""

    learner: str
    playlist_id: int
    total: int
    played: int
    done: int
    reflections: int
    last_activity: str | None

    @property
    def fraction_done(self) -> float:
        return self.done / self.total if self.total else 0.0


# checks ---------------------------------------------------------------------------------

def _text(value: str | None, what: str, limit: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InputError(f"a playlist needs a {what}")
    if len(text) > limit:
        raise InputError(f"the {what} is {len(text)} characters long; keep it under {limit}")
    return text


def _section(value: str | None) -> str:
    return re.sub(r"\s+", " ", _text(value, "section name", MAX_TITLE_CHARS))


def _int_id(value: int | str, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFoundError(f"no {what} {value!r}: {what} ids are numbers") from None


def learner_name(name: str | None) -> str:
    """A learner's name as stored: spaces collapsed; refused when empty or too long."""
    text = re.sub(r"\s+", " ", (name or "").strip())
    if not text:
        raise InputError("say who is learning: a learner needs a name")
    if len(text) > MAX_LEARNER_CHARS:
        raise InputError(f"a learner's name is at most {MAX_LEARNER_CHARS} characters")
    return text


def _playlist_row(lib: Library, playlist_id: int | str) -> dict[str, Any]:
    pid = _int_id(playlist_id, "playlist")
    rows = list(lib.db.query("SELECT * FROM playlists WHERE id = ?", [pid]))
    if not rows:
        raise NotFoundError(f"no playlist {pid} in library {lib.root}")
    return rows[0]


def _item_row(lib: Library, item_id: int | str) -> dict[str, Any]:
    iid = _int_id(item_id, "playlist item")
    rows = list(lib.db.query("SELECT * FROM playlist_items WHERE id = ?", [iid]))
    if not rows:
        raise NotFoundError(f"no playlist item {iid}")
    return rows[0]


def _clips(lib: Library, clip_ids: Iterable[int | str]) -> list[Clip]:
    """The clips, checked to exist, in the order given (NotFoundError names the first
    unknown one, before anything is written)."""
    return [get_clip(lib, c) for c in clip_ids]


def _touch(lib: Library, playlist_id: int) -> None:
    lib.db.execute("UPDATE playlists SET updated_at = ? WHERE id = ?", [now_iso(), playlist_id])


# playlists ------------------------------------------------------------------------------

def create_playlist(lib: Library, title: str, *, description: str = "",
                    audience: str = "") -> Playlist:
    title = _text(title, "title", MAX_TITLE_CHARS, required=True)
    _check_title_free(lib, title)
    stamp = now_iso()
    with lib.store.write():
        pid = int(lib.db["playlists"].insert({
            "title": title, "description": _text(description, "description", MAX_NOTE_CHARS),
            "audience": _text(audience, "audience", MAX_TITLE_CHARS), "created_at": stamp,
            "updated_at": stamp}).last_pk)
    return get_playlist(lib, pid)


def _check_title_free(lib: Library, title: str, playlist_id: int | None = None) -> None:
    if lib.db.execute("SELECT 1 FROM playlists WHERE title = ? COLLATE NOCASE AND id IS NOT ?",
                      [title, playlist_id]).fetchone():
        raise InputError(f"there is already a playlist called {title!r}")


def update_playlist(lib: Library, playlist_id: int | str, *, title: str | None = None,
                    description: str | None = None, audience: str | None = None) -> Playlist:
    row = _playlist_row(lib, playlist_id)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _text(title, "title", MAX_TITLE_CHARS, required=True)
        _check_title_free(lib, changes["title"], row["id"])
    if description is not None:
        changes["description"] = _text(description, "description", MAX_NOTE_CHARS)
    if audience is not None:
        changes["audience"] = _text(audience, "audience", MAX_TITLE_CHARS)
    if changes:
        changes["updated_at"] = now_iso()
        with lib.store.write():
            lib.db["playlists"].update(row["id"], changes)
    return get_playlist(lib, row["id"])


def delete_playlist(lib: Library, playlist_id: int | str) -> None:
    """Delete a playlist, its items and its learners' progress (the clips stay)."""
    pid = _playlist_row(lib, playlist_id)["id"]
    with lib.store.write():
        lib.db.execute("DELETE FROM learner_progress WHERE playlist_id = ?", [pid])
        lib.db.execute("DELETE FROM comparison_clips WHERE item_id IN "
                       "(SELECT id FROM playlist_items WHERE playlist_id = ?)", [pid])
        lib.db.execute("DELETE FROM playlist_items WHERE playlist_id = ?", [pid])
        lib.db.execute("DELETE FROM playlists WHERE id = ?", [pid])


def list_playlists(lib: Library) -> list[PlaylistSummary]:
    """Every playlist, most recently changed first."""
    return [PlaylistSummary(r["id"], r["title"], r["description"] or "", r["audience"] or "",
                            r["n"], r["nc"], r["updated_at"])
            for r in lib.db.query(
                "SELECT p.*, (SELECT COUNT(*) FROM playlist_items i WHERE i.playlist_id = p.id)"
                " AS n, (SELECT COUNT(*) FROM playlist_items i WHERE i.playlist_id = p.id AND "
                "i.kind = 'comparison') AS nc FROM playlists p "
                "ORDER BY p.updated_at DESC, p.id DESC")]


def get_playlist(lib: Library, playlist_id: int | str) -> Playlist:
    row = _playlist_row(lib, playlist_id)
    item_rows = list(lib.db.query(
        "SELECT * FROM playlist_items WHERE playlist_id = ? ORDER BY position, id", [row["id"]]))
    columns: dict[int, list[tuple[int, str]]] = {}
    for r in lib.db.query(
            "SELECT c.item_id, c.clip_id, c.note FROM comparison_clips c JOIN playlist_items i "
            "ON i.id = c.item_id WHERE i.playlist_id = ? ORDER BY c.item_id, c.position",
            [row["id"]]):
        columns.setdefault(r["item_id"], []).append((r["clip_id"], r["note"] or ""))
    cache: dict[int, Clip] = {}

    def clip(cid: int) -> Clip:
        if cid not in cache:
            cache[cid] = get_clip(lib, cid)
        return cache[cid]

    items = []
    for n, r in enumerate(item_rows, 1):
        if r["kind"] == "comparison":
            cols = columns.get(r["id"], [])
            clips = tuple(clip(c) for c, _ in cols)
            notes = tuple(note for _, note in cols)
            title = r["title"] or "Comparison"
        else:
            clips = (clip(r["clip_id"]),)
            notes = ("",)
            title = r["title"] or clips[0].title
        items.append(PlaylistItem(r["id"], row["id"], n, r["section"] or "", r["kind"], title,
                                  r["note"] or "", clips, notes, r["created_at"]))
    return Playlist(row["id"], row["title"], row["description"] or "", row["audience"] or "",
                    row["created_at"], row["updated_at"], tuple(items))


def get_item(lib: Library, item_id: int | str) -> PlaylistItem:
    row = _item_row(lib, item_id)
    return get_playlist(lib, row["playlist_id"]).item(row["id"])


# order ----------------------------------------------------------------------------------

def _order(lib: Library, playlist_id: int) -> list[tuple[int, str]]:
    """(item id, section) in play order."""
    return [(r[0], r[1] or "") for r in lib.db.execute(
        "SELECT id, section FROM playlist_items WHERE playlist_id = ? ORDER BY position, id",
        [playlist_id])]


def _grouped(order: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Items of one section brought together, sections in the order of their first item."""
    first: dict[str, int] = {}
    for n, (_, section) in enumerate(order):
        first.setdefault(section, n)
    return sorted(order, key=lambda x: first[x[1]])  # stable: keeps the order inside


def _save_order(lib: Library, playlist_id: int, order: list[tuple[int, str]]) -> None:
    """Write positions 1..n and sections (inside a write transaction)."""
    lib.db.conn.executemany("UPDATE playlist_items SET position = ?, section = ? WHERE id = ?",
                            [(n, section, iid) for n, (iid, section) in enumerate(order, 1)])
    _touch(lib, playlist_id)


def _insert_at(order: list[tuple[int, str]], section: str | None) -> tuple[int, str]:
    """Where new items go (index into ``order``) and their section: after the last item of
    ``section`` when it exists, else at the end; no section given: the last item's."""
    if section is None:
        return len(order), (order[-1][1] if order else "")
    at = [n for n, (_, s) in enumerate(order) if s == section]
    return (at[-1] + 1 if at else len(order)), section


def add_items(lib: Library, playlist_id: int | str, clip_ids: Sequence[int | str], *,
              section: str | None = None, note: str = "") -> AddResult:
    """Add clips (several at once) with one note; clips already in the playlist are skipped.
    Unknown clip ids are refused before anything is added."""
    pid = _playlist_row(lib, playlist_id)["id"]
    if not clip_ids:
        raise InputError("pick at least one clip to add")
    clips = _clips(lib, clip_ids)
    note = _text(note, "note", MAX_NOTE_CHARS)
    section = None if section is None else _section(section)
    present = {r[0] for r in lib.db.execute(
        "SELECT clip_id FROM playlist_items WHERE playlist_id = ? AND kind = 'clip'", [pid])}
    new, skipped = [], []
    for c in clips:
        (skipped if c.id in present or c.id in new else new).append(c.id)
    stamp = now_iso()
    added: list[int] = []
    with lib.store.write():
        order = _order(lib, pid)
        at, sec = _insert_at(order, section)
        for cid in new:
            added.append(int(lib.db["playlist_items"].insert({
                "playlist_id": pid, "position": 0, "section": sec, "kind": "clip",
                "clip_id": cid, "title": "", "note": note, "created_at": stamp}).last_pk))
        order[at:at] = [(i, sec) for i in added]
        _save_order(lib, pid, order)
    playlist = get_playlist(lib, pid)
    return AddResult(tuple(playlist.item(i) for i in added), tuple(skipped))


def _comparison_title(clips: Sequence[Clip]) -> str:
    shared = shared_skills(clips)

    def who(c: Clip) -> str:
        name = c.rep or c.call_title
        return f"{name} (A-player)" if c.a_player else f"{name} ({c.rating})"

    head = shared[0] if shared else "Comparison"
    return f"{head} \u2014 {' vs '.join(who(c) for c in clips)}"[:MAX_TITLE_CHARS]


def shared_skills(clips: Sequence[Clip]) -> tuple[str, ...]:
    if not clips:
        return ()
    common = set(s.lower() for s in clips[0].skills)
    for c in clips[1:]:
        common &= {s.lower() for s in c.skills}
    return tuple(s for s in clips[0].skills if s.lower() in common)


def _check_comparison(lib: Library, clip_ids: Sequence[int | str]) -> list[Clip]:
    ids = list(clip_ids)
    if not MIN_COMPARISON_CLIPS <= len(ids) <= MAX_COMPARISON_CLIPS:
        raise InputError(f"a comparison holds {MIN_COMPARISON_CLIPS} to "
                         f"{MAX_COMPARISON_CLIPS} clips, not {len(ids)}")
    clips = _clips(lib, ids)
    if len({c.id for c in clips}) != len(clips):
        raise InputError("a comparison needs different clips: a clip appears twice")
    return clips


def add_comparison(lib: Library, playlist_id: int | str, clip_ids: Sequence[int | str], *,
                   title: str | None = None, note: str = "",
                   clip_notes: Sequence[str] | None = None,
                   section: str | None = None) -> PlaylistItem:
    """Add a comparison of 2-4 clips (shown side by side, in this order)."""
    pid = _playlist_row(lib, playlist_id)["id"]
    clips = _check_comparison(lib, clip_ids)
    notes = list(clip_notes or [])
    if len(notes) > len(clips):
        raise InputError(f"{len(notes)} column notes for {len(clips)} clips")
    notes = [_text(n, "column note", MAX_NOTE_CHARS) for n in notes]
    notes += [""] * (len(clips) - len(notes))
    title = _text(title, "title", MAX_TITLE_CHARS) or _comparison_title(clips)
    note = _text(note, "note", MAX_NOTE_CHARS)
    section = None if section is None else _section(section)
    with lib.store.write():
        order = _order(lib, pid)
        at, sec = _insert_at(order, section)
        iid = int(lib.db["playlist_items"].insert({
            "playlist_id": pid, "position": 0, "section": sec, "kind": "comparison",
            "clip_id": None, "title": title, "note": note, "created_at": now_iso()}).last_pk)
        lib.db.conn.executemany(
            "INSERT INTO comparison_clips (item_id, position, clip_id, note) VALUES (?, ?, ?, ?)",
            [(iid, n, c.id, cn) for n, (c, cn) in enumerate(zip(clips, notes, strict=True), 1)])
        order.insert(at, (iid, sec))
        _save_order(lib, pid, order)
    return get_playlist(lib, pid).item(iid)


def update_item(lib: Library, item_id: int | str, *, note: str | None = None,
                title: str | None = None, section: str | None = None,
                clip_notes: Sequence[str] | None = None) -> PlaylistItem:
    """Change an item's note, title (comparisons), section, or column notes. An item given
    another section moves to the end of it."""
    row = _item_row(lib, item_id)
    pid = row["playlist_id"]
    changes: dict[str, Any] = {}
    if note is not None:
        changes["note"] = _text(note, "note", MAX_NOTE_CHARS)
    if title is not None:
        if row["kind"] != "comparison":
            raise InputError("a clip item shows its clip's title; rename the clip instead")
        changes["title"] = _text(title, "title", MAX_TITLE_CHARS, required=True)
    if clip_notes is not None:
        if row["kind"] != "comparison":
            raise InputError("only comparisons have a note per column")
        count = lib.db.execute("SELECT COUNT(*) FROM comparison_clips WHERE item_id = ?",
                               [row["id"]]).fetchone()[0]
        if len(clip_notes) != count:
            raise InputError(f"give {count} column notes, one per clip, not {len(clip_notes)}")
        checked = [_text(n, "column note", MAX_NOTE_CHARS) for n in clip_notes]
    with lib.store.write():
        if changes:
            lib.db["playlist_items"].update(row["id"], changes)
        if clip_notes is not None:
            lib.db.conn.executemany(
                "UPDATE comparison_clips SET note = ? WHERE item_id = ? AND position = ?",
                [(n, row["id"], p) for p, n in enumerate(checked, 1)])
        if section is not None and _section(section) != (row["section"] or ""):
            sec = _section(section)
            order = [x for x in _order(lib, pid) if x[0] != row["id"]]
            at, sec = _insert_at(order, sec)
            order.insert(at, (row["id"], sec))
            _save_order(lib, pid, order)
        else:
            _touch(lib, pid)
    return get_playlist(lib, pid).item(row["id"])


def remove_item(lib: Library, item_id: int | str) -> None:
    """Take an item out of its playlist (the clips stay in the library)."""
    row = _item_row(lib, item_id)
    with lib.store.write():
        lib.db.execute("DELETE FROM learner_progress WHERE item_id = ?", [row["id"]])
        lib.db.execute("DELETE FROM comparison_clips WHERE item_id = ?", [row["id"]])
        lib.db.execute("DELETE FROM playlist_items WHERE id = ?", [row["id"]])
        _save_order(lib, row["playlist_id"], _order(lib, row["playlist_id"]))


def move_item(lib: Library, item_id: int | str, *, to: int | None = None,
              step: int | None = None) -> Playlist:
    """Move an item to position ``to`` (1-based, clamped), or one ``step`` up (-1) or
    down (+1). See the module docstring for how sections follow."""
    if (to is None) == (step is None):
        raise InputError("say where to move the item: a position, or up or down")
    row = _item_row(lib, item_id)
    pid, iid = row["playlist_id"], row["id"]
    with lib.store.write():
        order = _order(lib, pid)
        n = next(k for k, (i, _) in enumerate(order) if i == iid)
        own = order[n][1]
        if step is not None:
            if step not in (-1, 1):
                raise InputError("a step is -1 (up) or 1 (down)")
            m = n + step
            if 0 <= m < len(order):
                if order[m][1] != own:  # at a section's edge: cross into the next section
                    order[n] = (iid, order[m][1])
                else:
                    order[n], order[m] = order[m], order[n]
        else:
            rest = order[:n] + order[n + 1:]
            k = min(max(int(to), 1), len(order)) - 1
            before = rest[k - 1][1] if k > 0 else None
            after = rest[k][1] if k < len(rest) else None
            alone = sum(1 for _, sec in order if sec == own) == 1
            if own not in (before, after) and (before == after or not alone):
                own = before if before is not None else (after if after is not None else own)
            rest.insert(k, (iid, own))
            order = rest
        _save_order(lib, pid, _grouped(order))
    return get_playlist(lib, pid)


def sections(lib: Library, playlist_id: int | str) -> list[str]:
    pid = _playlist_row(lib, playlist_id)["id"]
    return list(dict.fromkeys(s for _, s in _order(lib, pid)))


def rename_section(lib: Library, playlist_id: int | str, old: str, new: str) -> Playlist:
    """Rename a section; renaming onto another section's name merges the two (the renamed
    items join the other section where it stands)."""
    pid = _playlist_row(lib, playlist_id)["id"]
    old, new = _section(old), _section(new)
    with lib.store.write():
        order = _order(lib, pid)
        if old not in {s for _, s in order}:
            raise NotFoundError(f"playlist {pid} has no section {old!r}")
        _save_order(lib, pid, _grouped([(i, new if s == old else s) for i, s in order]))
    return get_playlist(lib, pid)


def move_section(lib: Library, playlist_id: int | str, name: str, step: int) -> Playlist:
    """Move a whole section one place up (-1) or down (+1)."""
    pid = _playlist_row(lib, playlist_id)["id"]
    name = _section(name)
    if step not in (-1, 1):
        raise InputError("a step is -1 (up) or 1 (down)")
    with lib.store.write():
        order = _order(lib, pid)
        names = list(dict.fromkeys(s for _, s in order))
        if name not in names:
            raise NotFoundError(f"playlist {pid} has no section {name!r}")
        n = names.index(name)
        m = n + step
        if 0 <= m < len(names):
            names[n], names[m] = names[m], names[n]
        rank = {s: k for k, s in enumerate(names)}
        _save_order(lib, pid, sorted(order, key=lambda x: rank[x[1]]))
    return get_playlist(lib, pid)


# comparisons ----------------------------------------------------------------------------

def _sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.findall(text) if s.strip()]


def clip_view(lib: Library, clip: Clip, note: str = "") -> ClipView:
    """A clip's transcript and figures for a comparison column (or a learner's player)."""
    lines = clip_transcript(lib, clip)
    talk = {"rep": 0.0, "customer": 0.0}
    for line in lines:
        if line.role in talk:
            talk[line.role] += sum(max(0.0, w.end_s - w.start_s) for w in line.words)
    total = talk["rep"] + talk["customer"]
    questions = tuple(s for line in lines if line.role == "rep"
                      for s in _sentences(line.text) if is_question(s))
    return ClipView(clip, note, lines, clip.duration_s,
                    round(talk["rep"] / total, 4) if total > 0 else None, questions)


def item_views(lib: Library, item: PlaylistItem) -> tuple[ClipView, ...]:
    """The clip view of each of an item's clips (one for a clip item)."""
    return tuple(clip_view(lib, c, n) for c, n in zip(item.clips, item.clip_notes, strict=True))


def comparison(lib: Library, item_id: int | str) -> Comparison:
    row = _item_row(lib, item_id)
    if row["kind"] != "comparison":
        raise InputError(f"playlist item {row['id']} is a clip, not a comparison")
    item = get_item(lib, row["id"])
    return Comparison(item.id, item.title, item.note, shared_skills(item.clips),
                      item_views(lib, item))


def _is_model(c: Clip) -> bool:
    return c.rating != "poor" and (c.a_player or c.rating == "good")


def suggest_comparisons(lib: Library, skill: str, *,
                        limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
    """Pairs of clips tagged ``skill``: one from an A-player or rated good (and not rated
    poor), one rated poor. Strongest models first (A-player *and* rated good)."""
    clips = list_clips(lib, skill=skill)
    name = next((s for c in clips for s in c.skills if s.lower() == skill.strip().lower()),
                skill.strip())
    models = sorted((c for c in clips if _is_model(c)),
                    key=lambda c: (-(c.a_player + (c.rating == "good")), c.id))
    poor = sorted((c for c in clips if c.rating == "poor"), key=lambda c: c.id)
    out = []
    for m in models:
        for p in poor:
            if m.id == p.id or (m.rep and m.rep == p.rep and m.call_id == p.call_id):
                continue
            why = " and ".join(x for x in ("A-player" if m.a_player else "",
                                           "rated good" if m.rating == "good" else "") if x)
            out.append(Suggestion(name, m, p, f"{m.rep or m.call_title} ({why}) vs "
                                              f"{p.rep or p.call_title} (rated poor)"))
    return out[:limit]


# learners -------------------------------------------------------------------------------

def record_progress(lib: Library, learner: str, item_id: int | str, *,
                    played: bool | None = None, done: bool | None = None,
                    reflection: str | None = None) -> ItemProgress:
    """Mark an item played or done (or not), or save the learner's reflection on it."""
    name = learner_name(learner)
    row = _item_row(lib, item_id)
    if reflection is not None:
        reflection = reflection.strip()
        if len(reflection) > MAX_REFLECTION_CHARS:
            raise InputError(f"the reflection is {len(reflection)} characters long; keep it "
                             f"under {MAX_REFLECTION_CHARS} (a few sentences)")
    values = [None if v is None else int(v) for v in (played, done)]
    with lib.store.write():
        lib.db.execute(
            "INSERT INTO learner_progress (learner, playlist_id, item_id, played, done, "
            "reflection, updated_at) VALUES (?, ?, ?, COALESCE(?, 0), COALESCE(?, 0), "
            "COALESCE(?, ''), ?) ON CONFLICT (learner, item_id) DO UPDATE SET "
            "played = COALESCE(?, played), done = COALESCE(?, done), "
            "reflection = COALESCE(?, reflection), updated_at = excluded.updated_at",
            [name, row["playlist_id"], row["id"], *values, reflection, now_iso(),
             *values, reflection])
    return next(i for i in learner_progress(lib, row["playlist_id"], name).items
                if i.item_id == row["id"])


def learner_progress(lib: Library, playlist_id: int | str, learner: str) -> LearnerProgress:
    """A learner's state on every item of a playlist, in play order."""
    name = learner_name(learner)
    playlist = get_playlist(lib, playlist_id)
    rows = {r["item_id"]: r for r in lib.db.query(
        "SELECT * FROM learner_progress WHERE playlist_id = ? AND learner = ?",
        [playlist.id, name])}
    items = []
    for item in playlist.items:
        r = rows.get(item.id)
        items.append(ItemProgress(item.id, item.position, item.title,
                                  bool(r and r["played"]), bool(r and r["done"]),
                                  (r["reflection"] or "") if r else "",
                                  r["updated_at"] if r else None))
    return LearnerProgress(name, playlist.id, tuple(items))


def progress_report(lib: Library, playlist_id: int | str) -> list[LearnerSummary]:
    """Every learner who started a playlist, with how far they got (most done first)."""
    pid = _playlist_row(lib, playlist_id)["id"]
    total = lib.db.execute("SELECT COUNT(*) FROM playlist_items WHERE playlist_id = ?",
                           [pid]).fetchone()[0]
    rows = lib.db.query(
        "SELECT learner, SUM(played) AS played, SUM(done) AS done, "
        "SUM(reflection != '') AS reflections, MAX(updated_at) AS last FROM learner_progress "
        "WHERE playlist_id = ? GROUP BY learner ORDER BY SUM(done) DESC, learner", [pid])
    return [LearnerSummary(r["learner"], pid, total, r["played"] or 0, r["done"] or 0,
                           r["reflections"] or 0, r["last"]) for r in rows]


def learners(lib: Library) -> list[str]:
    """Everyone who has progress on any playlist, by name."""
    return [r[0] for r in lib.db.execute(
        "SELECT DISTINCT learner FROM learner_progress ORDER BY learner COLLATE NOCASE")]


# JSON -----------------------------------------------------------------------------------

def _clip_json(clip: Clip) -> dict[str, Any]:
    return {"clip_id": clip.id, "title": clip.title, "call_id": clip.call_id,
            "call_title": clip.call_title, "rep": clip.rep, "a_player": clip.a_player,
            "rating": clip.rating, "skills": list(clip.skills),
            "messages": list(clip.messages), "start_s": clip.start_s, "end_s": clip.end_s,
            "duration_s": clip.duration_s, "format": clip.format}


def view_json(view: ClipView) -> dict[str, Any]:
    return {**_clip_json(view.clip), "note": view.note,
            "rep_talk_share": view.rep_talk_share,
            "rep_questions": list(view.rep_questions),
            "transcript": [{"speaker": line.speaker, "role": line.role,
                            "start_s": line.start_s, "end_s": line.end_s, "text": line.text}
                           for line in view.lines]}


def playlist_json(lib: Library, playlist: Playlist, *, detail: bool = False) -> dict[str, Any]:
    """What `clipstudio playlist show --json` prints; ``detail`` adds each clip's
    transcript and figures (the JSON export)."""
    items = []
    for item in playlist.items:
        if detail:
            clips = [view_json(v) for v in item_views(lib, item)]
        else:
            clips = [{**_clip_json(c), "note": n}
                     for c, n in zip(item.clips, item.clip_notes, strict=True)]
        items.append({"item_id": item.id, "position": item.position, "section": item.section,
                      "kind": item.kind, "title": item.title, "note": item.note,
                      "duration_s": item.duration_s, "clips": clips})
    return {"playlist_id": playlist.id, "title": playlist.title,
            "description": playlist.description, "audience": playlist.audience,
            "created_at": playlist.created_at, "updated_at": playlist.updated_at,
            "duration_s": playlist.duration_s,
            "sections": [s.name for s in playlist.sections], "items": items}
