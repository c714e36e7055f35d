"""Who said what: speaker turns for every call, from the channel layout or the voices.

Three backends. The voice-based ones produce speaker turns as a
``pyannote.core.Annotation`` (the interchange type) and words are attributed to those
turns; the stereo one knows each word's speaker from its channel directly:

- ``stereo``: dual-channel recordings (Zoom, dialers, telephony) put each party on its own
  channel. Each channel is transcribed separately, so overlapping speech keeps both
  parties' words (a mono mixdown loses one of them). Cross-talk bleed (the other party,
  quieter, in this channel) is muted before transcription wherever the other channel is
  much louder, and any word still found there is dropped, so no word appears twice.
- ``embedded``: for mono calls, with no hub download. The transcript's word timings give
  speech and pauses; the speech is cut at pauses into stretches one person is saying, each
  stretch gets a voice embedding (``clipstudio.voice``), the stretches are clustered
  (average linkage on cosine distance, speaker count 2-6 chosen by silhouette unless
  given), and each word takes its stretch's speaker.
- ``pyannote``: a pyannote.audio pipeline from a local folder or a token, when the
  optional extra is installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pyannote.core import Annotation, Segment

from .errors import ClipStudioError, ModelError
from .media import Pcm
from .models import Utterance, Word

ROLES = ("rep", "customer", "other")
METHODS = ("auto", "stereo", "embedded", "pyannote", "none")
MIN_SPEAKERS, MAX_SPEAKERS = 2, 6

FRAME_S = 0.01  # stereo analysis resolution (the gain curve has one value per frame)
BLEED_MARGIN_DB = 12.0  # a channel this much quieter than the other (after levelling) is bleed
ACTIVE_DB = -35.0  # below its own speech level by this much, a channel is not speaking
PROTECT_S = 0.15  # keep this much around own speech so word edges are never muted
FAKE_STEREO_RATIO = 1e-3  # |L-R|^2 / (L^2+R^2) below this: the channels carry the same sound
SAME_SOUND_SHARE = 0.3  # more of the speech than this identical in both: treat as mono

PAUSE_SPLIT_S = 0.25  # a pause this long between words may be a change of speaker
MAX_STRETCH_S = 6.0  # longer stretches are embedded in pieces (an interruption may hide)
UTTERANCE_GAP_S = 1.5  # same speaker, but a pause this long starts a new utterance


class DiarizationError(ClipStudioError):
    """Speaker attribution cannot run as asked (no pipeline; a mono file and ``stereo``)."""


@dataclass(frozen=True)
class Speaker:
    """One voice in a call. ``label`` is stable within the call (``ch1``, ``S2``, a name)."""

    label: str
    role: str | None = None
    name: str | None = None
    channel: int | None = None
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Attribution:
    method: str
    utterances: tuple[Utterance, ...]  # .speaker holds the Speaker.label
    speakers: tuple[Speaker, ...]


# stereo ----------------------------------------------------------------------------------

def _frame_stats(pcm: Pcm) -> tuple[np.ndarray, np.ndarray]:
    """Per 10 ms frame: each channel's energy in dB (frames, channels), and whether the
    channels carry the same sound there (a bridge or recorder mixing both parties into
    both channels for a while)."""
    hop = int(pcm.sample_rate * FRAME_S)
    energies, same = [], []
    step = hop * 6000  # one minute at a time
    for i in range(0, len(pcm.data), step):
        block = pcm.data[i:i + step].astype(np.float32) / 32768.0
        n = len(block) // hop
        if n == 0:
            continue
        frames = block[: n * hop].reshape(n, hop, pcm.channels)
        power = np.square(frames).mean(axis=1)
        energies.append(10 * np.log10(power + 1e-10))
        if pcm.channels >= 2:
            diff = np.square(frames[:, :, 0] - frames[:, :, 1]).mean(axis=1)
            same.append(diff < FAKE_STEREO_RATIO * (power[:, 0] + power[:, 1]) + 1e-12)
        else:
            same.append(np.ones(n, dtype=bool))
    if not energies:
        return np.zeros((0, pcm.channels)), np.zeros(0, dtype=bool)
    return np.concatenate(energies), np.concatenate(same)


def _speaking(e: np.ndarray) -> np.ndarray:
    """Frames where some channel is within ACTIVE_DB of its own speech level."""
    return (e - np.percentile(e, 95, axis=0) > ACTIVE_DB).any(axis=1)


def is_fake_stereo(pcm: Pcm) -> bool:
    """Two channels carrying the same signal for most of the speech (mono saved as stereo,
    or a recording that mixed both parties into both channels): attribute it as mono."""
    if pcm.channels < 2:
        return True
    e, same = _frame_stats(pcm)
    speaking = _speaking(e) if len(e) else np.zeros(0, dtype=bool)
    if not speaking.any():
        return True
    return float(same[speaking].mean()) > SAME_SOUND_SHARE


def stereo_gains(pcm: Pcm) -> list[np.ndarray]:
    """A gain curve per channel (1 = keep, ~0 = mute), one value per 10 ms.

    Each channel is levelled to its own speech loudness first, so a quiet customer line is
    not mistaken for bleed while both people talk at once.
    """
    e, same = _frame_stats(pcm)
    if len(e) == 0:
        return [np.ones(1, np.float32) for _ in range(pcm.channels)]
    level = np.percentile(e, 95, axis=0)
    n = e - level
    active = n > ACTIVE_DB
    protect = max(1, int(PROTECT_S / FRAME_S))
    kernel = np.ones(2 * protect + 1)
    gains = []
    for c in range(pcm.channels):
        others = [o for o in range(pcm.channels) if o != c]
        other = n[:, others].max(axis=1)
        other_active = active[:, others].any(axis=1)
        own = active[:, c] & (n[:, c] > other - BLEED_MARGIN_DB)
        own = np.convolve(own.astype(float), kernel, mode="same") > 0
        bleed = other_active & ~own
        gain = np.where(bleed, 0.0, 1.0)
        if c > 0:  # where both channels carry the same sound, transcribe it once
            gain = np.where(same & active.any(axis=1), 0.0, gain)
        gain = np.convolve(gain, np.ones(3) / 3, mode="same")  # 30 ms ramps, no clicks
        gains.append(gain.astype(np.float32))
    return gains


def word_is_own(word: Word, gain: np.ndarray) -> bool:
    """A word kept by a channel's gain curve over most of its span is that channel's."""
    a = int(word.start_s / FRAME_S)
    b = max(a + 1, int(word.end_s / FRAME_S))
    span = gain[a:b]
    return bool(len(span) == 0 or span.mean() >= 0.5)


def split_at_pauses(utterances: Sequence[Utterance], gap_s: float) -> list[Utterance]:
    """Split utterances where the words pause for ``gap_s`` or more."""
    out: list[Utterance] = []
    for u in utterances:
        run: list[Word] = []
        for w in u.words:
            if run and w.start_s - run[-1].end_s >= gap_s:
                out.append(_utterance(run, u.speaker))
                run = []
            run.append(w)
        if run:
            out.append(_utterance(run, u.speaker))
    return out


def _utterance(words: Sequence[Word], speaker: str | None, index: int = 0) -> Utterance:
    return Utterance(
        id=None, index=index, start_s=words[0].start_s, end_s=words[-1].end_s,
        text=" ".join(w.text for w in words), words=tuple(words), speaker=speaker,
    )


def renumber(utterances: Sequence[Utterance]) -> tuple[Utterance, ...]:
    ordered = sorted(utterances, key=lambda u: (u.start_s, u.end_s))
    return tuple(replace(u, index=i) for i, u in enumerate(ordered))


# embedded --------------------------------------------------------------------------------

def speech_stretches(words: Sequence[Word]) -> list[list[int]]:
    """Group word indices into stretches that one person is likely saying.

    People take turns at pauses, and Whisper's punctuation marks sentence ends, so a
    stretch ends at a pause of PAUSE_SPLIT_S or after a sentence; long stretches are cut
    into pieces of about MAX_STRETCH_S / 2 so an interruption without a pause is caught.
    """
    stretches: list[list[int]] = []
    cur: list[int] = []
    for i, w in enumerate(words):
        if cur:
            prev = words[cur[-1]]
            ended = prev.text.endswith((".", "?", "!"))
            if (w.start_s - prev.end_s >= PAUSE_SPLIT_S or ended
                    or w.end_s - words[cur[0]].start_s > MAX_STRETCH_S):
                stretches.append(cur)
                cur = []
        cur.append(i)
    if cur:
        stretches.append(cur)
    return stretches


MIN_WINDOW_S = 0.8  # shorter stretches ("Yes.") are embedded with a little context


def _widen(start: float, end: float, limit_s: float) -> tuple[float, float]:
    pad = max(0.0, MIN_WINDOW_S - (end - start)) / 2
    return max(0.0, start - pad), min(limit_s, end + pad)


def _cosine_distances(x: np.ndarray) -> np.ndarray:
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    return np.clip(1.0 - x @ x.T, 0.0, 2.0)


def _silhouette(dist: np.ndarray, labels: np.ndarray) -> float:
    uniq = np.unique(labels)
    if len(uniq) < 2:
        return -1.0
    scores = []
    for i in range(len(labels)):
        same = labels == labels[i]
        if same.sum() <= 1:
            scores.append(0.0)
            continue
        a = dist[i, same].sum() / (same.sum() - 1)
        b = min(dist[i, labels == k].mean() for k in uniq if k != labels[i])
        scores.append((b - a) / max(a, b, 1e-9))
    return float(np.mean(scores))


def cluster_embeddings(emb: np.ndarray, num_speakers: int | None = None) -> np.ndarray:
    """Labels 0..k-1 per row: average-linkage clustering on cosine distance.

    The speaker count is ``num_speakers`` when given, else the k in 2..6 with the best
    silhouette. Labels are numbered by first appearance.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = len(emb)
    if n < 2:
        return np.zeros(n, dtype=int)
    dist = _cosine_distances(emb)
    np.fill_diagonal(dist, 0.0)
    z = linkage(squareform(dist, checks=False), method="average")
    if num_speakers:
        labels = fcluster(z, min(num_speakers, n), criterion="maxclust")
    else:
        best, labels = -2.0, np.ones(n, dtype=int)
        for k in range(MIN_SPEAKERS, min(MAX_SPEAKERS, n) + 1):
            cand = fcluster(z, k, criterion="maxclust")
            score = _silhouette(dist, cand)
            if score > best + 0.02:  # a new speaker must clearly improve the fit
                best, labels = score, cand
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(lab), len(order)) for lab in labels])


