"""Conversation insights: talk stats per call and per rep, coaching candidates, voice of
customer exports. Everything here is computed from the stored transcript (utterances with
speaker roles and word times) and the tracker hits; nothing is stored back except the
trainer's coaching criteria.

Definitions (also shown next to each figure on the Insights page, see ``DEFINITIONS``):

* A **segment** is one utterance of the rep or of the customer, from its first word's start
  to its last word's end. Utterances of speakers with no role, or the role "other", are
  left out of every figure.
* A **stretch** (a turn) is what one party says until the other party speaks: consecutive
  segments of the same role merged, pauses inside included. A stretch ends when the other
  party speaks or after a silence of ``MAX_PAUSE_S`` or more, but not for a *backchannel*
  from the other side (a segment shorter than ``BACKCHANNEL_S`` with at most
  ``BACKCHANNEL_WORDS`` words, "mm-hm", "right", after which the first party carries on):
  that counts as the other party's talk, not as a turn.
* **Talk time** of a party is the sum of its stretch lengths (plus its backchannels).
  Overlapping speech counts for both parties, as in the sample calls' ground truth.
  **Rep talk ratio** = rep talk / (rep talk + customer talk), a fraction from 0 to 1.
* **Longest rep monologue** / **longest customer story**: the longest stretch of each.
* **Interactivity**: speaker switches (stretch to stretch) per minute of the call.
* **Patience**: the mean pause between the customer's last word and the rep's first word,
  over every customer-to-rep switch; a rep who starts before the customer stops
  contributes 0 s.
* **Questions**: see :func:`count_questions`.
* **Rep words per minute**: rep words / rep talk time in minutes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

from .errors import InputError, NotFoundError
from .metadata import parse_date, parse_outcome
from .models import Call, Transcript, Utterance
from .trackers import call_hits, counts, trackers

if TYPE_CHECKING:
    from .library import Library

BACKCHANNEL_S = 1.0
BACKCHANNEL_WORDS = 3
MAX_PAUSE_S = 5.0
PARTIES = ("rep", "customer")

# Published references (shown with their source wherever the figures are shown) ---------


@dataclass(frozen=True)
class Reference:
    key: str  # the stat it is a reference for
    label: str
    low: float | None
    high: float | None
    text: str
    source: str


REFERENCES: tuple[Reference, ...] = (
    Reference("rep_talk_ratio", "Top performers", 0.43, 0.43,
              "Top performers talk 43% of the call and listen 57%.",
              "Gong Labs, 25,537 sales calls"),
    Reference("rep_talk_ratio", "Average reps", 0.65, 0.75,
              "Average reps talk 65% to 75% of the call; talking more than 65% goes with "
              "lower conversion.", "Gong Labs, 25,537 sales calls"),
    Reference("rep_questions", "Sweet spot", 11, 14,
              "11 to 14 questions per call is the sweet spot; returns diminish beyond it.",
              "Gong Labs"),
    Reference("longest_customer_story_s", "Customer stories", 240, None,
              "A customer speaking for 4 minutes straight goes with a higher win "
              "probability.", "Gong Labs, 257,967 sales calls"),
    Reference("longest_rep_monologue_s", "Company overviews", None, 120,
              "Company overviews longer than 2 minutes see win rates drop.",
              "Gong Labs, 257,967 sales calls"),
)


def references(key: str) -> list[Reference]:
    return [r for r in REFERENCES if r.key == key]


DEFINITIONS: dict[str, str] = {
    "rep_talk_ratio": "Rep talk time / (rep + customer talk time). A party's talk time runs "
                      "from the first to the last word of each of its turns, pauses inside a "
                      "turn included; overlapping speech counts for both.",
    "longest_rep_monologue_s": "The rep's longest turn: everything the rep says until the "
                               "customer speaks (a short 'mm-hm' under 1 s does not count as "
                               "speaking; a silence of 5 s or more ends a turn).",
    "longest_customer_story_s": "The customer's longest turn, measured the same way.",
    "interactivity_per_min": "How often the conversation changes hands: speaker switches "
                             "per minute of the call.",
    "patience_s": "The mean pause between the customer's last word and the rep's first "
                  "word, over every time the rep takes over (0 s when the rep cuts in).",
    "rep_questions": "Rep sentences that are questions: ending in '?', or, where the "
                     "transcription dropped the '?', whose last clause reads as one ('did you "
                     "...', 'what does ...', 'what if ...', 'maybe we could ...').",
    "rep_wpm": "Rep words per minute of rep talk time.",
    "tracker_hits": "Utterances in which each tracker (a saved search) fired.",
}

LABELS: dict[str, str] = {
    "rep_talk_ratio": "Rep talk ratio",
    "longest_rep_monologue_s": "Longest rep monologue",
    "longest_customer_story_s": "Longest customer story",
    "interactivity_per_min": "Interactivity",
    "patience_s": "Patience",
    "rep_questions": "Rep questions",
    "rep_wpm": "Rep words per minute",
    "tracker_hits": "Tracker hits",
}

STAT_KEYS = ("rep_talk_ratio", "longest_rep_monologue_s", "longest_customer_story_s",
             "interactivity_per_min", "patience_s", "rep_questions", "rep_wpm")

# Questions ------------------------------------------------------------------------------

_AUX = frozenset(
    "is are was were am do does did can could would will should shall may might have has "
    "had isn't aren't don't doesn't didn't can't couldn't wouldn't won't shouldn't".split())
_SUBJECTS = frozenset(
    "i you we they he she it that this there these those your our my his her their the a "
    "an any anyone anybody anything someone somebody something everyone everything "
    "everybody".split())
_WH = frozenset("what how why where when".split())
_WH_NOUN = frozenset("who which whose".split())
_WH_NEXT = frozenset("if about many much long often else".split())
_FILLERS = frozenset("so and but then okay ok oh well now also just um uh".split())
_SUGGEST = (("maybe", "we"), ("maybe", "i"), ("how", "about"), ("what", "about"))
_SUGGEST_MODALS = frozenset("could can should".split())
SENTENCE = re.compile(r"[^.?!]+[.?!]*")
_WORD = re.compile(r"[a-z']+")


def _reads_as_question(clause: str) -> bool:
    words = _WORD.findall(clause.lower().replace("’", "'"))
    while words and words[0] in _FILLERS:
        words = words[1:]
    if len(words) < 2:
        return False
    first, second = words[0], words[1]
    if first in _AUX and second in _SUBJECTS:
        return True  # "did you get a chance", "would your managers be willing"
    if first in _WH and (second in _AUX or second in _WH_NEXT):
        return True  # "what does that add up to", "what if I do 30%", "how many"
    if first in _WH_NOUN and any(w in _AUX for w in words[2:7]):
        return True  # "which parts would feel", "who on the finance side should"
    if (first, second) in _SUGGEST[:2]:
        return len(words) > 2 and words[2] in _SUGGEST_MODALS  # "maybe we could set up"
    return (first, second) in _SUGGEST[2:]  # "how about", "what about"


def is_question(sentence: str) -> bool:
    """A sentence ending in '?', or one whose last clause reads as a question.

    Small speech models often drop question marks ("..., did you get a chance to read it.")
    so a sentence ending in '.', ',' or nothing counts when its first or last clause,
    leading fillers (so, and, then...) skipped, opens like a question: an auxiliary then a subject
    ("did you", "is that", "would it"), a question word then an auxiliary or if/about/many
    ("what does", "what if", "how many"), who/which/whose with an auxiliary a few words on
    ("which parts would"), or a tentative proposal ("maybe we could", "how about").
    """
    s = sentence.strip()
    if not s:
        return False
    if s.rstrip("\"')").endswith("?"):
        return True
    clauses = re.split(r"[,;:]", s.rstrip(".!,;: "))
    return _reads_as_question(clauses[-1]) or _reads_as_question(clauses[0])


def count_questions(text: str) -> int:
    """Questions in a stretch of text (see :func:`is_question`)."""
    return sum(1 for s in SENTENCE.findall(text) if is_question(s))


# Stats per call -------------------------------------------------------------------------


@dataclass(frozen=True)
class Stretch:
    """One party speaking until the other does (see the module docstring)."""

    role: str
    start_s: float
    end_s: float
    words: int
    text: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class CallStats:
    """A call's conversation figures. Figures that need speaker roles are None (with
    ``unknown_reason`` saying why) when the call has no rep or no customer speech."""

    call_id: int
    title: str
    rep: str | None
    call_date: str | None
    outcome: str
    a_player: bool
    duration_s: float
    rep_talk_s: float | None
    customer_talk_s: float | None
    rep_talk_ratio: float | None
    longest_rep_monologue_s: float | None
    longest_rep_monologue_at_s: float | None
    longest_customer_story_s: float | None
    longest_customer_story_at_s: float | None
    interactivity_per_min: float | None
    patience_s: float | None
    rep_questions: int | None
    customer_questions: int | None
    rep_words: int | None
    rep_wpm: float | None
    tracker_hits: dict[str, int] = field(default_factory=dict)
    unknown_reason: str | None = None
    stretches: tuple[Stretch, ...] = field(default=(), repr=False)

    @property
    def known(self) -> bool:
        return self.unknown_reason is None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("stretches")
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = round(value, 4 if key == "rep_talk_ratio" else 3)
        return out


def _segments(utterances: Iterable[Utterance]) -> list[tuple[str, float, float, str, int]]:
    """(role, start, end, text, words) of every rep or customer utterance, by start time."""
    out = []
    for u in utterances:
        if u.role not in PARTIES:
            continue
        start = u.words[0].start_s if u.words else u.start_s
        end = u.words[-1].end_s if u.words else u.end_s
        n_words = len(u.words) if u.words else len(u.text.split())
        if n_words == 0:
            continue
        out.append((u.role, float(start), float(max(end, start)), u.text.strip(), n_words))
    out.sort(key=lambda s: (s[1], s[2]))
    return out


def _is_backchannel(seg: tuple[str, float, float, str, int]) -> bool:
    return seg[2] - seg[1] < BACKCHANNEL_S and seg[4] <= BACKCHANNEL_WORDS


def stretches(utterances: Iterable[Utterance]) -> tuple[list[Stretch], list[Stretch]]:
    """The call's turns in time order, and the backchannels left out of them."""
    segs = _segments(utterances)
    turns: list[list] = []  # [role, start, end, words, [texts]]
    backchannels: list[Stretch] = []
    for i, seg in enumerate(segs):
        role, start, end, text, n = seg
        cur = turns[-1] if turns else None
        if cur is not None and role != cur[0] and _is_backchannel(seg):
            nxt = next((s for s in segs[i + 1:] if not _is_backchannel(s) or s[0] == cur[0]),
                       None)
            if nxt is not None and nxt[0] == cur[0] and nxt[1] - end < MAX_PAUSE_S:
                backchannels.append(Stretch(role, start, end, n, text))
                continue
        if cur is not None and role == cur[0] and start - cur[2] < MAX_PAUSE_S:
            cur[2] = max(cur[2], end)
            cur[3] += n
            cur[4].append(text)
        else:
            turns.append([role, start, end, n, [text]])
    return ([Stretch(r, s, e, n, " ".join(t)) for r, s, e, n, t in turns], backchannels)


