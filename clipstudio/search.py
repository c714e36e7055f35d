"""Full-text search over every utterance of the library, with whoosh.

Why it is built the way it is:

* **SQLite is the truth, the index is a cache.** whoosh never fsyncs, so a commit can be
  lost on power failure. Opening a :class:`SearchIndex` therefore checks the index and
  repairs it from SQLite when it is missing, corrupt, of an older schema, or holds a
  different number of utterances than SQLite (:meth:`SearchIndex.rebuild` does it all).
* **Stemming with porter2 and no stop list.** whoosh's own Porter stemmer is buggy
  ("running" does not match "run") and its default stop list turns the phrase
  "not in the budget" into "budget". Both are avoided by :data:`ANALYZER`.
* **Writes queue, none is lost.** whoosh lets one writer in and fails the second at once.
  Every write takes the index's ``MAIN_WRITELOCK`` (the flock ``ix.writer()`` takes) with a
  waiting retry loop, and *before* waiting it notes the call in a small journal
  (``index/pending-calls``). Whoever holds the lock re-reads those calls from SQLite and
  indexes them, so even a writer that gives up waiting (or dies) is caught up by the next
  writer or the next open. The lock is taken before SQLite is read, so the last writer
  always indexes the newest rows.
* **One searcher per SearchIndex**, kept while the index is unchanged (a cheap generation
  check per search) and reopened only after a commit, because a fresh searcher starts with
  cold caches (field lengths, stored-field offsets). (whoosh's ``Searcher.refresh()`` is
  not used: it shows stale deletions, see :meth:`SearchIndex._current_searcher`.)
* **Phrases run on word pairs.** whoosh checks a phrase by decoding every word's positions
  in every utterance that holds all its words, in Python: ~100 us per candidate, so a
  common phrase over a 1,000-call library took most of a second. Each utterance is
  therefore also indexed as its stemmed word pairs (field ``pairs``: "too expensive" ->
  ``too expens``, with positions), and :func:`_phrases_on_pairs` runs a two-word phrase as
  one pair term and a longer one as pairs at fixed offsets (exact: pair *i* sits at
  word *i*'s position), whose candidates are already nearly all matches.
* **Other speed-ups** (figures in ``bench/RESULTS.md``, from ``bench/search_bench.py``):
  every search counts its total in the same single pass that ranks (whoosh's block
  skipping would run the whole query a second time to count); role/rep/outcome/date
  filters are bitsets cached per index segment; BM25 reads field lengths from memory
  (:class:`_BM25F`); ``word~`` looks its words up once (:func:`_expand_fuzzy`), not
  again for the highlight; a search within one call intersects with that call's utterances
  instead of filtering every match in the library; the index is read without mmap, which
  whoosh would copy whole into memory on every reader it opens (:meth:`SearchIndex._storage`).

Highlights are **Markdown**: matched words are wrapped in ``**...**`` and Markdown
specials in the transcript (``$ * _`` ...) are backslash-escaped, so a Streamlit page can
pass ``hit.highlight`` to ``st.markdown`` as is ("$48,000" would otherwise become LaTeX).
Use ``hit.text`` for plain output.

Query language (whoosh syntax, words are ANDed by default)::

    pricing                      stems: also price, prices, priced
    "not in the budget"          exact phrase, small words kept
    budget OR price   budget NOT over   budget -over
    salesforse~   salesforse~2   fuzzy (edit distance 1, or 2)
    pric*                        prefix (matches stems, so prefer short prefixes)
    role:customer  rep:"Dana Lee"  outcome:won  speaker:"Laura"  account:"Acme Logistics"
    date:[2025-01-01 TO 2025-06-30]   date:2025-07   tags:pricing   title:discovery

Synonym groups (a library setting) widen plain words and quoted phrases: with the group
``["expensive", "pricey", "over budget"]`` the query ``expensive`` also finds "pricey" and
the phrase "over budget".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import threading
import time
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

from whoosh import analysis, fields, index, qparser, query, scoring
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.filedb.filestore import FileStorage
from whoosh.idsets import BitSet, DocIdSet
from whoosh.lang.porter2 import stem as porter2_stem
from whoosh.query.spans import Span
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

from .errors import ClipStudioError, InputError
from .metadata import parse_date, parse_outcome
from .models import Utterance

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 2: the ``pairs`` field, 2-tier dates; 3: clip documents, kind, rating
"""Bump when the schema or the analyzer changes: every index is rebuilt on next open."""

INDEX_DIRNAME = "index"
META_FILE = "clipstudio-index.json"  # {"schema_version": ..., "built_at": ...}
JOURNAL_FILE = "pending-calls"  # call ids whose index update is still owed, one a line
LOCK_NAME = "MAIN_WRITELOCK"  # the file ix.writer() flocks, so plain whoosh writers queue too
_KEEP_FILES = {META_FILE, JOURNAL_FILE, LOCK_NAME}

WRITE_TIMEOUT_S = 60.0
"""How long a write waits for another process's write. Past it the call stays journaled
and is indexed by the next writer or the next open; the caller is not failed."""

LIMIT_MB = 64
"""Writer pool memory: bounded for a 2-core/low-RAM box shared with the app and whisper."""

REPAIR_FRACTION = 0.5
"""On a count mismatch, reindex only the calls that differ unless more than this share does."""

DEFAULT_LIMIT = 50

FILTER_CACHE_SIZE = 64
"""Filter bitsets kept, per (segment, filter): one bit per utterance of the segment, so
~30 KB for a 1,000-call segment, ~300 KB for 10,000 calls."""

DEFAULT_SYNONYMS: list[list[str]] = [
    ["expensive", "pricey", "over budget", "too much", "out of budget"],
    ["price", "cost", "fee"],
    ["discount", "reduction", "money off"],
    ["competitor", "alternative", "other vendor"],
    ["boss", "supervisor", "decision maker"],
    ["contract", "agreement"],
    ["trial", "pilot", "proof of concept"],
    ["onboarding", "ramp", "ramping"],
]
"""Sales-call vocabulary. Editable per library with :func:`set_synonyms`."""

ANALYZER = analysis.StemmingAnalyzer(stemfn=porter2_stem, stoplist=None)


class _PairFilter(analysis.Filter):
    """Stems -> adjacent stem pairs at the first word's position: "too", "expens" ->
    "too expens". Positions stay consecutive, so a phrase of pairs is the phrase of words."""

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        prev: str | None = None
        prev_pos = 0
        for t in tokens:
            text, pos = t.text, getattr(t, "pos", 0)
            if prev is not None:
                t.text = f"{prev} {text}"
                if t.positions:
                    t.pos = prev_pos
                yield t
            prev, prev_pos = text, pos


PAIR_ANALYZER = ANALYZER | _PairFilter()
_KEYWORD = analysis.IDTokenizer() | analysis.LowercaseFilter()  # exact but case-insensitive


class _DATE(fields.DATETIME):
    """DATETIME indexed as 2 terms per value instead of 8: one value per call (a day), so
    range queries stay cheap, and every utterance carries it (6 fewer postings each)."""

    def __init__(self) -> None:
        super().__init__()
        self.shift_step = 32


FIELD_NAMES = ("text", "title", "role", "rep", "speaker", "account", "outcome", "date", "tags",
               "rating",
               "call_id", "utterance_id")


def make_schema() -> fields.Schema:
    """One document per utterance, carrying its call's metadata so filters need no join,
    plus one per clip (``kind`` clip: title, notes and transcript as its text, its skills
    and messages as ``tags``, its ``rating``). An utterance's ``tags`` are those of the
    clips that cover it."""
    return fields.Schema(
        utterance_id=fields.ID(stored=True, unique=True),  # "clip-N" for a clip
        kind=fields.ID(stored=True),  # utterance or clip
        clip_id=fields.ID(stored=True),
        rating=fields.ID(analyzer=_KEYWORD, stored=True),
        call_id=fields.ID(stored=True, sortable=True),  # sortable: per-call counts for repair
        idx=fields.STORED,
        text=fields.TEXT(analyzer=ANALYZER, stored=True, phrase=True),
        # the text again, as word pairs: exact phrases run on it (_phrases_on_pairs), so
        # every document with a text has it too (_add_document fills it in)
        pairs=fields.TEXT(analyzer=PAIR_ANALYZER, phrase=True),
        title=fields.TEXT(analyzer=ANALYZER, stored=True),
        rep=fields.ID(analyzer=_KEYWORD, stored=True),
        account=fields.ID(analyzer=_KEYWORD, stored=True),
        outcome=fields.ID(analyzer=_KEYWORD, stored=True),
        speaker=fields.ID(analyzer=_KEYWORD, stored=True),
        role=fields.ID(analyzer=_KEYWORD, stored=True),
        tags=fields.KEYWORD(lowercase=True, commas=True, scorable=True, stored=True),
        date=_DATE(),
        call_date=fields.STORED,  # 'YYYY-MM-DD' as SQLite has it, for display
        start_s=fields.STORED,
        end_s=fields.STORED,
    )


# results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    """One matching utterance. ``highlight`` is Markdown (see the module docstring)."""

    call_id: int
    utterance_id: int | None  # None for a clip
    index: int
    speaker: str | None
    role: str | None
    start_s: float
    end_s: float
    text: str
    highlight: str
    score: float
    title: str
    rep: str | None
    call_date: str | None
    clip_id: int | None = None  # set when the hit is a clip (``kind="clip"`` searches)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    """``total`` counts every match; ``hits`` holds the best ``limit`` of them."""

    query: str
    total: int
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class CallHits:
    """The hits of one call, in time order; ``count`` counts hits in the result, not total."""

    call_id: int
    title: str
    rep: str | None
    call_date: str | None
    count: int
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Context:
    """A hit's utterance with up to ``n`` neighbours each side, read fresh from SQLite."""

    before: tuple[Utterance, ...]
    utterance: Utterance | None
    after: tuple[Utterance, ...]


