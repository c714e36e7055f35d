"""Transcripts the user already has: import (WebVTT, SRT, ClipStudio JSON) and export.

``clipstudio ingest rec.mp4 --transcript rec.vtt`` skips speech-to-text and uses a
transcript from Zoom, Teams or a captioning tool instead; :func:`parse_transcript` turns such
a file into the same :class:`~clipstudio.models.Utterance` list the speech-to-text step makes,
so search, clips and stats do not care where a transcript came from. :func:`to_vtt` and
:func:`to_srt` write utterances back out for players and other tools.

Formats read (detected from the content; the file extension only breaks ties):

* **WebVTT** (``WEBVTT`` header): Zoom cues (``Dana Lee: text``), Teams cues
  (``<v Dana Lee>text</v>``, closing tag optional, any cue identifier, cues in any order),
  plain captions (``NOTE``/``STYLE``/``REGION`` blocks skipped, cue settings ignored, hours
  optional, inline tags stripped, HTML entities decoded) and voice spans with classes
  (``<v.loud Esme>``).
* **SubRip** (``.srt``): index line optional, ``,`` or ``.`` before the milliseconds,
  ``Speaker 1: text`` speakers, ``<i>``/``<font>``/``{\\an8}`` tags stripped.
* **ClipStudio JSON**: what ``clipstudio transcript ID --format json`` prints; its real
  word timings and roles are kept.

Every file is read as UTF-8 (a BOM is fine), UTF-16 with a BOM, or else Windows-1252, with
CRLF or CR line endings. Anything wrong raises :class:`~clipstudio.errors.InputError` naming
the file and, where the problem sits on a line, the line number, because a user fixing a
1,000-cue file by hand needs to know where to look.
"""

from __future__ import annotations

import html
import json
import json.decoder
import json.scanner
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .models import Utterance, Word

SUPPORTED_FORMATS = (
    "WebVTT (.vtt: Zoom, Teams, plain captions), SubRip (.srt), "
    "ClipStudio JSON (.json, from `clipstudio transcript ID --format json`)"
)
# A word's share of its cue's time is len(word) + this: short words ("a", "I") still take
# some time, and the pause around each word is spread evenly.
WORD_PAD_CHARS = 2
# Derived word timings carry this probability; see derive_words for why it is not lower.
DERIVED_WORD_PROBABILITY = 1.0
# Merging consecutive cues never makes an utterance longer than this (Whisper's own limit),
# so a clip snapped to an utterance stays a clip, not a monologue.
MAX_MERGED_S = 30.0

_TS = r"(?:(\d+):)?([0-5]\d):([0-5]\d)(?:[.,](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s.*)?$")
_TIMING_ISH = re.compile(r"^\s*\d+:\d")  # a line that was meant to be a timing line
_SKIPPED_BLOCK = re.compile(r"^(?:NOTE|STYLE|REGION)(?:\s|$)")
# <v Name>, <v.class Name>; the name is everything up to '>' (spaces allowed).
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:[ \t]+([^>]*))?>")
# Other tags: <c.x>, </c>, <i>, <b>, <font color=...>, </v>, and <00:00:01.200> timestamps.
# A tag must start with a letter or '/', so "x < y" and "I <3 it" survive as text.
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<(?:\d+:)?\d{2}:\d{2}[.,]\d{3}>")
_ASS_TAG = re.compile(r"\{\\[^{}]*\}")  # {\an8} positioning some SRT files carry
# "Dana Lee: text", "Speaker 1: text", "Dr. O'Brien-Smith: text", "Dana (Acme): text".
# Starts with a letter, at most six words, no commas (so "Well, then: ..." is text).
_NAME_PREFIX = re.compile(r"^([^\W\d_][\w.'’()&-]*(?: [\w.'’()&-]+){0,5}):(?:\s+|$)(.*)$")


@dataclass
class _Cue:
    start_s: float
    end_s: float
    lineno: int  # of the timing line
    lines: list[tuple[int, str]]  # (line number, raw text) of the cue's text