def embedded_turns(
    pcm: Pcm, words: Sequence[Word], num_speakers: int | None = None
) -> tuple[Annotation, dict[str, np.ndarray]]:
    """Speaker turns from voice embeddings of speech stretches; also each speaker's centroid."""
    from .voice import VoiceEncoder

    stretches = speech_stretches(words)
    spans = [(words[s[0]].start_s, words[s[-1]].end_s) for s in stretches]
    ann = Annotation()
    if not spans:
        return ann, {}
    emb = VoiceEncoder().embed_windows(pcm.mono(), [_widen(a, b, pcm.duration_s) for a, b in spans])
    labels = cluster_embeddings(emb, num_speakers)
    centroids = {}
    for k in np.unique(labels):
        c = emb[labels == k].mean(axis=0)
        centroids[f"S{k + 1}"] = c / max(float(np.linalg.norm(c)), 1e-9)
    for (start, end), k in zip(spans, labels, strict=True):
        ann[Segment(start, max(end, start + 0.01))] = f"S{k + 1}"
    return ann, centroids


def attribute_words(
    utterances: Sequence[Utterance], turns: Annotation
) -> tuple[Utterance, ...]:
    """Give each word the speaker whose turn overlaps it most; split utterances at changes."""
    timeline = [(seg.start, seg.end, label) for seg, _, label in turns.itertracks(yield_label=True)]
    starts = np.array([t[0] for t in timeline]) if timeline else np.zeros(0)
    out: list[Utterance] = []
    for u in utterances:
        run: list[Word] = []
        run_label: str | None = None
        for w in u.words:
            label = _label_for(w, timeline, starts) or run_label
            if run and (label != run_label or w.start_s - run[-1].end_s >= UTTERANCE_GAP_S):
                out.append(_utterance(run, run_label))
                run = []
            run.append(w)
            run_label = label
        if run:
            out.append(_utterance(run, run_label))
    return renumber(out)