def grouped(result: SearchResult) -> list[CallHits]:
    """Hits per call, calls ordered by their best hit, hits in time order within a call."""
    by_call: dict[int, list[Hit]] = {}
    for h in result.hits:  # hits arrive best first, so dict order is best-call first
        by_call.setdefault(h.call_id, []).append(h)
    out = []
    for call_id, hits in by_call.items():
        first = hits[0]
        ordered = tuple(sorted(hits, key=lambda h: (h.start_s, h.index)))
        out.append(CallHits(call_id, first.title, first.rep, first.call_date, len(hits), ordered))
    return out


def to_json(result: SearchResult) -> dict[str, Any]:
    """The stable machine-readable shape the CLI prints (``--json``)."""
    keys = ("call_id", "utterance_id", "speaker", "role", "start_s", "end_s", "text", "highlight")
    return {
        "query": result.query,
        "total": result.total,
        "hits": [{k: getattr(h, k) for k in keys} for h in result.hits],
    }


def context(lib: Any, hit: Hit, n: int = 1) -> Context:
    """The utterances around a hit, from SQLite (the index may lag a rename by a moment)."""
    if n < 0:
        raise InputError("context size must be 0 or more")
    rows = list(lib.db.query(
        "SELECT id, idx, speaker_id, start_s, end_s, text FROM utterances "
        "WHERE call_id = ? AND idx BETWEEN ? AND ? ORDER BY idx",
        [hit.call_id, hit.index - n, hit.index + n]))
    speakers = {sp.id: sp for sp in lib.speakers(hit.call_id)} if rows else {}
    before: list[Utterance] = []
    after: list[Utterance] = []
    middle: Utterance | None = None
    for r in rows:
        sp = speakers.get(r["speaker_id"])
        u = Utterance(id=r["id"], index=r["idx"], start_s=r["start_s"], end_s=r["end_s"],
                      text=r["text"], words=(), speaker=sp.display if sp else None,
                      role=sp.role if sp else None)
        if r["idx"] < hit.index:
            before.append(u)
        elif r["idx"] > hit.index:
            after.append(u)
        else:
            middle = u
    return Context(tuple(before), middle, tuple(after))