@dataclass
class _Segment:
    """One speaker's part of one cue (or one JSON utterance) before numbering."""

    start_s: float
    end_s: float
    speaker: str | None
    text: str
    words: tuple[Word, ...]
    role: str | None = None


# --------------------------------------------------------------------------- public API


def parse_transcript(path: Path, *, merge_gap_s: float | None = None) -> list[Utterance]:
    """Read a transcript file the user brings and return its utterances.

    The result matches what speech-to-text produces: sorted by start time (Teams writes
    cues out of order), ``index`` renumbered from 0, ``id=None``, ``speaker`` the name the
    file gives or None, ``role=None`` (except ClipStudio JSON, whose roles were set by a
    person and are kept). Each cue becomes one utterance per speaker in it; times are
    rounded to the millisecond, which is all the text formats hold.

    Cues are **not merged by default**, so that re-importing an exported file gives back the
    same utterances, and the user's own segmentation is kept (Zoom cues, like Whisper's
    segments, are a few seconds long). Pass ``merge_gap_s=1.0`` to join consecutive cues
    of the same speaker that are less than that many seconds apart, as long as the result
    stays within :data:`MAX_MERGED_S`; useful for caption tracks that cut sentences up.

    Word timings in VTT and SRT files are **derived**, not measured: see
    :func:`derive_words`.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read transcript {path}: {exc.strerror or exc}") from exc
    text = _decode(data, str(path))
    return parse_transcript_text(
        text, source=str(path), suffix=path.suffix.lower(), merge_gap_s=merge_gap_s
    )


def parse_transcript_text(
    text: str,
    *,
    source: str = "<transcript>",
    suffix: str = "",
    merge_gap_s: float | None = None,
) -> list[Utterance]:
    """:func:`parse_transcript` for text already in memory (an upload in the app).

    ``source`` names the transcript in error messages; ``suffix`` (``".vtt"``...) is the
    extension hint used when the content alone does not say which format it is.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    fmt = detect_format(text, suffix, source=source)
    if fmt == "json":
        segments = _json_segments(text, source)
    else:
        segments = _cue_segments(text, source, vtt=fmt == "vtt")
    segments.sort(key=lambda s: s.start_s)  # stable: ties keep file order
    if merge_gap_s is not None and merge_gap_s > 0:
        segments = _merge(segments, merge_gap_s)
    return [
        Utterance(
            id=None,
            index=i,
            start_s=s.start_s,
            end_s=s.end_s,
            text=s.text,
            words=s.words,
            speaker=s.speaker,
            role=s.role,
        )
        for i, s in enumerate(segments)
    ]


def detect_format(text: str, suffix: str = "", *, source: str = "<transcript>") -> str:
    """Say which reader fits ``text``: ``"vtt"``, ``"srt"`` or ``"json"``.

    Content decides first (a ``WEBVTT`` header, a JSON object, SRT-style timing lines)
    because users rename files; the extension only decides files the content leaves open,
    so that a broken ``.srt`` gets an SRT error with a line number rather than "unknown".
    """
    stripped = text.lstrip()
    if not stripped:
        raise InputError(f"{source}: the file is empty; there is no transcript to import")
    if stripped[0] in "{[":
        return "json"
    if stripped.startswith("WEBVTT"):
        return "vtt"
    if suffix in (".vtt", ".srt", ".json"):
        return suffix[1:]
    if any(_TIMING.match(line) for line in text.split("\n", 400)[:400]):
        return "srt"  # no header, timing lines: SubRip or a header-less VTT, read alike
    raise InputError(f"{source}: unknown transcript format; supported: {SUPPORTED_FORMATS}")


