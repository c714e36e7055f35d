"""Benchmark: cutting a clip with ClipStudio against bare ffmpeg doing the same work.

The work: a 30 s clip at 45:00 of a 60-minute call, cut accurately (input seeking, which
decodes from the seek point and drops samples up to the exact start), loudness normalised
to -16 LUFS / -1.5 dBTP in two passes (loudnorm measures, then the measured values are
applied), encoded to MP3.

* **bare**: two ffmpeg runs, ``-ss 2700 -t 30 -i CALL -af loudnorm=print_format=json`` to
  measure, then the same cut with ``loudnorm=...:measured_*=...:linear=true`` into an MP3,
  exactly what a script around ffmpeg would do.
* **clipstudio**: ``clipstudio.clips.make_clip(lib, call, start_s=2700, end_s=2730)`` in
  the same process: the words of the call read from SQLite, the bounds snapped to words and
  padded, both passes, fades, the temp file renamed into place, the clip recorded, the
  search index updated.

The long call is made from the sample calls (mono, and stereo for the balanced-mono case,
which costs one more ffmpeg read to level the channels), and put in a library with a
synthetic word-level transcript (one word every 0.35 s) so no speech-to-text runs: this
benchmark is about cutting. Sides alternate, bare first, and the first round of each is a
warm-up that is not counted.

Usage::

    .venv/bin/python bench/clip_bench.py             # 60-minute call, 15 rounds
    .venv/bin/python bench/clip_bench.py --minutes 10 --rounds 5 --output ''
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingest_bench import AUDIO_EXT, build_long_call, duration_of, machine_info
from report import write_section

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_calls"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TARGET_RATIO = 1.3
TARGET_S = 1.0
CLIP_AT_S = 45 * 60
CLIP_S = 30.0
WORDS = ("so the price is too expensive for us this quarter but the pilot could work if "
         "my boss signs off next week").split()


def synthetic_transcript(duration_s: float, out: Path) -> Path:
    """A ClipStudio JSON transcript with a word every 0.35 s, two alternating speakers."""
    utterances, t, n = [], 0.5, 0
    while t + 10 < duration_s:
        words = []
        for k in range(25):
            start = t + k * 0.35
            words.append({"text": WORDS[(n + k) % len(WORDS)], "start_s": round(start, 3),
                          "end_s": round(start + 0.3, 3), "probability": 0.9})
        utterances.append({"speaker": "Rep" if n % 2 == 0 else "Customer",
                           "role": "rep" if n % 2 == 0 else "customer",
                           "start_s": words[0]["start_s"], "end_s": words[-1]["end_s"],
                           "text": " ".join(w["text"] for w in words), "words": words})
        t += 25 * 0.35 + 0.6
        n += 1
    out.write_text(json.dumps({"utterances": utterances}), encoding="utf-8")
    return out


def bare_cut(ffmpeg: str, src: Path, dest: Path, start_s: float, dur_s: float,
             mono: bool) -> None:
    seek = ["-ss", f"{start_s:.3f}", "-t", f"{dur_s:.3f}", "-i", str(src)]
    mix = ["-ac", "1"] if mono else []
    target = "I=-16:TP=-1.5:LRA=11"
    p1 = subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-y", *seek, "-af",
                         f"loudnorm={target}:print_format=json", *mix, "-f", "null", "-"],
                        capture_output=True, text=True)
    if p1.returncode != 0:
        raise SystemExit(p1.stderr[-2000:])
    m = json.loads(re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", p1.stderr)[-1])
    second = (f"loudnorm={target}:measured_I={m['input_i']}:measured_TP={m['input_tp']}:"
              f"measured_LRA={m['input_lra']}:measured_thresh={m['input_thresh']}:"
              f"offset={m['target_offset']}:linear=true")
    p2 = subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-y", *seek, "-af", second, *mix,
                         "-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100", str(dest)],
                        capture_output=True, text=True)
    if p2.returncode != 0:
        raise SystemExit(p2.stderr[-2000:])


def run_case(name: str, channels: int, args: argparse.Namespace, tmp: Path) -> dict:
    from clipstudio import Library
    from clipstudio import clips as C
    from clipstudio.media import ffmpeg_exe

    sources = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in AUDIO_EXT)
    long_call = build_long_call(sources, args.minutes, tmp / f"{name}.mp3", channels=channels)
    duration = duration_of(long_call)
    transcript = synthetic_transcript(duration, tmp / f"{name}.json")
    lib = Library(tmp / f"lib-{name}")
    t0 = time.perf_counter()
    report = lib.ingest([long_call], transcript=transcript)
    ingest_s = time.perf_counter() - t0
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed}")
    call_id = report.ingested[0].call_id
    at = min(CLIP_AT_S, duration * 0.75)
    ffmpeg = ffmpeg_exe()
    times: dict[str, list[float]] = {"bare": [], "clipstudio": []}
    clip = None
    for r in range(args.rounds + 1):  # round 0 warms caches on both sides
        t0 = time.perf_counter()
        bare_cut(ffmpeg, long_call, tmp / "bare.mp3", at, CLIP_S, mono=True)
        bare = time.perf_counter() - t0
        t0 = time.perf_counter()
        clip = C.make_clip(lib, call_id, start_s=at, end_s=at + CLIP_S)
        ours = time.perf_counter() - t0
        if r:
            times["bare"].append(bare)
            times["clipstudio"].append(ours)
        print(f"{name} round {r}: bare {bare:.3f}s clipstudio {ours:.3f}s", flush=True)
    assert clip is not None
    loud = C.measure_loudness(Path(clip.path))
    bare_loud = C.measure_loudness(tmp / "bare.mp3")
    med = {k: statistics.median(v) for k, v in times.items()}
    p90 = {k: sorted(v)[max(0, int(round(0.9 * len(v))) - 1)] for k, v in times.items()}
    return {"name": name, "duration_s": duration, "at_s": at, "ingest_s": ingest_s,
            "median": med, "p90": p90, "ratio": med["clipstudio"] / med["bare"],
            "clip_s": clip.duration_s, "loudness": loud, "bare_loudness": bare_loud}


def render(cases: list[dict], info: dict[str, str], args: argparse.Namespace,
           started: dt.datetime, took_s: float) -> str:
    lines = [
        "# Clip benchmark: ClipStudio vs bare ffmpeg",
        "",
        f"Generated by `bench/clip_bench.py --minutes {args.minutes:g} --rounds {args.rounds}`"
        f" on {started:%Y-%m-%d %H:%M} (local); the run took {took_s / 60:.1f} min.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "## Method",
        "",
        f"- A {CLIP_S:.0f} s clip at {CLIP_AT_S // 60}:00 of a {args.minutes:g}-minute call "
        "built from the sample calls (64 kbps MP3, 44.1 kHz).",
        "- **bare**: two ffmpeg runs with input seeking: `loudnorm` measure, then `loudnorm` "
        "with the measured values (`linear=true`) into a 64 kbps MP3.",
        "- **clipstudio**: `clips.make_clip(lib, call, start_s, end_s)` in-process: words from "
        "SQLite, snap and pad, both passes, fades, atomic rename, the clip row, the search "
        "index update. Stereo calls add one ffmpeg read to level the two channels "
        "(balanced mono).",
        f"- Sides alternate, bare first; {args.rounds} counted rounds after one warm-up round. "
        "Wall time from `time.perf_counter()`.",
        f"- Targets: clipstudio <= {TARGET_RATIO}x bare and under {TARGET_S:.0f} s.",
        "",
        "## Results",
        "",
        "| call | bare median s | clipstudio median s | ratio | bare p90 s | clipstudio p90 s "
        "| clip s | loudness (LUFS) | target met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        met = c["ratio"] <= TARGET_RATIO and c["median"]["clipstudio"] < TARGET_S
        lines.append(
            f"| {c['name']} ({c['duration_s'] / 60:.0f} min, clip at {c['at_s'] / 60:.0f}:00) "
            f"| {c['median']['bare']:.3f} | {c['median']['clipstudio']:.3f} | "
            f"{c['ratio']:.2f}x | {c['p90']['bare']:.3f} | {c['p90']['clipstudio']:.3f} | "
            f"{c['clip_s']:.2f} | {c['loudness']:.1f} (bare {c['bare_loudness']:.1f}) | "
            f"{'yes' if met else 'no'} |")
    lines += ["", "A naive script's stereo clip lands off target (bare column): `-ac 1` "
              "mixes the two channels after loudnorm has measured them as stereo, so the mono "
              "result is quieter than measured. ClipStudio levels each party, mixes, then "
              "measures the mix it encodes."]
    lines += ["", "Setting the library up (ingest of the long call with its transcript, no "
              "speech-to-text): " + ", ".join(f"{c['name']} {c['ingest_s']:.1f} s"
                                               for c in cases) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--output", default=str(RESULTS),
                   help="markdown report path ('' to skip; default bench/RESULTS.md)")
    args = p.parse_args(argv)
    started, t0 = dt.datetime.now(), time.perf_counter()
    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="clipstudio-clipbench-") as tmp_name:
        tmp = Path(tmp_name)
        cases = [run_case("mono", 1, args, tmp), run_case("stereo", 2, args, tmp)]
    text = render(cases, info, args, started, time.perf_counter() - t0)
    print()
    print(text)
    if args.output:
        write_section(Path(args.output), "clip_bench", text)
        print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