# synonyms -----------------------------------------------------------------------------
def _clean_groups(groups: Any) -> list[list[str]]:
    if not isinstance(groups, list | tuple):
        raise InputError("synonyms must be a list of groups, each a list of words or phrases")
    out: list[list[str]] = []
    for n, group in enumerate(groups, start=1):
        if isinstance(group, str):
            group = group.split(",")
        if not isinstance(group, list | tuple):
            raise InputError(f"synonym group {n} must be a list of words or phrases")
        words: list[str] = []
        for w in group:
            if not isinstance(w, str):
                raise InputError(f"synonym group {n}: {w!r} is not text")
            w = " ".join(w.split()).lower()
            if w and w not in words:
                if '"' in w or not _tokens(w):
                    raise InputError(f"synonym group {n}: {w!r} has no searchable word")
                words.append(w)
        if len(words) == 1:
            raise InputError(f"synonym group {n} needs at least two entries, got {words[0]!r}")
        if words:
            out.append(words)
    return out


def parse_synonyms(text: str) -> list[list[str]]:
    """Settings-page text, one group a line, entries comma-separated -> groups."""
    return _clean_groups([line for line in text.splitlines() if line.strip()])


def format_synonyms(groups: Iterable[Sequence[str]]) -> str:
    """Groups -> the one-line-per-group text :func:`parse_synonyms` reads."""
    return "\n".join(", ".join(g) for g in groups)


def synonyms(lib: Any) -> list[list[str]]:
    """The library's synonym groups (:data:`DEFAULT_SYNONYMS` until someone edits them)."""
    stored = lib.store.get_setting("synonyms", None)
    if stored is None:
        return [list(g) for g in DEFAULT_SYNONYMS]
    try:
        return _clean_groups(stored)
    except InputError as exc:  # a hand-edited setting must not break search
        log.warning("ignoring bad synonyms setting: %s", exc)
        return [list(g) for g in DEFAULT_SYNONYMS]


def set_synonyms(lib: Any, groups: Iterable[Sequence[str]] | str) -> list[list[str]]:
    """Validate and store synonym groups (a list of lists, or text as parse_synonyms reads)."""
    cleaned = parse_synonyms(groups) if isinstance(groups, str) else _clean_groups(list(groups))
    lib.store.set_setting("synonyms", cleaned)
    return cleaned


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t.text for t in ANALYZER(text, mode="query"))


# query parsing ------------------------------------------------------------------------
_FIELD_REF = re.compile(r"(?<![\w.])([A-Za-z_]+):(?=\S)")
_MINUS = re.compile(r"(^|[\s(])-(?=[\w\"(])")
_DANGLING = re.compile(r"^\s*(AND|OR)\b|\b(AND|OR|NOT)\s*$")


def _outside_quotes(text: str) -> Iterator[tuple[bool, str]]:
    """Split on double quotes: (False, plain part), (True, quoted part), ..."""
    for n, part in enumerate(text.split('"')):
        yield n % 2 == 1, part


def _precheck(text: str) -> str:
    """Catch what whoosh silently guesses at (it drops an unbalanced quote, for example)."""
    if not text.strip():
        raise InputError("type something to search for")
    if text.count('"') % 2:
        raise InputError('unbalanced quote: every " that opens a phrase needs a closing "')
    # A phrase stands as one word here, so '"a b" OR "c d"' has a word each side of OR.
    plain = " ".join(" phrase " if quoted else p for quoted, p in _outside_quotes(text))
    depth = 0
    for ch in plain:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0:
        raise InputError("unbalanced parentheses: every ( needs a matching )")
    if plain.count("[") != plain.count("]") or plain.count("{") != plain.count("}"):
        raise InputError("unbalanced brackets: write a range as date:[2025-01-01 TO 2025-06-30]")
    for name in _FIELD_REF.findall(plain):
        if name not in FIELD_NAMES:
            raise InputError(f"unknown field {name!r}: use one of {', '.join(FIELD_NAMES)}")
    if _DANGLING.search(plain):
        raise InputError("AND, OR and NOT need a word on each side (NOT: after it)")
    # Google-style "-word" means NOT word; whoosh would read it as the word itself.
    return _MINUS.sub(
        lambda m: m.group(1) + ("NOT " if text.count('"', 0, m.start()) % 2 == 0 else "-"),
        text)


class _Synonyms:
    """Analyzed synonym groups: token tuple -> the other entries' queries."""

    def __init__(self, groups: Iterable[Sequence[str]]) -> None:
        self.alts: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for group in groups:
            keys = [k for k in dict.fromkeys(_tokens(w) for w in group) if k]
            for k in keys:
                merged = self.alts.setdefault(k, [])
                merged.extend(o for o in keys if o != k and o not in merged)
        self.max_len = max((len(k) for k in self.alts), default=0)

    def widen(self, original: query.Query, key: tuple[str, ...]) -> query.Query:
        alts = self.alts.get(key)
        if not alts:
            return original
        return query.Or([original] + [
            query.Term("text", a[0]) if len(a) == 1 else query.Phrase("text", list(a))
            for a in alts
        ])

    def expand(self, q: query.Query) -> query.Query:
        if not self.alts:
            return q
        if type(q) is query.Term and q.fieldname == "text":  # not FuzzyTerm/Variations
            return self.widen(q, (q.text,))
        if type(q) is query.Phrase and q.fieldname == "text" and q.slop == 1:
            return self.widen(q, tuple(q.words))
        if type(q) is query.And:
            return query.And(self._expand_runs(list(q.subqueries)), boost=q.boost)
        return q.apply(self.expand)

    def _expand_runs(self, parts: list[query.Query]) -> list[query.Query]:
        """Unquoted ``over budget`` (And of two Terms) also matches a multi-word synonym."""
        out: list[query.Query] = []
        i = 0
        while i < len(parts):
            done = False
            for n in range(min(self.max_len, len(parts) - i), 1, -1):
                run = parts[i:i + n]
                if all(type(p) is query.Term and p.fieldname == "text" for p in run):
                    key = tuple(p.text for p in run)
                    if key in self.alts:
                        out.append(self.widen(query.And(run), key))
                        i += n
                        done = True
                        break
            if not done:
                out.append(self.expand(parts[i]))
                i += 1
        return out


def _make_parser(schema: fields.Schema) -> qparser.QueryParser:
    parser = qparser.QueryParser("text", schema, group=qparser.AndGroup)
    parser.add_plugin(qparser.FuzzyTermPlugin())
    return parser