def derive_words(text: str, start_s: float, end_s: float) -> tuple[Word, ...]:
    """Spread ``text``'s words over ``[start_s, end_s]`` so clips can snap to words.

    These timings are **estimates**: VTT and SRT only time whole cues, so each word gets a
    share of its cue proportional to its length plus :data:`WORD_PAD_CHARS`. Words are
    back to back, in order, the first starting at ``start_s`` and the last ending at
    ``end_s``; a snapped clip can be off by a fraction of a word. Their ``probability`` is
    :data:`DERIVED_WORD_PROBABILITY` (1.0) because the *words* are what the user's file
    says, not a recogniser's guess; only their times are estimated. (Aligning them to the
    audio would make them exact; not done yet.)
    """
    tokens = text.split()
    if not tokens:
        return ()
    weights = [len(t) + WORD_PAD_CHARS for t in tokens]
    total = sum(weights)
    span = end_s - start_s
    words = []
    done = 0
    for token, weight in zip(tokens, weights, strict=True):
        t0 = start_s + span * done / total
        done += weight
        t1 = end_s if done == total else start_s + span * done / total
        words.append(Word(token, round(t0, 3), round(t1, 3), DERIVED_WORD_PROBABILITY))
    return tuple(words)


def to_vtt(utterances: Iterable[Utterance]) -> str:
    """Write utterances as WebVTT, the format browsers and players show as captions.

    Speakers become ``<v Name>`` voice spans (what Teams writes, and what players know);
    utterances without a speaker get plain cues. ``&``, ``<`` and ``>`` are escaped so a
    transcript saying "A<B" cannot break the file. Cues are written in start order, as
    WebVTT requires; line breaks inside a text become spaces.
    """
    out = ["WEBVTT", ""]
    for n, u in enumerate(sorted(utterances, key=lambda u: u.start_s), 1):
        text = _escape_vtt(_one_line(u.text))
        if u.speaker:
            text = f"<v {_escape_vtt(_one_line(u.speaker))}>{text}</v>"
        timing = f"{_timestamp(u.start_s, '.')} --> {_timestamp(max(u.end_s, u.start_s), '.')}"
        out += [str(n), timing, text, ""]
    return "\n".join(out)


