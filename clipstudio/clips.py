"""Clips: a moment of a call cut into a clean, normalised audio file, tagged and rated.

Bounds snap to word edges so no word is ever cut: every word that overlaps the chosen
range is taken whole (also the other party's, on stereo calls), then padding is added,
but never past the middle of the gap to the neighbouring word. Loudness is normalised
to the spoken-word target (-16 LUFS integrated, -1.5 dBTP) in two passes (measure, then
apply one linear gain; see :func:`_second_pass`), because single-pass normalisation pumps.
Stereo calls are mixed to *balanced* mono by default: each party's channel is levelled to
the same speech loudness first, so a quiet customer is not lost under a loud rep.

The clip record keeps the call word indices of the range and of redactions; the clip
transcript is read from the call's words each time, so renaming a speaker shows up in
every clip of that call.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ClipStudioError, InputError, MediaError, NotFoundError
from .media import _tail, ffmpeg_exe, remove_stale_temp_files, run_ffmpeg
from .models import (
    CLIP_FORMATS,
    RATINGS,
    Clip,
    ClipLine,
    ClipSpeaker,
    ClipWord,
    Tag,
)
from .store import now_iso

if TYPE_CHECKING:
    from .library import Library

TARGET_LUFS = -16.0
TARGET_TP_DB = -1.5
PAD_BEFORE_S = 0.3
PAD_AFTER_S = 0.5
MAX_CLIP_S = 600.0
FADE_IN_S = 0.05
FADE_OUT_S = 0.1
BLEEP_HZ = 1000
REDACT_MARGIN_S = 0.15
MAX_BALANCE_GAIN = 10.0  # +20 dB at most for a quiet channel
REDACTED = "[redacted]"
TAG_KINDS = ("skill", "message")

_OUT_RATE = {"mp3": 44100, "m4a": 44100, "opus": 48000, "wav": 44100}
# LAME plays back 0.4 LU quieter than what it was given (a -20 dBFS 1 kHz sine measures
# -41.1 LUFS as WAV and -41.5 as 64 kbps MP3 with this ffmpeg), so MP3 clips get it back.
_CODEC_GAIN_DB = {"mp3": 0.4}
# format -> (file extension, ffmpeg muxer, codec arguments for mono, for stereo)
_ENCODE: dict[str, tuple[str, str, list[str], list[str]]] = {
    "mp3": ("mp3", "mp3", ["-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100"],
            ["-c:a", "libmp3lame", "-b:a", "96k", "-ar", "44100"]),
    "m4a": ("m4a", "ipod", ["-c:a", "aac", "-b:a", "64k", "-ar", "44100",
                            "-movflags", "+faststart"],
            ["-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-movflags", "+faststart"]),
    "opus": ("opus", "opus", ["-c:a", "libopus", "-b:a", "32k", "-ar", "48000"],
             ["-c:a", "libopus", "-b:a", "48k", "-ar", "48000"]),
    "wav": ("wav", "wav", ["-c:a", "pcm_s16le", "-ar", "44100"],
            ["-c:a", "pcm_s16le", "-ar", "44100"]),
}


class MediaMissingError(MediaError):
    """The call's kept recording is not on disk any more; re-link it to a copy."""

    def __init__(self, call_id: int, path: str) -> None:
        self.call_id = call_id
        super().__init__(
            f"the recording of call {call_id} is missing: {path}. Re-link it to a copy of "
            f"the original file (`clipstudio relink {call_id} FILE`, or the Call page)",
            path=path)


class ClipInUseError(ClipStudioError):
    """A clip that playlists use cannot be deleted without saying so."""

    def __init__(self, clip_id: int, playlists: Sequence[str]) -> None:
        self.clip_id = clip_id
        self.playlists = tuple(playlists)
        super().__init__(
            f"clip {clip_id} is used by {len(playlists)} playlist(s): "
            f"{', '.join(playlists)}; delete it with force to remove it from them too")


# word snapping --------------------------------------------------------------------------

@dataclass(frozen=True)
class CallWord:
    index: int
    text: str
    start_s: float
    end_s: float
    speaker: str | None
    role: str | None


@dataclass(frozen=True)
class Span:
    """A snapped range: padded bounds in call time and the words it holds."""

    start_s: float
    end_s: float
    first_word: int
    last_word: int


def call_words(lib: Library, call_id: int) -> list[CallWord]:
    """Every word of a call with its speaker, in time order."""
    speakers = {s.id: s for s in lib.speakers(call_id)}
    rows = lib.db.execute(
        "SELECT w.idx, w.text, w.start_s, w.end_s, u.speaker_id FROM words w "
        "JOIN utterances u ON u.id = w.utterance_id WHERE w.call_id = ? "
        "ORDER BY w.start_s, w.idx", [call_id]).fetchall()
    out = []
    for idx, text, start, end, sid in rows:
        sp = speakers.get(sid)
        out.append(CallWord(idx, text.strip(), start, end, sp.display if sp else None,
                            sp.role if sp else None))
    return out