def _is_null(q: query.Query) -> bool:
    return q is query.NullQuery or type(q).__name__ == "_NullQuery"


class _PairsAt(query.SpanNear2):
    """Terms of the ``pairs`` field at fixed offsets from the first one (see below)."""

    def __init__(self, pairs: Sequence[str], offsets: Sequence[int]) -> None:
        super().__init__([query.Term("pairs", p) for p in pairs])
        self.offsets = tuple(offsets)

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and self.offsets == getattr(other, "offsets", None)

    def __hash__(self) -> int:
        return super().__hash__() ^ hash(self.offsets)

    def __repr__(self) -> str:
        return f"_PairsAt({[q.text for q in self.qs]!r}, {self.offsets!r})"

    def apply(self, fn: Callable[[query.Query], query.Query]) -> query.Query:
        return self  # built last, from pair terms only: nothing left to rewrite

    def matcher(self, searcher: Searcher, context: Any = None) -> Any:
        return _PairsAtMatcher([q.matcher(searcher, context) for q in self.qs], self.offsets)


class _PairsAtMatcher(query.SpanNear2.SpanNear2Matcher):
    """Intersects all the pairs' posting lists first (the rarest pair drives it), then
    checks their positions only in those few utterances."""

    def __init__(self, ms: list[Any], offsets: tuple[int, ...]) -> None:
        self.offsets = offsets  # before super().__init__, which looks for the first match
        super().__init__(ms)

    def copy(self) -> _PairsAtMatcher:
        return _PairsAtMatcher([m.copy() for m in self.ms], self.offsets)

    def _get_spans(self) -> list[Any]:
        starts: set[int] | None = None
        for m, offset in zip(self.ms, self.offsets, strict=True):
            here = {pos - offset for pos in m.value_as("positions")}
            starts = here if starts is None else starts & here
            if not starts:
                return []
        assert starts is not None
        end = self.offsets[-1] + 1
        return [Span(start, start + end) for start in sorted(starts)]


def _phrases_on_pairs(q: query.Query, reader: Any) -> query.Query:
    """The same query with every exact ``text`` phrase run on the ``pairs`` field.

    "too expensive" becomes the single term ``pairs:"too expens"``. A longer phrase becomes
    pairs at fixed offsets: every other pair plus the last, which together pin every word
    to its place, so the match is exact ("not in the budget" -> ``not in`` at p and
    ``the budget`` at p+2), plus the rarest pair to narrow the candidates. whoosh then
    checks positions only in the utterances holding all those pairs (nearly all of them
    matches) instead of in every utterance that has all the words somewhere.
    """
    if isinstance(q, query.Phrase):
        if (type(q) is not query.Phrase or q.fieldname != "text" or q.slop != 1
                or q.boost != 1.0 or len(q.words) < 2):
            return q
        pairs = [f"{a} {b}" for a, b in zip(q.words, q.words[1:], strict=False)]
        if len(pairs) == 1:
            return query.Term("pairs", pairs[0])
        picks = set(range(0, len(pairs), 2)) | {len(pairs) - 1}
        picks.add(min(range(len(pairs)), key=lambda i: reader.doc_frequency("pairs", pairs[i])))
        order = sorted(picks)
        return _PairsAt([pairs[i] for i in order], [i - order[0] for i in order])
    if q.is_leaf():
        return q
    return q.apply(lambda child: _phrases_on_pairs(child, reader))


def _expand_fuzzy(q: query.Query, reader: Any) -> query.Query:
    """Every ``word~`` as the Or of the words it finds, looked up once: whoosh walks the
    lexicon for each lookup and would do it again for the highlight marks."""
    if type(q) is query.FuzzyTerm:
        words = [w.decode("utf-8") if isinstance(w, bytes) else w
                 for w in q._btexts(reader) if w]
        if not words:
            return query.NullQuery
        if len(words) == 1:  # as FuzzyTerm.matcher does
            return query.Term(q.fieldname, words[0])
        return query.Or([query.Term(q.fieldname, w) for w in words], boost=q.boost)
    if q.is_leaf():
        return q
    return q.apply(lambda child: _expand_fuzzy(child, reader))


# filters ------------------------------------------------------------------------------
class _SegmentDocs(DocIdSet):
    """A filter over several segments: (first docnum, bitset of the segment's docs)."""

    def __init__(self, parts: list[tuple[int, BitSet]]) -> None:
        self.parts = parts
        self.starts = [offset for offset, _ in parts]

    def __contains__(self, docnum: int) -> bool:
        n = bisect_right(self.starts, docnum) - 1
        return n >= 0 and (docnum - self.parts[n][0]) in self.parts[n][1]

    def __iter__(self) -> Iterator[int]:
        for offset, docs in self.parts:
            for docnum in docs:
                yield offset + docnum

    def __len__(self) -> int:
        return sum(len(docs) for _, docs in self.parts)

    def __bool__(self) -> bool:
        return any(docs for _, docs in self.parts)


# scoring ------------------------------------------------------------------------------
_LENGTH_OF_BYTE = [byte_to_length(b) if b else 1 for b in range(256)]


class _BM25F(scoring.BM25F):
    """whoosh's BM25F, same scores, with each document's field length read from a copy of
    the segment's length column in memory: whoosh reads it through four calls and a file
    read per matching document, a third of the cost of ranking a common word."""

    def scorer(self, searcher: Searcher, fieldname: str, text: bytes, qf: int = 1) -> Any:
        scorer = super().scorer(searcher, fieldname, text, qf=qf)
        if type(scorer) is scoring.BM25FScorer:
            lengths = _field_lengths(searcher, fieldname)
            if lengths is not None:
                table = _LENGTH_OF_BYTE
                scorer.dfl = lambda docnum: table[lengths[docnum]]
        return scorer


def _field_lengths(searcher: Searcher, fieldname: str) -> bytes | None:
    """One length byte per document of this (one-segment) searcher, read once and kept on
    it; None where whoosh's own lookup must do (several segments, another codec)."""
    cache = searcher.__dict__.setdefault("_clipstudio_lengths", {})
    if fieldname not in cache:
        try:
            reader = searcher.reader()
            column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            raw = bytes(column._dbfile.get(column._basepos, column._count * column._fixedlen))
            cache[fieldname] = raw + bytes(max(0, reader.doc_count_all() - len(raw)) + 1)
        except Exception:  # private whoosh internals: fall back, never fail
            cache[fieldname] = None
    return cache[fieldname]