def to_srt(utterances: Iterable[Utterance]) -> str:
    """Write utterances as SubRip, for tools that only take ``.srt``.

    SRT has no speaker field, so speakers are written as a ``Speaker: text`` prefix (the
    convention :func:`parse_transcript` reads back); utterances without a speaker are
    written bare. SRT has no escaping either: a speaker-less text that itself starts like
    ``Word: ...`` reads back as spoken by "Word", and text that looks like a tag
    (``<b>``) reads back without it; use :func:`to_vtt` when that matters.
    """
    out = []
    for n, u in enumerate(sorted(utterances, key=lambda u: u.start_s), 1):
        text = _one_line(u.text)
        if u.speaker:
            text = f"{_one_line(u.speaker)}: {text}"
        timing = f"{_timestamp(u.start_s, ',')} --> {_timestamp(max(u.end_s, u.start_s), ',')}"
        out += [str(n), timing, text, ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- decoding


def _decode(data: bytes, source: str) -> str:
    """Bytes to text. Teams and Windows tools write UTF-16 or Windows-1252, not only UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{source}: broken UTF-16 text ({exc.reason})") from None
    if b"\x00" in data:
        raise InputError(
            f"{source}: not a text file; a transcript must be one of: {SUPPORTED_FORMATS}"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError(
            f"{source}: cannot decode the text (not UTF-8 or Windows-1252); "
            "save it as UTF-8 and try again"
        ) from None


def _error(source: str, lineno: int, message: str) -> InputError:
    return InputError(f"{source} line {lineno}: {message}")


def _show(line: str, limit: int = 60) -> str:
    line = line.strip()
    return repr(line if len(line) <= limit else line[: limit - 3] + "...")


# --------------------------------------------------------------------------- VTT and SRT


def _cue_segments(text: str, source: str, *, vtt: bool) -> list[_Segment]:
    cues = _parse_cues(text, source, vtt=vtt)
    if not cues:
        raise InputError(f"{source}: no cues found; an empty transcript cannot be imported")
    use_prefix = _uses_name_prefixes(cues, vtt)
    segments: list[_Segment] = []
    for cue in cues:
        pieces = _cue_pieces(cue, use_prefix=use_prefix, vtt=vtt)
        segments += _split_cue(cue, pieces)
    if not segments:
        raise InputError(f"{source}: every cue is empty; there is no text to import")
    return segments


def _parse_cues(text: str, source: str, *, vtt: bool) -> list[_Cue]:
    """Split the file into cues, checking every timing line; text is cleaned later."""
    lines = text.split("\n")
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            current.append((lineno, line))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)

    if vtt and blocks and blocks[0][0][1].lstrip().startswith("WEBVTT"):
        # The header block (WEBVTT plus "Kind:"-style metadata) ends at the first blank
        # line; a file that starts its first cue right below the header still parses.
        header = blocks.pop(0)
        at = next((i for i, (_, ln) in enumerate(header) if _TIMING.match(ln)), None)
        if at is not None:
            blocks.insert(0, header[at - 1 :] if at > 1 else header[at:])
    elif vtt and not any(_TIMING.match(ln) for block in blocks for _, ln in block):
        lineno, line = blocks[0][0]
        raise _error(source, lineno, f"a WebVTT file must start with 'WEBVTT', not {_show(line)}")

    cues = []
    for block in blocks:
        if vtt and _SKIPPED_BLOCK.match(block[0][1]):
            continue  # comments, CSS and region definitions: nothing spoken
        cues += _block_cues(block, source)
    return cues


def _block_cues(block: list[tuple[int, str]], source: str) -> list[_Cue]:
    """The cue(s) of one blank-line-separated block.

    A block normally holds one cue: an optional identifier (SRT index, Zoom number, Teams
    id), the timing line, text. When a file forgot the blank line between cues, a later
    full timing line (with a numeric index line just before it) starts another cue.
    """
    if "-->" in block[0][1]:
        at = 0
    elif len(block) > 1 and "-->" in block[1][1]:
        at = 1
    else:
        for lineno, line in block[:2]:
            if _TIMING_ISH.match(line) and not line.strip().isdigit():
                raise _error(source, lineno, f"bad timestamp {_show(line)}")
        lineno, line = block[1] if len(block) > 1 and block[0][1].strip().isdigit() else block[0]
        raise _error(
            source,
            lineno,
            f"expected a cue timing line like '00:00:01.000 --> 00:00:04.000', "
            f"not {_show(line)}",
        )
    cues = []
    while True:
        lineno, line = block[at]
        start_s, end_s = _parse_timing(line, lineno, source)
        rest = block[at + 1 :]
        nxt = next((i for i, (_, text) in enumerate(rest) if _TIMING.match(text)), None)
        if nxt is None:
            cues.append(_Cue(start_s, end_s, lineno, rest))
            return cues
        cut = nxt - 1 if nxt > 0 and rest[nxt - 1][1].strip().isdigit() else nxt
        cues.append(_Cue(start_s, end_s, lineno, rest[:cut]))
        block, at = rest[cut:], nxt - cut


def _parse_timing(line: str, lineno: int, source: str) -> tuple[float, float]:
    m = _TIMING.match(line)
    if not m:
        raise _error(source, lineno, f"bad timestamp {_show(line)}")
    g = m.groups()
    start_s, end_s = _seconds(*g[:4]), _seconds(*g[4:])
    if end_s < start_s:
        raise _error(source, lineno, f"cue ends before it starts: {_show(line)}")
    return start_s, end_s


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str | None) -> float:
    ms = int((fraction or "0").ljust(3, "0"))
    total_ms = ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + ms
    return total_ms / 1000


def _clean(fragment: str, vtt: bool) -> str:
    """Cue text as spoken: tags stripped, entities decoded (VTT only), spaces collapsed."""
    text = _ASS_TAG.sub("", _TAG.sub("", fragment))
    if vtt:
        text = html.unescape(text)  # after stripping, so "&lt;b&gt;" stays text
    return " ".join(text.split())


def _uses_name_prefixes(cues: list[_Cue], vtt: bool) -> bool:
    """Whether this file marks speakers as ``Name: text`` (Zoom, many SRT files).

    Plain captions can contain "Step one: ..." too, so the convention is only assumed when
    the file uses it: at least half of the cues start with a name, or some name starts
    more than one cue. Files that use ``<v>`` voice spans never use it (Teams text saying
    "Note: ..." is not a speaker change).
    """
    if any(_VOICE.search(raw) for cue in cues for _, raw in cue.lines):
        return False
    names = []
    texted = 0
    for cue in cues:
        first = next((t for t in (_clean(raw, vtt) for _, raw in cue.lines) if t), None)
        if first is None:
            continue
        texted += 1
        m = _NAME_PREFIX.match(first)
        if m:
            names.append(m.group(1))
    return bool(names) and (2 * len(names) >= texted or len(set(names)) < len(names))


def _cue_pieces(cue: _Cue, *, use_prefix: bool, vtt: bool) -> list[tuple[str | None, str]]:
    """(speaker, text) runs of one cue, in order.

    A ``<v Name>`` span, or a ``Name:`` prefix in files that use them, starts a new speaker;
    any other line continues the speaker before it within the cue. A cue that names nobody
    has speaker None: it is not credited to the previous cue's speaker, because Zoom leaves
    the name out exactly when it does not know who spoke. In a file that uses prefixes,
    every line starting ``Name:`` (up to six words, no commas) switches speaker.
    """
    pieces: list[list] = []
    speaker: str | None = None
    tagged = False

    def add(fragment: str) -> None:
        nonlocal speaker
        text = _clean(fragment, vtt)
        if not text:
            return
        if use_prefix and not tagged:
            m = _NAME_PREFIX.match(text)
            if m:
                speaker, text = m.group(1), m.group(2).strip()
                if not text:
                    return
        if pieces and pieces[-1][0] == speaker:
            pieces[-1][1].append(text)
        else:
            pieces.append([speaker, [text]])

    for _, raw in cue.lines:
        pos = 0
        for m in _VOICE.finditer(raw):
            add(raw[pos : m.start()])
            speaker = _clean(m.group(1) or "", vtt) or None
            tagged = True
            pos = m.end()
        add(raw[pos:])
    return [(who, " ".join(texts)) for who, texts in pieces]


def _split_cue(cue: _Cue, pieces: list[tuple[str | None, str]]) -> list[_Segment]:
    """Segments for a cue; several speakers in one cue share its time by amount of text."""
    if not pieces:
        return []
    weights = [sum(len(w) + WORD_PAD_CHARS for w in text.split()) for _, text in pieces]
    total = sum(weights)
    span = cue.end_s - cue.start_s
    out = []
    done = 0
    for (speaker, text), weight in zip(pieces, weights, strict=True):
        t0 = cue.start_s + span * done / total
        done += weight
        t1 = cue.end_s if done == total else cue.start_s + span * done / total
        t0, t1 = round(t0, 3), round(t1, 3)
        out.append(_Segment(t0, t1, speaker, text, derive_words(text, t0, t1)))
    return out


def _merge(segments: list[_Segment], gap_s: float) -> list[_Segment]:
    """Join same-speaker neighbours closer than ``gap_s``, capped at MAX_MERGED_S."""
    out: list[_Segment] = []
    for seg in segments:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.speaker == seg.speaker
            and prev.role == seg.role
            and 0 <= seg.start_s - prev.end_s < gap_s
            and seg.end_s - prev.start_s <= MAX_MERGED_S
        ):
            out[-1] = _Segment(
                prev.start_s,
                max(prev.end_s, seg.end_s),
                prev.speaker,
                f"{prev.text} {seg.text}",
                prev.words + seg.words,
                prev.role,
            )
        else:
            out.append(seg)
    return out


# --------------------------------------------------------------------------- JSON


class _JsonProblem(Exception):
    def __init__(self, node: object, key: str | None, message: str) -> None:
        super().__init__(message)
        self.node, self.key, self.message = node, key, message


class _At(dict):
    """A JSON object that remembers where in the text it started (for line numbers)."""

    offset = 0


def _json_segments(text: str, source: str) -> list[_Segment]:
    """Utterances from ClipStudio's own JSON, words and all.

    The file is parsed with the fast C parser and checked; only when the check fails is it
    parsed again, slowly, keeping each object's position, to name the line at fault.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _error(source, exc.lineno, f"invalid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{source}: invalid JSON: {exc}") from None
    try:
        segments = _json_build(data)
    except _JsonProblem as problem:
        raise _json_error(text, source, problem) from None
    if not segments:
        raise InputError(f"{source}: no utterances; an empty transcript cannot be imported")
    return segments


def _json_error(text: str, source: str, first: _JsonProblem) -> InputError:
    try:
        _json_build(_positional_loads(text))
    except _JsonProblem as problem:
        node = problem.node
        if isinstance(node, _At):
            offset = node.offset
            if problem.key is not None and problem.key in node:
                found = text.find(json.dumps(problem.key), offset)
                offset = found if found >= 0 else offset
            return _error(source, text.count("\n", 0, offset) + 1, problem.message)
        return _error(source, 1, problem.message)
    except (ValueError, RecursionError):
        pass
    return InputError(f"{source}: {first.message}")


def _positional_loads(text: str) -> object:
    decoder = json.JSONDecoder()

    def parse_object(s_and_end, *args):
        obj, end = json.decoder.JSONObject(s_and_end, *args)
        at = _At(obj)
        at.offset = s_and_end[1] - 1
        return at, end

    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder.decode(text)


def _json_build(data: object) -> list[_Segment]:
    if not isinstance(data, dict) or not isinstance(data.get("utterances"), list):
        raise _JsonProblem(
            data if isinstance(data, dict) else None,
            None,
            "expected a ClipStudio transcript: a JSON object with an 'utterances' list",
        )
    out = []
    for i, u in enumerate(data["utterances"]):
        where = f"utterance {i}"
        if not isinstance(u, dict):
            raise _JsonProblem(data, "utterances", f"{where} is not a JSON object")
        start_s, end_s = _json_number(u, "start_s", where), _json_number(u, "end_s", where)
        if end_s < start_s:
            raise _JsonProblem(u, "end_s", f"{where} ends before it starts ({end_s} < {start_s})")
        text = u.get("text", "")
        if not isinstance(text, str):
            raise _JsonProblem(u, "text", f"{where}: 'text' must be a string")
        speaker = _json_label(u, "speaker", where)
        role = _json_label(u, "role", where)
        raw_words = u.get("words") or []
        if not isinstance(raw_words, list):
            raise _JsonProblem(u, "words", f"{where}: 'words' must be a list")
        words = tuple(_json_word(w, u, f"{where} word {j}") for j, w in enumerate(raw_words))
        text = " ".join(text.split()) or " ".join(w.text for w in words)
        if not text:
            continue
        out.append(
            _Segment(
                start_s,
                end_s,
                speaker,
                text,
                words or derive_words(text, start_s, end_s),
                role,
            )
        )
    return out


def _json_number(obj: dict, key: str, where: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _JsonProblem(obj, key, f"{where}: '{key}' must be a number, not {value!r:.40}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise _JsonProblem(obj, key, f"{where}: '{key}' must be a time in seconds, not {value}")
    return number


def _json_label(obj: dict, key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _JsonProblem(obj, key, f"{where}: '{key}' must be a string or null")
    return " ".join(value.split()) or None


def _json_word(w: object, parent: dict, where: str) -> Word:
    if not isinstance(w, dict):
        raise _JsonProblem(parent, "words", f"{where} is not a JSON object")
    text = w.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _JsonProblem(w, "text", f"{where}: 'text' must be a non-empty string")
    start_s, end_s = _json_number(w, "start_s", where), _json_number(w, "end_s", where)
    if end_s < start_s:
        raise _JsonProblem(w, "end_s", f"{where} ends before it starts ({end_s} < {start_s})")
    probability = w.get("probability", DERIVED_WORD_PROBABILITY)
    if isinstance(probability, bool) or not isinstance(probability, int | float):
        raise _JsonProblem(w, "probability", f"{where}: 'probability' must be a number")
    return Word(text.strip(), start_s, end_s, float(probability))


# --------------------------------------------------------------------------- writing


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