def snap(words: Sequence[CallWord], start_s: float, end_s: float, duration_s: float,
         pad_before_s: float = PAD_BEFORE_S, pad_after_s: float = PAD_AFTER_S) -> Span:
    """Widen ``start_s..end_s`` to whole words, then pad without cutting a neighbour."""
    inside = [w for w in words if w.end_s > start_s and w.start_s < end_s]
    if not inside:
        raise InputError(f"no words between {fmt(start_s)} and {fmt(end_s)}: "
                         "a clip must hold at least one word")
    lo, hi = min(w.start_s for w in inside), max(w.end_s for w in inside)
    while True:  # words overlapping the edges (the other party, on stereo) come in whole
        grown = [w for w in words if w.end_s > lo and w.start_s < hi]
        new_lo, new_hi = min(w.start_s for w in grown), max(w.end_s for w in grown)
        if (new_lo, new_hi) == (lo, hi):
            break
        lo, hi = new_lo, new_hi
    before = [w.end_s for w in words if w.end_s <= lo]
    after = [w.start_s for w in words if w.start_s >= hi]
    start = lo - pad_before_s
    if before:
        start = max(start, (max(before) + lo) / 2)
    end = hi + pad_after_s
    if after:
        end = min(end, (min(after) + hi) / 2)
    start, end = max(0.0, start), min(duration_s, end)
    held = [w.index for w in words if w.start_s >= lo and w.end_s <= hi]
    return Span(round(start, 3), round(end, 3), min(held), max(held))