_WEIGHTING = _BM25F()


# highlighting -------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_$<>\[\]~#|])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


@dataclass(frozen=True)
class _Marks:
    """What to bold: single terms (stems, fuzzy/prefix already expanded) and phrases."""

    terms: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]


def _marks(q: query.Query, reader: Any) -> _Marks:
    terms: set[str] = set()
    phrases: list[tuple[str, ...]] = []

    def walk(node: query.Query) -> None:
        if isinstance(node, query.Not):
            return  # excluded words are never in a hit's text worth bolding
        if isinstance(node, query.AndNot):
            walk(node.a)
            return
        if isinstance(node, query.Phrase):
            if node.fieldname == "text":
                if node.slop == 1:
                    phrases.append(tuple(node.words))
                else:
                    terms.update(node.words)
            return
        if node.is_leaf():
            if getattr(node, "fieldname", None) == "text" and not isinstance(node, query.Every):
                for field, t in node.expanded_terms(reader):
                    if field == "text":
                        terms.add(t.decode("utf-8") if isinstance(t, bytes) else t)
            return
        for child in node.children():
            walk(child)

    walk(q)
    return _Marks(frozenset(terms), tuple(phrases))


def _highlight(text: str, marks: _Marks) -> str:
    """Markdown with matched words in ``**bold**``; phrase words only where the phrase is."""
    toks = [(t.text, t.startchar, t.endchar)
            for t in ANALYZER(text, positions=True, chars=True, mode="index")]
    marked = [t[0] in marks.terms for t in toks]
    stems = [t[0] for t in toks]
    for ph in marks.phrases:
        n = len(ph)
        for i in range(len(stems) - n + 1):
            if tuple(stems[i:i + n]) == ph:
                marked[i:i + n] = [True] * n
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(toks):
        if not marked[i]:
            i += 1
            continue
        start, end = toks[i][1], toks[i][2]
        j = i + 1  # merge "too expensive" into one bold run when only spaces separate them
        while j < len(toks) and marked[j] and not text[end:toks[j][1]].strip():
            end = toks[j][2]
            j += 1
        out.append(_md(text[pos:start]) + "**" + _md(text[start:end]) + "**")
        pos = end
        i = j
    out.append(_md(text[pos:]))
    return "".join(out)


# the index ----------------------------------------------------------------------------
def _add_document(writer: Any, doc: dict[str, Any]) -> None:
    """Add one document, its ``pairs`` field copied from ``text`` (phrases search pairs)."""
    if "text" in doc and "pairs" not in doc:
        doc = {**doc, "pairs": doc["text"]}
    writer.add_document(**doc)


class IndexBusy(ClipStudioError):  # noqa: N818
    """Another process held the index's write lock longer than we would wait.

    Writes never raise it (they stay journaled); opening does, only when the index is
    unusable and another process is still rebuilding it.
    """


ProgressFn = Callable[[float], None]