def _label_for(word: Word, timeline, starts: np.ndarray) -> str | None:
    best, best_overlap = None, 0.0
    hi = int(np.searchsorted(starts, word.end_s, side="right"))
    for start, end, label in timeline[max(0, hi - 50):hi]:
        overlap = min(end, word.end_s) - max(start, word.start_s)
        if overlap > best_overlap:
            best, best_overlap = label, overlap
    if best is None:  # in a gap between turns: the nearest turn
        mid = (word.start_s + word.end_s) / 2
        nearest = min(timeline, key=lambda t: min(abs(t[0] - mid), abs(t[1] - mid)),
                      default=None)
        best = nearest[2] if nearest else None
    return best


# pyannote --------------------------------------------------------------------------------

PYANNOTE_ENV = "CLIPSTUDIO_PYANNOTE_PIPELINE"
PYANNOTE_MODEL = "pyannote/speaker-diarization-community-1"


def pyannote_configured() -> bool:
    """A pipeline folder or a hub token is set in the environment."""
    return bool(os.environ.get(PYANNOTE_ENV) or os.environ.get("HF_TOKEN"))


def pyannote_available() -> bool:
    """Installed and configured: what ``--diarization auto`` needs to choose pyannote."""
    return pyannote_configured() and importlib.util.find_spec("pyannote.audio") is not None