def fmt(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"


def parse_ranges(text: str | Iterable[Sequence[int]] | None) -> list[tuple[int, int]]:
    """'12-14, 20' -> [(12, 14), (20, 20)]: word index ranges, inclusive."""
    if text is None:
        return []
    if not isinstance(text, str):
        out = []
        for r in text:
            a, b = (int(r[0]), int(r[-1]))
            out.append((min(a, b), max(a, b)))
        return sorted(set(out))
    out = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise InputError(f"redaction {part!r} is not a word index or range like 12-14")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        out.append((min(a, b), max(a, b)))
    return sorted(set(out))


def _redacted(index: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(a <= index <= b for a, b in ranges)


# ffmpeg ---------------------------------------------------------------------------------

def _expr(ranges: Sequence[tuple[float, float]]) -> str:
    return "+".join(f"between(t,{a:.3f},{b:.3f})" for a, b in ranges)


def _channel_levels(src: Path, start_s: float, duration_s: float) -> tuple[float, float]:
    """Speech loudness (RMS of the loud 50 ms frames) of the left and right channels."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-ss", f"{start_s:.3f}",
           "-t", f"{duration_s:.3f}", "-i", str(src), "-map", "0:a:0", "-ac", "2",
           "-ar", "16000", "-f", "s16le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise MediaError("ffmpeg could not read the call's channels", path=str(src),
                         stderr_tail=_tail(proc.stderr.decode("utf-8", "replace")))
    pcm = np.frombuffer(proc.stdout, dtype=np.int16).reshape(-1, 2).astype(np.float32) / 32768
    frame = 800
    n = len(pcm) // frame
    levels = []
    for c in range(2):
        power = (pcm[: n * frame, c].reshape(n, frame) ** 2).mean(axis=1) if n else np.zeros(1)
        if not power.size or power.max() <= 1e-9:
            levels.append(0.0)
            continue
        loud = power[power >= power.max() * 0.01]  # within 20 dB of the loudest frame
        loud = loud[loud >= np.percentile(power, 95) * 0.01] if loud.size else loud
        levels.append(float(np.sqrt(loud.mean())) if loud.size else 0.0)
    return levels[0], levels[1]


def _graph(*, channels: int, keep_stereo: bool, balance: tuple[float, float] | None,
           sample_rate: int, duration_s: float, silence: Sequence[tuple[float, float]],
           bleep: Sequence[tuple[float, float]], out_rate: int, last: str) -> str:
    """The filter graph from the input to ``[out]``: mix, redact, fade, then ``last``."""
    steps = []
    if channels >= 2 and not keep_stereo:
        a, b = balance or (0.5, 0.5)
        steps.append(f"pan=mono|c0={a:.4f}*c0+{b:.4f}*c1")
    elif channels == 1 or not keep_stereo:
        steps.append("aformat=channel_layouts=mono")
    else:
        steps.append("aformat=channel_layouts=stereo")
    hush = list(silence) + list(bleep)
    if hush:
        steps.append(f"volume=0:enable='{_expr(hush)}'")
    graph = f"[0:a:0]{','.join(steps)}[v]"
    src = "[v]"
    if bleep:
        layout = "stereo" if keep_stereo and channels >= 2 else "mono"
        graph += (f";sine=frequency={BLEEP_HZ}:sample_rate={sample_rate}:"
                  f"duration={duration_s:.3f},volume=0.2,aformat=channel_layouts={layout},"
                  f"volume=0:enable='not({_expr(bleep)})'[b];[v][b]amix=inputs=2:"
                  "duration=first:normalize=0[m]")
        src = "[m]"
    fade_out_at = max(0.0, duration_s - FADE_OUT_S)
    # measured and limited at the rate it is encoded at: resampling after the limiter
    # would put back overshoots above the ceiling
    graph += (f";{src}afade=t=in:d={FADE_IN_S},afade=t=out:st={fade_out_at:.3f}:"
              f"d={FADE_OUT_S},aresample={out_rate},{last}[out]")
    return graph


@dataclass(frozen=True)
class Loudness:
    """An EBU R128 / ITU BS.1770 measurement, as ffmpeg's ebur128 filter reports it."""

    integrated_lufs: float
    true_peak_db: float
    range_lu: float
    threshold_lufs: float


_SUMMARY = {
    "integrated_lufs": r"Integrated loudness:\s*I:\s*(-?[\d.]+|-inf) LUFS",
    "threshold_lufs": r"Integrated loudness:.*?Threshold:\s*(-?[\d.]+|-inf) LUFS",
    "range_lu": r"LRA:\s*(-?[\d.]+) LU",
    "true_peak_db": r"True peak:\s*Peak:\s*(-?[\d.]+|-inf) dBFS",
}


def _parse_ebur128(err: str, path: str) -> Loudness:
    summary = err.rsplit("Summary:", 1)[-1]
    values = {}
    for key, pattern in _SUMMARY.items():
        m = re.search(pattern, summary, re.S)
        if m is None and key != "true_peak_db":
            raise MediaError("ffmpeg printed no loudness measurement", path=path,
                             stderr_tail=_tail(err))
        values[key] = float(m.group(1)) if m else float("-inf")
    return Loudness(**values)


def _second_pass(loud: Loudness, codec_gain_db: float = 0.0) -> str:
    """The filter that applies the first pass's measurement.

    The gain that brings the measured loudness to -16 LUFS is applied linearly, which is
    what loudnorm's two-pass linear mode does. loudnorm only stays linear while that gain
    keeps the true peak under -1.5 dBTP; most speech peaks 15-20 dB above its loudness, so
    it would drop to its dynamic mode, which is the single-pass behaviour (it lands 0.5-1.5
    LU off target on short clips and pumps). Here the same linear gain is kept and only the
    few peaks above the ceiling are limited (alimiter, 2 dB under full scale to leave room
    for inter-sample peaks).
    """
    if not np.isfinite(loud.integrated_lufs) or loud.integrated_lufs <= -70:
        return "anull"  # nothing audible to measure (all redacted or silent): leave it
    gain_db = TARGET_LUFS - loud.integrated_lufs + codec_gain_db
    if loud.true_peak_db + gain_db <= TARGET_TP_DB - 0.5:
        return f"volume={gain_db:.2f}dB"
    ceiling = 10 ** ((TARGET_TP_DB - 0.5) / 20)
    return (f"volume={gain_db:.2f}dB,alimiter=limit={ceiling:.4f}:attack=1:release=40:"
            "level=0:latency=1")


def render(src: Path, dest: Path, *, start_s: float, end_s: float, channels: int,
           sample_rate: int, fmt_name: str = "mp3", keep_stereo: bool = False,
           silence: Sequence[tuple[float, float]] = (),
           bleep: Sequence[tuple[float, float]] = ()) -> Loudness:
    """Cut ``start_s..end_s`` of ``src`` into ``dest``, normalised in two passes; returns
    the first pass's measurement. Redaction ranges are in clip time. ``dest`` only appears
    complete: ffmpeg writes a temporary name that is renamed into place.

    The first pass measures with ebur128 (integrated loudness, range, true peak: the same
    BS.1770 figures loudnorm's first pass prints, at a third of its cost, since loudnorm
    runs its whole dynamic processor at 192 kHz just to measure).
    """
    if fmt_name not in _ENCODE:
        raise InputError(f"format must be one of {', '.join(CLIP_FORMATS)}, not {fmt_name!r}")
    duration = end_s - start_s
    seek = ["-ss", f"{start_s:.3f}", "-t", f"{duration:.3f}", "-i", str(src)]
    balance = None
    if channels >= 2 and not keep_stereo:
        left, right = _channel_levels(src, start_s, duration)
        ref = max(left, right)
        gains = [min(MAX_BALANCE_GAIN, ref / v) if v > 0 else 0.0 for v in (left, right)]
        if not any(gains):
            gains = [1.0, 1.0]
        balance = (0.5 * gains[0], 0.5 * gains[1])
    common = dict(channels=channels, keep_stereo=keep_stereo, balance=balance,
                  sample_rate=sample_rate or 16000, duration_s=duration, silence=silence,
                  bleep=bleep, out_rate=_OUT_RATE[fmt_name])
    err = run_ffmpeg(["-y", *seek, "-filter_complex",
                      _graph(**common, last="ebur128=peak=true:framelog=quiet"),
                      "-map", "[out]", "-f", "null", "-"],
                     path=str(src), what="ffmpeg could not measure the clip's loudness")
    loud = _parse_ebur128(err, str(src))
    ext, muxer, mono_args, stereo_args = _ENCODE[fmt_name]
    stereo_out = keep_stereo and channels >= 2
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}.{ext}")
    last = _second_pass(loud, _CODEC_GAIN_DB.get(fmt_name, 0.0))
    try:
        run_ffmpeg(["-y", *seek, "-filter_complex", _graph(**common, last=last),
                    "-map", "[out]", *(stereo_args if stereo_out else mono_args),
                    "-map_metadata", "-1", "-f", muxer, str(tmp)],
                   path=str(src), what="ffmpeg could not write the clip")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return loud


def loudness(path: Path) -> Loudness:
    """Measure a file's loudness with ffmpeg's ebur128 filter."""
    err = run_ffmpeg(["-i", str(path), "-af", "ebur128=peak=true:framelog=quiet", "-f",
                      "null", "-"], path=str(path), what="ffmpeg could not measure loudness")
    return _parse_ebur128(err, str(path))


def measure_loudness(path: Path) -> float:
    """Integrated loudness (LUFS) of a file."""
    return loudness(path).integrated_lufs


# records --------------------------------------------------------------------------------

def clips_dir(lib: Library) -> Path:
    d = lib.root / "clips"
    d.mkdir(parents=True, exist_ok=True)
    return d


def setting_pads(lib: Library) -> tuple[float, float]:
    return (float(lib.store.get_setting("clip_pad_before_s", PAD_BEFORE_S)),
            float(lib.store.get_setting("clip_pad_after_s", PAD_AFTER_S)))


def max_clip_s(lib: Library) -> float:
    return float(lib.store.get_setting("clip_max_s", MAX_CLIP_S))


def set_clip_settings(lib: Library, *, pad_before_s: float | None = None,
                      pad_after_s: float | None = None, max_s: float | None = None) -> None:
    for key, value, hi in (("clip_pad_before_s", pad_before_s, 5.0),
                           ("clip_pad_after_s", pad_after_s, 5.0),
                           ("clip_max_s", max_s, 7200.0)):
        if value is None:
            continue
        if not 0 <= float(value) <= hi or (key == "clip_max_s" and float(value) < 1):
            raise InputError(f"{key} must be between {1 if key == 'clip_max_s' else 0} "
                             f"and {hi:g} seconds, not {value}")
        lib.store.set_setting(key, float(value))


def _tag_ids(lib: Library, kind: str, names: Iterable[str]) -> list[int]:
    known = {r["name"].lower(): r["id"] for r in
             lib.db.query("SELECT id, name FROM tags WHERE kind = ?", [kind])}
    ids = []
    for name in names:
        name = (name or "").strip()
        if not name:
            continue
        if name.lower() not in known:
            raise InputError(
                f"no {kind} called {name!r}; known {kind}s: "
                f"{', '.join(sorted(r for r in _names(lib, kind)))}. Add it first "
                f"(`clipstudio tags add {kind} NAME`, or Settings in the app)")
        ids.append(known[name.lower()])
    return sorted(set(ids))


def _names(lib: Library, kind: str) -> list[str]:
    return [r[0] for r in lib.db.execute("SELECT name FROM tags WHERE kind = ? ORDER BY name",
                                         [kind])]


def check_rating(rating: str) -> str:
    rating = (rating or "neutral").strip().lower()
    if rating not in RATINGS:
        raise InputError(f"rating must be one of {', '.join(RATINGS)}, not {rating!r}")
    return rating


@dataclass(frozen=True)
class _Plan:
    span: Span
    silence: list[tuple[float, float]]
    bleep: list[tuple[float, float]]
    redactions: list[tuple[int, int]]


def _plan(lib: Library, call_id: int, *, start_s: float | None, end_s: float | None,
          start_word: int | None, end_word: int | None,
          redact: Sequence[tuple[int, int]], bleep: bool,
          pads: tuple[float, float] | None = None) -> _Plan:
    call = lib.call(call_id)
    words = call_words(lib, call.id)
    if not words:
        raise InputError(f"call {call.id} has no words to cut a clip from")
    by_index = {w.index: w for w in words}
    if start_word is not None or end_word is not None:
        if start_word is None or end_word is None:
            raise InputError("give both a start word and an end word")
        for i in (start_word, end_word):
            if i not in by_index:
                raise InputError(f"call {call.id} has no word {i} "
                                 f"(its words are numbered 0 to {len(words) - 1})")
        if end_word < start_word:
            raise InputError(f"the end word ({end_word}) comes before the start word "
                             f"({start_word})")
        start_s, end_s = by_index[start_word].start_s, by_index[end_word].end_s
    if start_s is None or end_s is None:
        raise InputError("give a start and an end (seconds, or start and end words)")
    if end_s <= start_s:
        raise InputError(f"the end ({fmt(end_s)}) must be after the start ({fmt(start_s)})")
    if start_s < 0 or end_s > call.duration_s + 0.05:
        raise InputError(f"{fmt(start_s)}-{fmt(end_s)} is outside the call, which runs "
                         f"0:00.0-{fmt(call.duration_s)}")
    before, after = pads or setting_pads(lib)
    span = snap(words, start_s, end_s, call.duration_s, before, after)
    limit = max_clip_s(lib)
    if span.end_s - span.start_s > limit:
        raise InputError(f"the clip would last {span.end_s - span.start_s:.0f} s, longer than "
                         f"the {limit:.0f} s limit (change it in Settings)")
    ranges = [(a, b) for a, b in redact if b >= span.first_word and a <= span.last_word]
    for a, b in ranges:
        for i in (a, b):
            if i not in by_index:
                raise InputError(f"redaction {a}-{b}: call {call.id} has no word {i}")
    hush = []
    ordered = sorted(words, key=lambda w: w.start_s)
    for n, w in enumerate(ordered):
        if not _redacted(w.index, ranges):
            continue
        # word times are only accurate to a tenth of a second or so: widen the cover, up
        # to the middle of the neighbouring words (privacy wins over their last syllable)
        prev = ordered[n - 1] if n else None
        nxt = ordered[n + 1] if n + 1 < len(ordered) else None
        a = w.start_s - REDACT_MARGIN_S
        if prev is not None:
            a = max(a, min(w.start_s, (prev.start_s + prev.end_s) / 2))
        b = w.end_s + REDACT_MARGIN_S
        if nxt is not None:
            b = min(b, max(w.end_s, (nxt.start_s + nxt.end_s) / 2))
        a, b = max(a, span.start_s) - span.start_s, min(b, span.end_s) - span.start_s
        if b > a:
            hush.append((round(a, 3), round(b, 3)))
    return _Plan(span, [] if bleep else hush, hush if bleep else [], ranges)


def _media(lib: Library, call_id: int) -> tuple[Path, int, int]:
    call = lib.call(call_id)
    path = Path(call.media_path)
    if not path.is_file():
        raise MediaMissingError(call.id, str(path))
    row = lib.db.execute("SELECT channels, sample_rate FROM calls WHERE id = ?",
                         [call.id]).fetchone()
    return path, int(row[0] or 1), int(row[1] or 16000)


def _file_name(clip_id: int, ext: str) -> str:
    # a new name per cut, so a browser never plays a cached earlier cut
    return f"clip-{clip_id}-{secrets.token_hex(3)}.{ext}"


def _default_title(lib: Library, call_id: int, plan: _Plan) -> str:
    """The clip's first words (redactions masked) and the call's title."""
    span = plan.span
    words = [REDACTED if _redacted(w.index, plan.redactions) else w.text
             for w in call_words(lib, call_id) if span.first_word <= w.index <= span.last_word]
    head = " ".join(words[:8]).strip(" ,.")
    more = "…" if len(words) > 8 else ""
    return f"\u201c{head}{more}\u201d \u2014 {lib.call(call_id).title}"


def make_clip(
    lib: Library,
    call_id: int | str,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    start_word: int | None = None,
    end_word: int | None = None,
    title: str | None = None,
    skills: Iterable[str] = (),
    messages: Iterable[str] = (),
    rating: str = "neutral",
    notes: str = "",
    fmt_name: str = "mp3",
    stereo: bool = False,
    redact: str | Iterable[Sequence[int]] | None = None,
    bleep: bool = True,
) -> Clip:
    """Cut a clip from a call and record it. Nothing is written if any step fails."""
    call = lib.call(call_id)
    rating = check_rating(rating)
    skill_ids = _tag_ids(lib, "skill", skills)
    message_ids = _tag_ids(lib, "message", messages)
    if fmt_name not in _ENCODE:
        raise InputError(f"format must be one of {', '.join(CLIP_FORMATS)}, not {fmt_name!r}")
    plan = _plan(lib, call.id, start_s=start_s, end_s=end_s, start_word=start_word,
                 end_word=end_word, redact=parse_ranges(redact), bleep=bleep)
    src, channels, rate = _media(lib, call.id)
    folder = clips_dir(lib)
    remove_stale_temp_files(folder)
    ext = _ENCODE[fmt_name][0]
    staged = folder / f".tmp-{os.getpid()}-{secrets.token_hex(4)}.staged.{ext}"
    try:
        render(src, staged, start_s=plan.span.start_s, end_s=plan.span.end_s,
               channels=channels, sample_rate=rate, fmt_name=fmt_name,
               keep_stereo=stereo, silence=plan.silence, bleep=plan.bleep)
        stamp = now_iso()
        with lib.store.write():
            clip_id = int(lib.db["clips"].insert({
                "call_id": call.id,
                "title": (title or "").strip() or _default_title(lib, call.id, plan),
                "start_s": plan.span.start_s,
                "end_s": plan.span.end_s,
                "first_word": plan.span.first_word,
                "last_word": plan.span.last_word,
                "format": fmt_name,
                "stereo": int(bool(stereo and channels >= 2)),
                "file": "pending",
                "rating": rating,
                "notes": (notes or "").strip(),
                "redactions": json.dumps(plan.redactions),
                "pad_before_s": setting_pads(lib)[0],
                "pad_after_s": setting_pads(lib)[1],
                "created_at": stamp,
                "updated_at": stamp,
            }).last_pk)
            name = _file_name(clip_id, ext)
            lib.db["clips"].update(clip_id, {"file": name})
            lib.db.conn.executemany("INSERT INTO clip_tags (clip_id, tag_id) VALUES (?, ?)",
                                    [(clip_id, t) for t in skill_ids + message_ids])
            os.replace(staged, folder / name)
    finally:
        staged.unlink(missing_ok=True)
    lib._clip_changed(call.id)
    return get_clip(lib, clip_id)


def recut_clip(lib: Library, clip_id: int | str, *, start_s: float | None = None,
               end_s: float | None = None, start_word: int | None = None,
               end_word: int | None = None, fmt_name: str | None = None,
               stereo: bool | None = None,
               redact: str | Iterable[Sequence[int]] | None = None,
               bleep: bool = True) -> Clip:
    """Cut the clip again with new bounds, format or redactions; the new file replaces
    the old one only once it is complete and recorded."""
    clip = get_clip(lib, clip_id)
    if start_s is None and end_s is None and start_word is None and end_word is None:
        start_word, end_word = clip.first_word, clip.last_word
    fmt_name = fmt_name or clip.format
    stereo = clip.stereo if stereo is None else stereo
    ranges = list(clip.redactions) if redact is None else parse_ranges(redact)
    if fmt_name not in _ENCODE:
        raise InputError(f"format must be one of {', '.join(CLIP_FORMATS)}, not {fmt_name!r}")
    plan = _plan(lib, clip.call_id, start_s=start_s, end_s=end_s, start_word=start_word,
                 end_word=end_word, redact=ranges, bleep=bleep)
    src, channels, rate = _media(lib, clip.call_id)
    folder = clips_dir(lib)
    ext = _ENCODE[fmt_name][0]
    staged = folder / f".tmp-{os.getpid()}-{secrets.token_hex(4)}.staged.{ext}"
    name = _file_name(clip.id, ext)
    try:
        render(src, staged, start_s=plan.span.start_s, end_s=plan.span.end_s,
               channels=channels, sample_rate=rate, fmt_name=fmt_name, keep_stereo=stereo,
               silence=plan.silence, bleep=plan.bleep)
        with lib.store.write():
            lib.db["clips"].update(clip.id, {
                "start_s": plan.span.start_s, "end_s": plan.span.end_s,
                "first_word": plan.span.first_word, "last_word": plan.span.last_word,
                "format": fmt_name, "stereo": int(bool(stereo and channels >= 2)),
                "file": name, "redactions": json.dumps(plan.redactions),
                "updated_at": now_iso()})
            os.replace(staged, folder / name)
    finally:
        staged.unlink(missing_ok=True)
    if Path(clip.path).name != name:
        Path(clip.path).unlink(missing_ok=True)
    lib._clip_changed(clip.call_id)
    return get_clip(lib, clip.id)


def update_clip(lib: Library, clip_id: int | str, *, title: str | None = None,
                notes: str | None = None, rating: str | None = None,
                skills: Iterable[str] | None = None,
                messages: Iterable[str] | None = None) -> Clip:
    """Change what trainers wrote about a clip (the audio stays as it is)."""
    clip = get_clip(lib, clip_id)
    changes: dict[str, Any] = {}
    if title is not None:
        if not title.strip():
            raise InputError("a clip's title cannot be empty")
        changes["title"] = title.strip()
    if notes is not None:
        changes["notes"] = notes.strip()
    if rating is not None:
        changes["rating"] = check_rating(rating)
    retag = {}
    if skills is not None:
        retag["skill"] = _tag_ids(lib, "skill", skills)
    if messages is not None:
        retag["message"] = _tag_ids(lib, "message", messages)
    with lib.store.write():
        if changes:
            changes["updated_at"] = now_iso()
            lib.db["clips"].update(clip.id, changes)
        for kind, ids in retag.items():
            lib.db.execute("DELETE FROM clip_tags WHERE clip_id = ? AND tag_id IN "
                           "(SELECT id FROM tags WHERE kind = ?)", [clip.id, kind])
            lib.db.conn.executemany("INSERT INTO clip_tags (clip_id, tag_id) VALUES (?, ?)",
                                    [(clip.id, t) for t in ids])
    lib._clip_changed(clip.call_id)
    return get_clip(lib, clip.id)


def duplicate_clip(lib: Library, clip_id: int | str, *, title: str | None = None) -> Clip:
    """A copy of a clip (file, tags and all) to edit separately."""
    clip = get_clip(lib, clip_id)
    src = Path(clip.path)
    if not src.is_file():
        raise MediaError("the clip's file is missing; re-cut the clip first", path=str(src))
    folder = clips_dir(lib)
    ext = _ENCODE[clip.format][0]
    staged = folder / f".tmp-{os.getpid()}-{secrets.token_hex(4)}.staged.{ext}"
    try:
        staged.write_bytes(src.read_bytes())
        row = next(lib.db.query("SELECT * FROM clips WHERE id = ?", [clip.id]))
        stamp = now_iso()
        with lib.store.write():
            row.pop("id")
            row.update(title=(title or "").strip() or f"{clip.title} (copy)", file="pending",
                       created_at=stamp, updated_at=stamp)
            new_id = int(lib.db["clips"].insert(row).last_pk)
            name = _file_name(new_id, ext)
            lib.db["clips"].update(new_id, {"file": name})
            lib.db.execute("INSERT INTO clip_tags (clip_id, tag_id) SELECT ?, tag_id "
                           "FROM clip_tags WHERE clip_id = ?", [new_id, clip.id])
            os.replace(staged, folder / name)
    finally:
        staged.unlink(missing_ok=True)
    lib._clip_changed(clip.call_id)
    return get_clip(lib, new_id)


def playlists_using(lib: Library, clip_id: int) -> list[str]:
    return [r[0] for r in lib.db.execute(
        "SELECT DISTINCT p.title FROM playlists p JOIN playlist_items i ON i.playlist_id = p.id "
        "LEFT JOIN comparison_clips c ON c.item_id = i.id "
        "WHERE i.clip_id = ? OR c.clip_id = ? ORDER BY p.title", [clip_id, clip_id])]


def delete_clip(lib: Library, clip_id: int | str, *, force: bool = False) -> None:
    """Delete a clip and its file. Refused while playlists use it, unless ``force``
    (then it leaves those playlists, and comparisons left with one clip are removed)."""
    clip = get_clip(lib, clip_id)
    using = playlists_using(lib, clip.id)
    if using and not force:
        raise ClipInUseError(clip.id, using)
    with lib.store.write():
        db = lib.db
        items = [r[0] for r in db.execute(
            "SELECT DISTINCT item_id FROM comparison_clips WHERE clip_id = ?", [clip.id])]
        db.execute("DELETE FROM comparison_clips WHERE clip_id = ?", [clip.id])
        for item in items:
            left = db.execute("SELECT COUNT(*) FROM comparison_clips WHERE item_id = ?",
                              [item]).fetchone()[0]
            if left < 2:
                db.execute("DELETE FROM comparison_clips WHERE item_id = ?", [item])
                db.execute("DELETE FROM learner_progress WHERE item_id = ?", [item])
                db.execute("DELETE FROM playlist_items WHERE id = ?", [item])
        db.execute("DELETE FROM learner_progress WHERE item_id IN "
                   "(SELECT id FROM playlist_items WHERE clip_id = ?)", [clip.id])
        db.execute("DELETE FROM playlist_items WHERE clip_id = ?", [clip.id])
        db.execute("DELETE FROM clip_tags WHERE clip_id = ?", [clip.id])
        db.execute("DELETE FROM clips WHERE id = ?", [clip.id])
    Path(clip.path).unlink(missing_ok=True)
    lib._clip_changed(clip.call_id)


# reading --------------------------------------------------------------------------------

_CLIP_SQL = (
    "SELECT k.*, c.title AS call_title, c.rep AS rep, COALESCE(r.a_player, 0) AS a_player "
    "FROM clips k JOIN calls c ON c.id = k.call_id LEFT JOIN reps r ON r.name = c.rep"
)


def _tags_of(lib: Library, clip_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    out: dict[int, dict[str, list[str]]] = {i: {"skill": [], "message": []} for i in clip_ids}
    if not clip_ids:
        return out
    marks = ",".join("?" * len(clip_ids))
    for cid, kind, name in lib.db.execute(
        f"SELECT ct.clip_id, t.kind, t.name FROM clip_tags ct JOIN tags t ON t.id = ct.tag_id "
        f"WHERE ct.clip_id IN ({marks}) ORDER BY t.name", list(clip_ids)):
        out[cid][kind].append(name)
    return out


def _clip_speakers(lib: Library, row: dict[str, Any]) -> tuple[ClipSpeaker, ...]:
    seen: dict[str, str | None] = {}
    for w in call_words(lib, row["call_id"]):
        if row["first_word"] <= w.index <= row["last_word"] and w.speaker:
            seen.setdefault(w.speaker, w.role)
    return tuple(ClipSpeaker(n, r) for n, r in seen.items())


def _from_row(lib: Library, row: dict[str, Any], tags: dict[str, list[str]],
              speakers: bool = True) -> Clip:
    return Clip(
        id=row["id"], call_id=row["call_id"], call_title=row["call_title"], title=row["title"],
        start_s=row["start_s"], end_s=row["end_s"], format=row["format"],
        stereo=bool(row["stereo"]), path=str(clips_dir(lib) / row["file"]),
        rating=row["rating"], notes=row["notes"] or "", skills=tuple(tags["skill"]),
        messages=tuple(tags["message"]),
        speakers=_clip_speakers(lib, row) if speakers else (),
        rep=row["rep"], a_player=bool(row["a_player"]),
        redactions=tuple(tuple(r) for r in json.loads(row["redactions"] or "[]")),
        first_word=row["first_word"], last_word=row["last_word"],
        created_at=row["created_at"], updated_at=row["updated_at"])


def get_clip(lib: Library, clip_id: int | str) -> Clip:
    try:
        cid = int(clip_id)
    except (TypeError, ValueError):
        raise NotFoundError(f"no clip {clip_id!r}: clip ids are numbers") from None
    rows = list(lib.db.query(_CLIP_SQL + " WHERE k.id = ?", [cid]))
    if not rows:
        raise NotFoundError(f"no clip {cid} in library {lib.root}")
    return _from_row(lib, rows[0], _tags_of(lib, [cid])[cid])


def list_clips(lib: Library, *, skill: str | None = None, message: str | None = None,
               rating: str | None = None, rep: str | None = None,
               call_id: int | None = None, a_player: bool | None = None,
               query: str | None = None) -> list[Clip]:
    """Clips newest first, filtered by skill, message, rating, rep, call or A-player;
    with ``query``, the clips whose title, notes or transcript match it, best first."""
    where, params = [], []
    ranked: list[int] = []
    if query and query.strip():
        hits = lib.search(query, kind="clip", limit=None).hits
        ranked = [h.clip_id for h in hits if h.clip_id is not None]
        if not ranked:
            return []
        where.append(f"k.id IN ({','.join('?' * len(ranked))})")
        params += ranked
    for kind, name in (("skill", skill), ("message", message)):
        if name:
            _tag_ids(lib, kind, [name])  # an unknown tag is an error, not an empty list
            where.append("EXISTS (SELECT 1 FROM clip_tags ct JOIN tags t ON t.id = ct.tag_id "
                         "WHERE ct.clip_id = k.id AND t.kind = ? AND t.name = ? "
                         "COLLATE NOCASE)")
            params += [kind, name.strip()]
    if rating:
        where.append("k.rating = ?")
        params.append(check_rating(rating))
    if rep:
        where.append("c.rep = ?")
        params.append(rep)
    if call_id is not None:
        where.append("k.call_id = ?")
        params.append(int(call_id))
    if a_player is not None:
        where.append("COALESCE(r.a_player, 0) = ?")
        params.append(int(a_player))
    sql = _CLIP_SQL + (" WHERE " + " AND ".join(where) if where else "")
    rows = list(lib.db.query(sql + " ORDER BY k.created_at DESC, k.id DESC", params))
    if ranked:
        order = {cid: n for n, cid in enumerate(ranked)}
        rows.sort(key=lambda r: order[r["id"]])
    tags = _tags_of(lib, [r["id"] for r in rows])
    return [_from_row(lib, r, tags[r["id"]]) for r in rows]


def clip_words(lib: Library, clip: Clip) -> list[ClipWord]:
    """The clip's words, times relative to the clip, redacted words marked."""
    return [
        ClipWord(w.index, REDACTED if _redacted(w.index, clip.redactions) else w.text,
                 round(max(0.0, w.start_s - clip.start_s), 3),
                 round(min(clip.duration_s, w.end_s - clip.start_s), 3), w.speaker, w.role,
                 _redacted(w.index, clip.redactions))
        for w in call_words(lib, clip.call_id)
        if clip.first_word <= w.index <= clip.last_word
    ]


def clip_transcript(lib: Library, clip: Clip) -> tuple[ClipLine, ...]:
    """The clip's words grouped into lines, one per run of a speaker."""
    lines: list[ClipLine] = []
    run: list[ClipWord] = []
    for w in clip_words(lib, clip) + [None]:  # type: ignore[list-item]
        if run and (w is None or w.speaker != run[0].speaker):
            text = re.sub(rf"(?:{re.escape(REDACTED)}\s*)+", REDACTED + " ",
                          " ".join(x.text for x in run)).strip()
            lines.append(ClipLine(run[0].speaker, run[0].role, run[0].start_s, run[-1].end_s,
                                  text, tuple(run)))
            run = []
        if w is not None:
            run.append(w)
    return tuple(lines)


def clip_json(lib: Library, clip: Clip) -> dict[str, Any]:
    """What `clipstudio clip --json` prints, plus the record's other fields."""
    return {
        "clip_id": clip.id,
        "path": clip.path,
        "start_s": clip.start_s,
        "end_s": clip.end_s,
        "duration_s": clip.duration_s,
        "transcript": [
            {"speaker": line.speaker, "role": line.role, "start_s": line.start_s,
             "end_s": line.end_s, "text": line.text,
             "words": [{"index": w.index, "text": w.text, "start_s": w.start_s,
                        "end_s": w.end_s} for w in line.words]}
            for line in clip_transcript(lib, clip)
        ],
        "title": clip.title,
        "call_id": clip.call_id,
        "call_title": clip.call_title,
        "rep": clip.rep,
        "a_player": clip.a_player,
        "speakers": [{"name": s.name, "role": s.role} for s in clip.speakers],
        "skills": list(clip.skills),
        "messages": list(clip.messages),
        "rating": clip.rating,
        "notes": clip.notes,
        "format": clip.format,
        "stereo": clip.stereo,
        "redactions": [list(r) for r in clip.redactions],
        "created_at": clip.created_at,
    }


# taxonomies -----------------------------------------------------------------------------

def tags(lib: Library, kind: str | None = None) -> list[Tag]:
    if kind is not None and kind not in TAG_KINDS:
        raise InputError(f"tag kind must be skill or message, not {kind!r}")
    return [Tag(r["id"], r["kind"], r["name"], r["description"] or "", r["n"])
            for r in lib.db.query(
                "SELECT t.*, (SELECT COUNT(*) FROM clip_tags ct WHERE ct.tag_id = t.id) AS n "
                "FROM tags t" + (" WHERE t.kind = ?" if kind else "")
                + " ORDER BY t.kind DESC, t.name", [kind] if kind else [])]


def save_tag(lib: Library, kind: str, name: str, description: str = "",
             tag_id: int | None = None) -> Tag:
    """Add a skill or message, or (with ``tag_id``) rename or redescribe one."""
    if kind not in TAG_KINDS:
        raise InputError(f"tag kind must be skill or message, not {kind!r}")
    name = (name or "").strip()
    if not name:
        raise InputError(f"a {kind} needs a name")
    clash = lib.db.execute("SELECT id FROM tags WHERE kind = ? AND name = ? COLLATE NOCASE "
                           "AND id IS NOT ?", [kind, name, tag_id]).fetchone()
    if clash:
        raise InputError(f"there is already a {kind} called {name!r}")
    with lib.store.write():
        if tag_id is None:
            tag_id = int(lib.db["tags"].insert({"kind": kind, "name": name,
                                                "description": description.strip(),
                                                "created_at": now_iso()}).last_pk)
        else:
            if not lib.db.execute("SELECT 1 FROM tags WHERE id = ? AND kind = ?",
                                  [tag_id, kind]).fetchone():
                raise NotFoundError(f"no {kind} {tag_id}")
            lib.db["tags"].update(tag_id, {"name": name, "description": description.strip()})
    for call_id in _calls_with_tag(lib, int(tag_id)):
        lib._clip_changed(call_id)
    return next(t for t in tags(lib, kind) if t.id == tag_id)


def _calls_with_tag(lib: Library, tag_id: int) -> list[int]:
    return [r[0] for r in lib.db.execute(
        "SELECT DISTINCT k.call_id FROM clip_tags ct JOIN clips k ON k.id = ct.clip_id "
        "WHERE ct.tag_id = ?", [tag_id])]


def delete_tag(lib: Library, tag_id: int) -> None:
    """Remove a skill or message; clips carrying it lose the tag (and say so nowhere else)."""
    call_ids = _calls_with_tag(lib, int(tag_id))
    with lib.store.write():
        lib.db.execute("DELETE FROM clip_tags WHERE tag_id = ?", [tag_id])
        lib.db.execute("DELETE FROM tags WHERE id = ?", [tag_id])
    for call_id in call_ids:
        lib._clip_changed(call_id)