def _unknown(call: Call, reason: str, hits: dict[str, int]) -> CallStats:
    return CallStats(call.id, call.title, call.rep, call.call_date, call.outcome, call.a_player,
                     call.duration_s, None, None, None, None, None, None, None, None, None,
                     None, None, None, None, hits, reason)


def transcript_stats(transcript: Transcript, hits: dict[str, int] | None = None) -> CallStats:
    """The figures of one call from its transcript (see the module docstring)."""
    call = transcript.call
    hits = dict(hits or {})
    turns, backchannels = stretches(transcript.utterances)
    roles = {t.role for t in turns}
    if not turns:
        if not transcript.utterances:
            return _unknown(call, "the call has no transcript", hits)
        return _unknown(call, "no speaker in this call has the rep or customer role "
                        "(set roles on the Call page)", hits)
    for party in PARTIES:
        if party not in roles:
            return _unknown(call, f"no speech in this call is attributed to the {party} (set "
                            "speaker roles on the Call page)", hits)
    talk = {p: sum(t.duration_s for t in turns + backchannels if t.role == p) for p in PARTIES}
    rep_turns = [t for t in turns if t.role == "rep"]
    customer_turns = [t for t in turns if t.role == "customer"]
    monologue = max(rep_turns, key=lambda t: t.duration_s)
    story = max(customer_turns, key=lambda t: t.duration_s)
    pairs = list(zip(turns, turns[1:], strict=False))
    pauses = [max(0.0, b.start_s - a.end_s) for a, b in pairs
              if a.role == "customer" and b.role == "rep"]
    minutes = max(call.duration_s, 1e-6) / 60
    rep_words = sum(t.words for t in rep_turns) + sum(
        b.words for b in backchannels if b.role == "rep")
    return CallStats(
        call_id=call.id, title=call.title, rep=call.rep, call_date=call.call_date,
        outcome=call.outcome, a_player=call.a_player, duration_s=call.duration_s,
        rep_talk_s=talk["rep"], customer_talk_s=talk["customer"],
        rep_talk_ratio=talk["rep"] / (talk["rep"] + talk["customer"]),
        longest_rep_monologue_s=monologue.duration_s, longest_rep_monologue_at_s=monologue.start_s,
        longest_customer_story_s=story.duration_s, longest_customer_story_at_s=story.start_s,
        interactivity_per_min=sum(a.role != b.role for a, b in pairs) / minutes,
        patience_s=mean(pauses) if pauses else None,
        rep_questions=sum(count_questions(t.text) for t in rep_turns),
        customer_questions=sum(count_questions(t.text) for t in customer_turns),
        rep_words=rep_words,
        rep_wpm=rep_words / (talk["rep"] / 60) if talk["rep"] > 0 else None,
        tracker_hits=hits, stretches=tuple(turns),
    )