class SearchIndex:
    """The search index of one library (``library.root / "index"``), kept in step with SQLite.

    Create one per process (or per Streamlit session via a cache) and keep it: it holds the
    searcher. Write paths call :meth:`index_call` / :meth:`remove_call` after their SQLite
    commit. Thread-safe: searches share one searcher under a lock.
    """

    def __init__(self, library: Any, *, write_timeout_s: float = WRITE_TIMEOUT_S,
                 on_progress: ProgressFn | None = None) -> None:
        self.lib = library
        self.dir = Path(library.root) / INDEX_DIRNAME
        self.write_timeout_s = write_timeout_s
        self.schema = make_schema()
        self._parser = _make_parser(self.schema)
        self._lock = threading.RLock()
        self._ix: index.Index | None = None
        self._searcher: Searcher | None = None
        self._filters: OrderedDict[tuple[str, str], BitSet] = OrderedDict()  # _filter_docs
        self.last_repair: str | None = None  # why the last open rebuilt/repaired, for the UI
        self.ensure(on_progress=on_progress)

    # lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._ix = None

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sqlite_count(self) -> int:
        # fetchall, not fetchone: a half-read statement keeps a read snapshot open, and a
        # later write on this connection would then fail at once with "database is locked".
        return self.lib.db.execute(
            "SELECT (SELECT COUNT(*) FROM utterances) + (SELECT COUNT(*) FROM clips)"
        ).fetchall()[0][0]

    def _read_meta(self) -> dict[str, Any]:
        try:
            return json.loads((self.dir / META_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def _problem(self) -> str | None:
        """Why the index on disk cannot be used as is (None: it can). Opens the searcher."""
        self.close()
        if not self.dir.is_dir():
            return "missing"
        if self._read_meta().get("schema_version") != SCHEMA_VERSION:
            return "schema"
        try:
            ix = self._storage().open_index()
            if ix.latest_generation() < 0:
                return "missing"
            searcher = ix.searcher(weighting=_WEIGHTING)
            try:  # touch every segment's lexicon and stored fields: garbage fails here
                reader = searcher.reader()
                next(iter(reader.lexicon("call_id")), None)
                for docnum in reader.all_doc_ids():
                    reader.stored_fields(docnum)
                    break
                count = searcher.doc_count()
            except Exception:
                searcher.close()
                raise
        except Exception as exc:  # any whoosh/pickle/IO error: the files are not an index
            log.warning("search index at %s is unreadable (%s); rebuilding", self.dir, exc)
            return "corrupt"
        self._ix, self._searcher = ix, searcher
        if count != self._sqlite_count():
            return "count"
        return None

    def ensure(self, on_progress: ProgressFn | None = None) -> str | None:
        """Make the index usable; return what was wrong (None when nothing was).

        Also applies journaled calls a timed-out or crashed writer left behind.
        """
        with self._lock:
            problem = self._problem()
            if problem is None:
                self.last_repair = None
                if self._journal_size():
                    self._apply_journal(timeout=0.5)  # a writer holds it? it will apply them
                return None
            try:
                with self._writelock(None):
                    again = self._problem()  # someone may have fixed it while we waited
                    if again == "count":
                        self._repair_locked(on_progress)
                    elif again is not None:
                        self._rebuild_locked(on_progress)
                    else:
                        problem = None
            except IndexBusy:
                if problem != "count":
                    raise IndexBusy(f"the search index {self.dir} is being rebuilt by another "
                                    "process; try again in a minute") from None
                log.warning("search index busy; searching it a call or so behind")
                self.last_repair = "busy"
                self._reopen()
                return "busy"
            self.last_repair = problem
            self._reopen()
            return problem

    def _reopen(self) -> None:
        self.close()
        self._ix = self._storage().open_index()
        self._searcher = self._ix.searcher(weighting=_WEIGHTING)

    def _current_searcher(self) -> Searcher:
        if self._searcher is None:
            self.ensure()
        try:
            # Not Searcher.refresh(): whoosh(-reloaded 2.7.5) reuses a segment's reader by
            # segment id alone, so deletions committed since stay invisible and a re-indexed
            # call shows up twice. Reopening after a commit is slower but correct.
            if not self._searcher.up_to_date():
                stale, self._searcher = self._searcher, self._ix.searcher(weighting=_WEIGHTING)
                stale.close()
        except Exception as exc:  # index deleted or damaged under us: repair, then go on
            log.warning("search index changed under us (%s); checking it", exc)
            self._searcher = None
            self.ensure()
        assert self._searcher is not None
        return self._searcher

    def doc_count(self) -> int:
        """Utterances in the index (equals ``SELECT COUNT(*) FROM utterances`` when in step)."""
        with self._lock:
            return self._current_searcher().doc_count()

    def _storage(self) -> FileStorage:
        """The index folder, read through plain file reads, not mmap: whoosh(-reloaded
        2.7.5) copies every file it reads from a memory-mapped segment into a BytesIO, so
        each reader it opens (after every commit, and in every writer) copied the whole
        postings file: 160 MB and ~70 ms at 1,000 calls, ~1.6 GB and seconds at 10,000."""
        return FileStorage(str(self.dir), supports_mmap=False)

    # locking and the journal ----------------------------------------------------------
    @contextlib.contextmanager
    def _writelock(self, timeout: float | None) -> Iterator[None]:
        """whoosh's writer lock (an flock), retried until ``timeout`` (None: the default)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = FileStorage(str(self.dir)).lock(LOCK_NAME)
        timeout = self.write_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        delay = 0.02
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise IndexBusy(f"search index {self.dir} is busy (another writer)")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def _journal(self, mode: int) -> Iterator[int]:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / JOURNAL_FILE, mode | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for microseconds, never while indexing
            yield fd
        finally:
            os.close(fd)  # closing releases the flock

    def _journal_add(self, call_ids: Iterable[int]) -> None:
        data = "".join(f"{int(c)}\n" for c in call_ids).encode()
        with self._journal(os.O_WRONLY | os.O_APPEND) as fd:
            os.write(fd, data)

    def _journal_size(self) -> int:
        try:
            return (self.dir / JOURNAL_FILE).stat().st_size
        except OSError:
            return 0

    def _journal_read(self) -> tuple[list[int], int]:
        """The owed call ids and the byte length read (only that prefix is later dropped)."""
        with self._journal(os.O_RDONLY) as fd:
            data = b""
            while chunk := os.read(fd, 1 << 16):
                data += chunk
        data = data[: data.rfind(b"\n") + 1]  # ignore a torn last line
        ids = [int(x) for x in data.split() if x.strip().isdigit()]
        return list(dict.fromkeys(ids)), len(data)

    def _journal_drop(self, nbytes: int) -> None:
        """Drop the first ``nbytes`` (handled); lines appended since stay owed."""
        if nbytes <= 0:
            return
        with self._journal(os.O_RDWR) as fd:
            rest = b""
            os.lseek(fd, nbytes, os.SEEK_SET)
            while chunk := os.read(fd, 1 << 16):
                rest += chunk
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            if rest:
                os.write(fd, rest)

    # documents ------------------------------------------------------------------------
    def _docs(self, call_id: int) -> list[dict[str, Any]]:
        """The index documents of one call as SQLite has it now (none if the call is gone)."""
        db = self.lib.db
        rows = db.execute(
            "SELECT id, title, rep, account, call_date, outcome FROM calls WHERE id = ?",
            [call_id]).fetchall()  # fetchall: see _sqlite_count
        if not rows:
            return []
        cid, title, rep, account, call_date, outcome = rows[0]
        speakers = {sp.id: sp for sp in self.lib.speakers(cid)}
        day = None
        if call_date:
            with contextlib.suppress(ValueError):
                day = datetime.combine(date.fromisoformat(call_date), dtime())
        clips = self._clip_docs(cid)
        docs = []
        for uid, idx, speaker_id, start_s, end_s, text in db.execute(
            "SELECT id, idx, speaker_id, start_s, end_s, text FROM utterances "
            "WHERE call_id = ? ORDER BY idx", [cid]
        ):
            sp = speakers.get(speaker_id)
            tags = ",".join(sorted({t for c in clips if c["start_s"] < end_s
                                    and c["end_s"] > start_s for t in c["tag_list"]}))
            doc: dict[str, Any] = {
                "utterance_id": str(uid), "kind": "utterance", "call_id": str(cid), "idx": idx,
                "text": text or "", "title": title or "", "call_date": call_date,
                "start_s": start_s, "end_s": end_s,
            }
            for name, value in (("rep", rep), ("account", account), ("outcome", outcome),
                                ("speaker", sp.display if sp else None),
                                ("role", sp.role if sp else None), ("tags", tags)):
                if value:
                    doc[name] = value
            if day is not None:
                doc["date"] = day
            docs.append(doc)
        for c in clips:
            doc = {k: v for k, v in c.items() if k != "tag_list"}
            doc.update({"call_id": str(cid), "call_date": call_date})
            for name, value in (("rep", rep), ("account", account), ("outcome", outcome)):
                if value:
                    doc[name] = value
            if day is not None:
                doc["date"] = day
            docs.append(doc)
        return docs

    def _clip_docs(self, call_id: int) -> list[dict[str, Any]]:
        """A call's clips as documents: what trainers wrote and what is said in them."""
        from .clips import clip_transcript, list_clips  # clips builds on search, not back

        docs = []
        for clip in list_clips(self.lib, call_id=call_id):
            spoken = " ".join(line.text for line in clip_transcript(self.lib, clip))
            text = "\n".join(t for t in (clip.title, clip.notes, spoken) if t)
            tag_list = [t for t in clip.skills + clip.messages]
            doc: dict[str, Any] = {
                "utterance_id": f"clip-{clip.id}", "kind": "clip", "clip_id": str(clip.id),
                "idx": -1, "text": text, "pairs": text, "title": clip.title,
                "rating": clip.rating, "start_s": clip.start_s, "end_s": clip.end_s,
                "tag_list": tag_list,
            }
            if tag_list:
                doc["tags"] = ",".join(tag_list)
            docs.append(doc)
        return docs

    def _all_call_ids(self) -> list[int]:
        return [r[0] for r in self.lib.db.execute("SELECT id FROM calls ORDER BY id")]

    # writing --------------------------------------------------------------------------
    def index_call(self, call_id: int | str) -> bool:
        """Replace the call's documents with what SQLite holds now. Call after every write
        that changes a call's utterances, speakers or metadata (and after ingest).

        Returns True when the index is updated, False when another writer kept the lock
        past ``write_timeout_s``: the call then stays journaled and the next write or open
        indexes it, so the change is late but never lost.
        """
        try:
            cid = int(call_id)
        except (TypeError, ValueError):
            raise InputError(f"call ids are numbers, not {call_id!r}") from None
        self._journal_add([cid])
        return self._apply_journal(timeout=None)

    def remove_call(self, call_id: int | str) -> bool:
        """Drop a deleted call's documents (same as :meth:`index_call`: SQLite decides)."""
        return self.index_call(call_id)

    def index_calls(self, call_ids: Iterable[int | str]) -> bool:
        """Several calls in one commit (an ingest batch): one segment instead of many."""
        ids = [int(c) for c in call_ids]
        if not ids:
            return True
        self._journal_add(ids)
        return self._apply_journal(timeout=None)

    def _apply_journal(self, timeout: float | None) -> bool:
        with self._lock:
            try:
                with self._writelock(timeout):
                    ids, nbytes = self._journal_read()  # read under the lock, then SQLite
                    if ids:
                        try:
                            ix = self._storage().open_index()
                            self._write_calls(ix, ids)
                        except Exception as exc:  # damaged or deleted: rebuild covers all
                            log.warning("search index write failed (%s); rebuilding", exc)
                            self._rebuild_locked(None)
                    self._journal_drop(nbytes)
            except IndexBusy:
                log.warning("search index busy; %s stays queued", self.dir / JOURNAL_FILE)
                return False
            self._searcher = None if self._searcher is None else self._current_searcher()
            return True

    def _write_calls(self, ix: index.Index, call_ids: Sequence[int]) -> None:
        writer = ix.writer(_lk=False, limitmb=LIMIT_MB)  # we hold the lock ourselves
        try:
            for cid in call_ids:
                writer.delete_by_term("call_id", str(cid))
                for doc in self._docs(cid):
                    _add_document(writer, doc)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def rebuild(self, on_progress: ProgressFn | None = None) -> int:
        """Re-create the whole index from SQLite (the CLI's ``reindex``); returns the count.

        ``on_progress`` gets a fraction 0..1 after each call and 1.0 once committed. Waits
        for other writers without limit: a rebuild must not be skipped.
        """
        with self._lock:
            with self._writelock(float("inf")):
                self._rebuild_locked(on_progress)
            self._reopen()
            self.last_repair = "rebuild"
            return self._searcher.doc_count() if self._searcher else 0

    def _rebuild_locked(self, on_progress: ProgressFn | None) -> None:
        self.close()
        _, nbytes = self._journal_read()  # everything owed so far is covered by this pass
        for f in self.dir.iterdir():
            if f.name not in _KEEP_FILES:
                if f.is_dir():
                    shutil.rmtree(f, ignore_errors=True)
                else:
                    f.unlink(missing_ok=True)
        (self.dir / META_FILE).unlink(missing_ok=True)  # written last: marks a finished build
        ix = self._storage().create_index(self.schema)
        writer = ix.writer(_lk=False, limitmb=LIMIT_MB)  # one process: procs=2 is slower
        call_ids = self._all_call_ids()
        try:
            if on_progress:
                on_progress(0.0)
            for n, cid in enumerate(call_ids, start=1):
                for doc in self._docs(cid):
                    _add_document(writer, doc)
                if on_progress:
                    on_progress(0.95 * n / len(call_ids))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        meta = {"schema_version": SCHEMA_VERSION,
                "built_at": datetime.now().isoformat(timespec="seconds")}
        (self.dir / META_FILE).write_text(json.dumps(meta))
        self._journal_drop(nbytes)
        if on_progress:
            on_progress(1.0)

    def _repair_locked(self, on_progress: ProgressFn | None) -> None:
        """Counts differ: reindex the calls that differ, or everything if most do.

        A count gap is usually one call mid-ingest in another process, so a full rebuild
        (minutes on a big library) would be the wrong answer.
        """
        assert self._searcher is not None
        reader = self._searcher.reader()
        column = reader.column_reader("call_id")
        in_index: Counter[str] = Counter()
        for docnum in reader.all_doc_ids():
            value = column[docnum]
            in_index[value.decode() if isinstance(value, bytes) else value] += 1
        in_sqlite = {str(c): n for c, n in self.lib.db.execute(
            "SELECT c.id, (SELECT COUNT(*) FROM utterances u WHERE u.call_id = c.id) "
            "+ (SELECT COUNT(*) FROM clips k WHERE k.call_id = c.id) FROM calls c")}
        differ = [int(c) for c in set(in_index) | set(in_sqlite)
                  if c and in_index.get(c, 0) != in_sqlite.get(c, 0)]
        if len(differ) > max(1, REPAIR_FRACTION * len(in_sqlite)):
            self._rebuild_locked(on_progress)
            return
        self.close()
        ix = self._storage().open_index()
        _, nbytes = self._journal_read()
        self._write_calls(ix, sorted(differ))
        self._journal_drop(nbytes)

    # searching ------------------------------------------------------------------------
    def parse(self, text: str, *, expand_synonyms: bool = True) -> query.Query:
        """The whoosh query for ``text`` (synonyms expanded); InputError when unreadable."""
        if not isinstance(text, str):
            raise InputError("the search query must be text")
        prepared = _precheck(text)
        try:
            q = self._parser.parse(prepared)
        except Exception as exc:  # e.g. date:[soon TO later] -> ValueError deep in whoosh
            raise InputError(f"cannot read the search {text!r}: {exc}") from None
        if _is_null(q):
            raise InputError(f"nothing to search for in {text!r}")
        if expand_synonyms:
            q = _Synonyms(synonyms(self.lib)).expand(q)
        return q

    def _filter(self, role: str | None, rep: str | None, outcome: str | None,
                date_from: str | None, date_to: str | None,
                call_id: int | None = None, *, tag: str | None = None,
                rating: str | None = None) -> query.Query | None:
        parts: list[query.Query] = []
        if tag:
            parts.append(query.Term("tags", tag.strip().lower()))
        if rating:
            from .clips import check_rating

            parts.append(query.Term("rating", check_rating(rating)))
        if call_id is not None:
            parts.append(query.Term("call_id", str(int(call_id))))
        if role:
            parts.append(query.Term("role", role.strip().lower()))
        if rep:
            parts.append(query.Term("rep", rep.strip().lower()))
        if outcome:
            parts.append(query.Term("outcome", parse_outcome(outcome)))
        start = parse_date(date_from, where="date_from") if date_from else None
        end = parse_date(date_to, where="date_to") if date_to else None
        if start and end and start > end:
            raise InputError(f"date_from {start} is after date_to {end}")
        if start or end:
            parts.append(query.DateRange(
                "date",
                datetime.combine(date.fromisoformat(start), dtime()) if start else None,
                datetime.combine(date.fromisoformat(end), dtime.max) if end else None))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else query.And(parts)

    def _filter_docs(self, searcher: Searcher, flt: query.Query | None) -> Any:
        """The filter's documents (None: no filter), from bitsets cached per index segment.

        Building one is a pass over posting lists (~60 ms for role=customer on 250k
        utterances), too much for every search. A segment's documents never change (only
        its deletions, and deleted documents never match anyway), so after a commit only
        the new segment's bitset is built. Call with ``self._lock`` held.
        """
        if flt is None:
            return None
        key = repr(flt)
        parts = []
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            segment = getattr(reader, "segment", None)
            cache_key = (segment().segment_id(), key) if segment else None
            docs = self._filters.get(cache_key) if cache_key else None
            if docs is None:
                docs = BitSet(sub.docs_for_query(flt), size=reader.doc_count_all())
                if cache_key:
                    self._filters[cache_key] = docs
                    while len(self._filters) > FILTER_CACHE_SIZE:
                        self._filters.popitem(last=False)
            else:
                self._filters.move_to_end(cache_key)
            parts.append((offset, docs))
        return parts[0][1] if len(parts) == 1 else _SegmentDocs(parts)

    def search(
        self,
        text: str,
        *,
        role: str | None = None,
        rep: str | None = None,
        outcome: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        call_id: int | None = None,
        limit: int | None = DEFAULT_LIMIT,
        expand_synonyms: bool = True,
        kind: str = "utterance",
        tag: str | None = None,
        rating: str | None = None,
    ) -> SearchResult:
        """Best matches first (BM25). Keyword filters combine with the query's own filters.

        ``limit=None`` returns every hit; ``total`` always counts every match. ``kind``
        "clip" searches clips (title, notes, transcript) instead of utterances; ``tag``
        keeps utterances inside clips with that skill or message (or clips carrying it),
        ``rating`` clips rated good, poor or neutral.
        """
        if kind not in ("utterance", "clip"):
            raise InputError(f"kind must be utterance or clip, not {kind!r}")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InputError(f"limit must be a whole number of at least 1, not {limit!r}")
        q = self.parse(text, expand_synonyms=expand_synonyms)
        flt = self._filter(role, rep, outcome, date_from, date_to, tag=tag, rating=rating)
        with self._lock:
            searcher = self._current_searcher()
            if kind == "clip" or searcher.doc_frequency("kind", "clip"):
                # only a library with clips pays for telling them apart
                flt = query.And([query.Term("kind", kind), *([flt] if flt else [])])
            q = _expand_fuzzy(q, searcher.reader())  # once, for matching and marks
            run = _phrases_on_pairs(q, searcher.reader())
            if call_id is not None:  # one call (trackers): intersect with its ~250
                # utterances instead of filtering every match in the library; Require
                # keeps the scores of the query alone
                run = query.Require(run, query.Term("call_id", str(int(call_id))))
            allow = self._filter_docs(searcher, flt)
            if allow is not None and not allow:  # whoosh would ignore an empty filter
                return SearchResult(query=text, total=0, hits=())
            # optimize=False: rank and count in one pass. With block skipping, whoosh
            # counts the total by running the whole query a second time (unfiltered when
            # the filter is empty), which costs more than the skipping saves here.
            results = searcher.search(run, filter=allow, limit=limit, optimize=False)
            marks = _marks(q, searcher.reader())
            hits = tuple(self._hit(r.fields(), r.score, marks) for r in results)
            return SearchResult(query=text, total=len(results), hits=hits)

    @staticmethod
    def _hit(f: dict[str, Any], score: float | None, marks: _Marks) -> Hit:
        text = f.get("text", "")
        is_clip = f.get("kind") == "clip"
        return Hit(
            call_id=int(f["call_id"]),
            utterance_id=None if is_clip else int(f["utterance_id"]), index=f["idx"],
            speaker=f.get("speaker"), role=f.get("role"), start_s=f["start_s"],
            end_s=f["end_s"], text=text, highlight=_highlight(text, marks),
            score=round(float(score or 0.0), 4), title=f.get("title", ""), rep=f.get("rep"),
            call_date=f.get("call_date"),
            clip_id=int(f["clip_id"]) if is_clip else None,
            tags=tuple(t for t in (f.get("tags") or "").split(",") if t),
        )