def check_pyannote() -> None:
    """Fail before any work when ``--diarization pyannote`` cannot run here."""
    if importlib.util.find_spec("pyannote.audio") is None:
        raise DiarizationError(
            'pyannote.audio is not installed: pip install "clipstudio[pyannote]" '
            "(see the README for the CPU torch pins)")
    if not pyannote_configured():
        raise DiarizationError(
            f"no pyannote pipeline configured: set {PYANNOTE_ENV} to a local pipeline folder "
            "(e.g. a downloaded speaker-diarization-community-1) or HF_TOKEN to a hub token")


def pyannote_turns(pcm: Pcm, num_speakers: int | None) -> Annotation:
    """Run a pyannote.audio pipeline (optional extra) from a local folder or with a token."""
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    check_pyannote()
    import torch
    from pyannote.audio import Pipeline

    source = os.environ.get(PYANNOTE_ENV)
    try:
        if source and Path(source).expanduser().exists():
            pipeline = Pipeline.from_pretrained(Path(source).expanduser())
        else:
            pipeline = Pipeline.from_pretrained(source or PYANNOTE_MODEL,
                                                token=os.environ.get("HF_TOKEN"))
    except Exception as exc:  # pyannote raises many kinds; all mean "cannot load"
        raise ModelError(
            f"cannot load the pyannote pipeline {source or PYANNOTE_MODEL}: {exc}") from exc
    audio = {"waveform": torch.from_numpy(pcm.mono()[None, :]), "sample_rate": pcm.sample_rate}
    kwargs = {"num_speakers": num_speakers} if num_speakers else {}
    result = pipeline(audio, **kwargs)
    ann = getattr(result, "speaker_diarization", result)
    return ann


# roles -----------------------------------------------------------------------------------

_INTRO = r"\b(?:this is|it's|it is|my name is|i am|i'm)\s+{name}\b|\b{name}\s+here\b"


def guess_rep(utterances: Sequence[Utterance], rep_name: str | None) -> str | None:
    """Which speaker label is the rep, when nothing better says so.

    In order: the speaker who introduces themself with the rep's first name ("this is
    Dana", "Dana here"); else the one asking the most questions; a tie goes to whoever
    spoke first (reps usually open the call).
    """
    labels = [u.speaker for u in utterances if u.speaker]
    if not labels:
        return None
    if rep_name:
        first = re.escape(rep_name.split()[0].lower())
        pattern = re.compile(_INTRO.format(name=first))
        for u in utterances[:12]:
            if u.speaker and pattern.search(u.text.lower()):
                return u.speaker
    questions: dict[str, int] = {}
    for u in utterances:
        if u.speaker:
            questions[u.speaker] = questions.get(u.speaker, 0) + u.text.count("?")
    first_speaker = labels[0]
    return max(questions, key=lambda s: (questions[s], s == first_speaker))


def match_voiceprint(
    centroid: np.ndarray, voiceprints: dict[str, np.ndarray], threshold: float
) -> str | None:
    """The enrolled rep whose voiceprint is most similar, if similar enough."""
    best, best_sim = None, threshold
    for rep, vp in voiceprints.items():
        sim = float(np.dot(centroid, vp) / max(np.linalg.norm(vp) * np.linalg.norm(centroid),
                                               1e-9))
        if sim >= best_sim:
            best, best_sim = rep, sim
    return best