def call_stats(lib: Library, call_id: int | str) -> CallStats:
    transcript = lib.transcript(call_id)
    return transcript_stats(transcript, counts(lib).get(transcript.call.id, {}))


def library_stats(lib: Library, calls: Sequence[Call] | None = None) -> list[CallStats]:
    """Stats of ``calls`` (every call by default), newest first."""
    calls = lib.calls() if calls is None else calls
    per_call = counts(lib)
    return [transcript_stats(lib.transcript(c.id), per_call.get(c.id, {})) for c in calls]


# Stats per rep and team -----------------------------------------------------------------


@dataclass(frozen=True)
class GroupStats:
    """Per-call figures averaged over a group of calls (a rep's, or the team's).

    Each figure is the mean over the calls where it is known; ``calls_unknown`` counts the
    calls left out for lack of speaker roles. Tracker hits are means per call.
    """

    label: str
    calls: int
    calls_unknown: int
    date_from: str | None
    date_to: str | None
    rep_talk_ratio: float | None
    longest_rep_monologue_s: float | None
    longest_customer_story_s: float | None
    interactivity_per_min: float | None
    patience_s: float | None
    rep_questions: float | None
    rep_wpm: float | None
    tracker_hits: dict[str, float] = field(default_factory=dict)
    call_ids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["call_ids"] = list(self.call_ids)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = round(value, 4 if key == "rep_talk_ratio" else 3)
        out["tracker_hits"] = {k: round(v, 3) for k, v in self.tracker_hits.items()}
        return out


def aggregate(stats: Sequence[CallStats], label: str, date_from: str | None = None,
              date_to: str | None = None) -> GroupStats:
    known = [s for s in stats if s.known]

    def avg(key: str) -> float | None:
        values = [getattr(s, key) for s in known if getattr(s, key) is not None]
        return mean(values) if values else None

    names = sorted({k for s in stats for k in s.tracker_hits})
    hits = {n: sum(s.tracker_hits.get(n, 0) for s in stats) / len(stats) for n in names}
    return GroupStats(label, len(stats), len(stats) - len(known), date_from, date_to,
                      *(avg(k) for k in STAT_KEYS), tracker_hits=hits,
                      call_ids=tuple(s.call_id for s in stats))


def _dates(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    def one(value: str | None, name: str) -> str | None:
        try:
            return parse_date(value)
        except InputError:
            raise InputError(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None

    date_from, date_to = one(since, "since"), one(until, "until")
    if date_from and date_to and date_from > date_to:
        raise InputError(f"the date range is empty: {date_from} is after {date_to}")
    return date_from, date_to


def rep_stats(lib: Library, rep: str, since: str | None = None,
              until: str | None = None) -> GroupStats:
    """A rep's figures averaged over their calls dated ``since`` to ``until`` (inclusive)."""
    rep = (rep or "").strip()
    known = [r["name"] for r in lib.reps()]
    if rep not in known:
        raise NotFoundError(f"no rep {rep!r} in library {lib.root}"
                            + (f"; reps: {', '.join(known)}" if known else ""))
    date_from, date_to = _dates(since, until)
    calls = lib.calls(rep=rep, date_from=date_from, date_to=date_to)
    return aggregate(library_stats(lib, calls), rep, date_from, date_to)


def team_stats(lib: Library, since: str | None = None, until: str | None = None,
               stats: Sequence[CallStats] | None = None) -> list[GroupStats]:
    """One row per rep (by name), then the whole team as the last row."""
    date_from, date_to = _dates(since, until)
    if stats is None:
        stats = library_stats(lib, lib.calls(date_from=date_from, date_to=date_to))
    by_rep: dict[str, list[CallStats]] = {}
    for s in stats:
        by_rep.setdefault(s.rep or "(no rep)", []).append(s)
    rows = [aggregate(v, k, date_from, date_to) for k, v in sorted(by_rep.items())]
    rows.append(aggregate(stats, "Team", date_from, date_to))
    return rows


# Coaching candidates --------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One line of the trainer's checklist. ``threshold`` is in the unit its key names:
    a fraction for rep_talk_above, seconds for the *_s ones, unused for tracker ones."""

    key: str
    enabled: bool
    threshold: float | None = None
    tracker: str | None = None

    @property
    def label(self) -> str:
        t = self.threshold
        return {
            "rep_talk_above": f"Rep talks more than {0 if t is None else t:.0%} of the call",
            "monologue_over_s": f"A rep monologue longer than {_minutes(t)}",
            "price_objection": f"A price objection (tracker '{self.tracker}')",
            "no_next_step": f"No next step tracked (tracker '{self.tracker}')",
            "customer_story_under_s": f"Longest customer story under {_minutes(t)}",
        }[self.key]


def _minutes(seconds: float | None) -> str:
    s = float(seconds or 0)
    return f"{s / 60:g} min" if s >= 60 else f"{s:g} s"


CRITERIA_KEYS = ("rep_talk_above", "monologue_over_s", "price_objection", "no_next_step",
                 "customer_story_under_s")
DEFAULT_CRITERIA: tuple[Criterion, ...] = (
    Criterion("rep_talk_above", True, 0.65),
    Criterion("monologue_over_s", True, 150.0),
    Criterion("price_objection", True, tracker="Price objection"),
    Criterion("no_next_step", True, tracker="Next steps"),
    Criterion("customer_story_under_s", True, 30.0),
)
DEFAULT_MIN_MET = 3
_MOMENT_PRIORITY = ("monologue_over_s", "price_objection", "rep_talk_above",
                    "customer_story_under_s", "no_next_step")
SETTING = "coaching_criteria"


@dataclass(frozen=True)
class CoachingConfig:
    """The checklist and how many of its enabled lines a call must meet to be listed."""

    criteria: tuple[Criterion, ...] = DEFAULT_CRITERIA
    min_met: int = DEFAULT_MIN_MET

    @property
    def enabled(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.enabled)

    @property
    def effective_min_met(self) -> int:
        """``min_met``, but never more than the enabled lines (and at least one)."""
        return max(1, min(self.min_met, len(self.enabled)))

    def to_json(self) -> dict[str, Any]:
        return {"min_met": self.min_met,
                "criteria": [asdict(c) for c in self.criteria]}


def _check_criterion(c: Criterion) -> Criterion:
    if c.key not in CRITERIA_KEYS:
        raise InputError(f"unknown coaching criterion {c.key!r}; known: "
                         f"{', '.join(CRITERIA_KEYS)}")
    if c.key in ("price_objection", "no_next_step"):
        if not (c.tracker or "").strip():
            raise InputError(f"criterion {c.key} needs a tracker name")
        return replace(c, tracker=c.tracker.strip(), threshold=None)
    if c.threshold is None:
        raise InputError(f"criterion {c.key} needs a threshold")
    t = float(c.threshold)
    if c.key == "rep_talk_above" and not 0 <= t <= 1:
        raise InputError(f"rep_talk_above is a fraction from 0 to 1, not {t:g} "
                         "(65% is 0.65)")
    if t < 0:
        raise InputError(f"criterion {c.key} needs a threshold of 0 or more, not {t:g}")
    return replace(c, threshold=t, tracker=None)


def coaching_config(lib: Library) -> CoachingConfig:
    """The saved checklist; the defaults for lines never saved."""
    raw = lib.store.get_setting(SETTING, None) or {}
    saved = {c.get("key"): c for c in raw.get("criteria", []) if isinstance(c, dict)}
    criteria = []
    for default in DEFAULT_CRITERIA:
        c = saved.get(default.key)
        if c is None:
            criteria.append(default)
            continue
        try:
            criteria.append(_check_criterion(Criterion(
                default.key, bool(c.get("enabled", default.enabled)),
                c.get("threshold", default.threshold), c.get("tracker", default.tracker))))
        except (InputError, TypeError, ValueError):
            criteria.append(default)  # a hand-edited setting that no longer parses
    try:
        min_met = int(raw.get("min_met", DEFAULT_MIN_MET))
    except (TypeError, ValueError):
        min_met = DEFAULT_MIN_MET
    return CoachingConfig(tuple(criteria), max(1, min_met))


def save_coaching_config(lib: Library, config: CoachingConfig) -> CoachingConfig:
    """Check and store the checklist (``coaching_criteria`` in the library settings)."""
    keys = [c.key for c in config.criteria]
    if sorted(keys) != sorted(CRITERIA_KEYS):
        raise InputError(f"the checklist needs each criterion once: {', '.join(CRITERIA_KEYS)}")
    criteria = tuple(_check_criterion(c) for c in config.criteria)
    if not any(c.enabled for c in criteria):
        raise InputError("turn on at least one criterion")
    if int(config.min_met) < 1:
        raise InputError("a call must meet at least 1 criterion to be listed")
    saved = CoachingConfig(criteria, int(config.min_met))
    lib.store.set_setting(SETTING, saved.to_json())
    return saved


@dataclass(frozen=True)
class Match:
    """A criterion a call meets, the figure behind it and the moment to listen from."""

    key: str
    label: str
    detail: str
    at_s: float


@dataclass(frozen=True)
class Candidate:
    call_id: int
    title: str
    rep: str | None
    call_date: str | None
    outcome: str
    a_player: bool
    matches: tuple[Match, ...]
    enabled: int  # how many criteria were checked

    @property
    def met(self) -> int:
        return len(self.matches)

    @property
    def at_s(self) -> float:
        """Where to start listening: the moment of the most telling criterion met (a long
        monologue, then a price objection, then the rest in checklist order)."""
        if not self.matches:
            return 0.0
        return min(self.matches, key=lambda m: _MOMENT_PRIORITY.index(m.key)).at_s

    def to_json(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "title": self.title, "rep": self.rep,
                "call_date": self.call_date, "outcome": self.outcome,
                "a_player": self.a_player, "met": self.met, "of": self.enabled,
                "at_s": round(self.at_s, 3),
                "matches": [{"key": m.key, "label": m.label, "detail": m.detail,
                             "at_s": round(m.at_s, 3)} for m in self.matches]}


def _fmt(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def evaluate(stats: CallStats, hits_by_tracker: dict[str, list[float]],
             config: CoachingConfig) -> Candidate:
    """Which enabled criteria one call meets (figures that are unknown meet nothing)."""
    found: list[Match] = []
    for c in config.enabled:
        if c.key == "rep_talk_above" and stats.rep_talk_ratio is not None:
            if stats.rep_talk_ratio > c.threshold:
                mono = stats.longest_rep_monologue_at_s or 0.0
                found.append(Match(c.key, c.label,
                                   f"rep talks {stats.rep_talk_ratio:.0%} (longest monologue "
                                   f"at {_fmt(mono)})", mono))
        elif c.key == "monologue_over_s" and stats.longest_rep_monologue_s is not None:
            if stats.longest_rep_monologue_s > c.threshold:
                found.append(Match(c.key, c.label,
                                   f"{stats.longest_rep_monologue_s:.0f} s monologue at "
                                   f"{_fmt(stats.longest_rep_monologue_at_s or 0)}",
                                   stats.longest_rep_monologue_at_s or 0.0))
        elif c.key == "price_objection":
            times = hits_by_tracker.get(c.tracker or "", [])
            if times:
                found.append(Match(c.key, c.label, f"{len(times)} hit"
                                   f"{'s' if len(times) != 1 else ''}, first at "
                                   f"{_fmt(times[0])}", times[0]))
        elif c.key == "no_next_step":
            if not hits_by_tracker.get(c.tracker or ""):
                at = max(0.0, stats.duration_s - 60)  # the close: the call's last minute
                found.append(Match(c.key, c.label, "no next step in the call; listen to the "
                                   "close", at))
        elif c.key == "customer_story_under_s" and stats.longest_customer_story_s is not None:
            if stats.longest_customer_story_s < c.threshold:
                found.append(Match(c.key, c.label,
                                   f"customer's longest turn {stats.longest_customer_story_s:.0f}"
                                   f" s at {_fmt(stats.longest_customer_story_at_s or 0)}",
                                   stats.longest_customer_story_at_s or 0.0))
    return Candidate(stats.call_id, stats.title, stats.rep, stats.call_date, stats.outcome,
                     stats.a_player, tuple(found), len(config.enabled))


def _hit_times(lib: Library, call_id: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for h in call_hits(lib, call_id):
        out.setdefault(h.tracker, []).append(h.start_s)
    return out


def candidates(lib: Library, config: CoachingConfig | None = None, *, rep: str | None = None,
               stats: Sequence[CallStats] | None = None,
               include_all: bool = False) -> list[Candidate]:
    """Calls that meet at least ``config.effective_min_met`` of the enabled criteria, most
    criteria met first (then newest). ``include_all`` lists every call, matching or not."""
    config = config or coaching_config(lib)
    if stats is None:
        stats = library_stats(lib, lib.calls(rep=rep) if rep else None)
    elif rep:
        stats = [s for s in stats if s.rep == rep]
    found = [evaluate(s, _hit_times(lib, s.call_id), config) for s in stats]
    if not include_all:
        found = [c for c in found if c.met >= config.effective_min_met]
    found.sort(key=lambda c: (c.call_date or "", c.call_id), reverse=True)
    found.sort(key=lambda c: -c.met)  # stable: newest first among calls meeting as many
    return found


# Voice of customer ----------------------------------------------------------------------

VOC_COLUMNS = ("call_id", "title", "account", "rep", "call_date", "outcome", "speaker",
               "start_s", "end_s", "start", "trackers", "text")
VOC_FORMATS = ("csv", "json")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class VocRow:
    """One customer utterance with its call's metadata and its moment."""

    call_id: int
    title: str
    account: str | None
    rep: str | None
    call_date: str | None
    outcome: str
    speaker: str | None
    start_s: float
    end_s: float
    start: str  # m:ss, for people
    trackers: str  # tracker names that fired on this utterance, "; "-separated
    text: str


def voc_rows(lib: Library, *, tracker: str | None = None, query: str | None = None,
             since: str | None = None, until: str | None = None, outcome: str | None = None,
             rep: str | None = None) -> list[VocRow]:
    """Customer utterances, oldest call first and in time order, filtered by a tracker
    (utterances it fired on), a search query (utterances it matches), a call date range,
    an outcome and a rep. Filters combine (AND)."""
    date_from, date_to = _dates(since, until)
    outcome = parse_outcome(outcome) if outcome else None
    wanted: set[int] | None = None
    if tracker:
        names = {t.name.lower(): t for t in trackers(lib)}
        t = names.get(tracker.strip().lower())
        if t is None:
            raise InputError(f"no tracker {tracker!r}; trackers: "
                             f"{', '.join(x.name for x in trackers(lib)) or 'none'}")
        wanted = {r[0] for r in lib.db.execute(
            "SELECT utterance_id FROM tracker_hits WHERE tracker_id = ?", [t.id])}
    if query and query.strip():
        result = lib.search(query.strip(), role="customer", limit=None)
        found = {h.utterance_id for h in result.hits}
        wanted = found if wanted is None else wanted & found
    calls = lib.calls(rep=rep, outcome=outcome, date_from=date_from, date_to=date_to)
    fired: dict[int, list[str]] = {}
    for r in lib.db.query("SELECT h.utterance_id, t.name FROM tracker_hits h "
                          "JOIN trackers t ON t.id = h.tracker_id ORDER BY t.id"):
        fired.setdefault(r["utterance_id"], []).append(r["name"])
    rows: list[VocRow] = []
    for call in sorted(calls, key=lambda c: (c.call_date or "", c.id)):
        for u in lib.transcript(call.id).utterances:
            if u.role != "customer" or (wanted is not None and u.id not in wanted):
                continue
            rows.append(VocRow(call.id, call.title, call.account, call.rep, call.call_date,
                               call.outcome, u.speaker, round(u.start_s, 3), round(u.end_s, 3),
                               _fmt(u.start_s), "; ".join(fired.get(u.id, [])), u.text.strip()))
    return rows


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string starting with = + - @ (or a tab or a
    carriage return) gets a leading quote, so it is never run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def voc_csv(rows: Sequence[VocRow]) -> bytes:
    """CSV with a header row, UTF-8 with a byte order mark (Excel then reads it as UTF-8),
    formula-injection-safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(VOC_COLUMNS)
    for r in rows:
        writer.writerow([csv_safe(getattr(r, c)) for c in VOC_COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


def voc_json(rows: Sequence[VocRow], filters: dict[str, Any] | None = None) -> bytes:
    doc = {"filters": {k: v for k, v in (filters or {}).items() if v},
           "count": len(rows), "utterances": [asdict(r) for r in rows]}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def voc_format(path: str | Path, fmt: str | None = None) -> str:
    """The format asked for, else the one the file name ends with."""
    if fmt:
        fmt = fmt.lower().strip(".")
        if fmt not in VOC_FORMATS:
            raise InputError(f"format must be one of {', '.join(VOC_FORMATS)}, not {fmt!r}")
        return fmt
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in VOC_FORMATS:
        raise InputError(f"cannot tell the format from {Path(path).name!r}: name the file "
                         ".csv or .json, or pass --format csv|json")
    return suffix


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so a reader
    never sees half a file."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name")
    if not path.parent.exists():
        raise InputError(f"folder {path.parent} does not exist")
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # os.open with 0o666 lets the umask decide the mode, like any file the user writes
    # (tempfile.mkstemp would leave it readable by the owner only)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def export_voc(lib: Library, out: str | Path, fmt: str | None = None,
               **filters: Any) -> tuple[Path, int]:
    """Write the voice-of-customer rows to ``out``; returns the path and the row count."""
    kind = voc_format(out, fmt)
    rows = voc_rows(lib, **filters)
    data = voc_csv(rows) if kind == "csv" else voc_json(rows, filters)
    return write_atomic(out, data), len(rows)


# Showing figures ------------------------------------------------------------------------


def fmt_stat(key: str, value: float | None) -> str:
    """A figure as people read it: 77%, 2:51 or 16.8 s, 3.4/min, 0.61 s, 13, 194 wpm."""
    if value is None:
        return "unknown"
    if key == "rep_talk_ratio":
        return f"{value:.0%}"
    if key in ("longest_rep_monologue_s", "longest_customer_story_s"):
        return _fmt(value) if value >= 60 else f"{value:.1f} s"
    if key == "interactivity_per_min":
        return f"{value:.1f}/min"
    if key == "patience_s":
        return f"{value:.2f} s"
    if key == "rep_questions":
        return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"
    if key == "rep_wpm":
        return f"{value:.0f} wpm"
    return f"{value:g}"


def reference_text(key: str) -> str:
    """The published references for a figure, with their sources, as one line."""
    return "; ".join(f"{r.text} ({r.source})" for r in references(key))
