"""Benchmark: ``clipstudio ingest`` against bare faster-whisper on the same recordings.

Each measurement runs in its own fresh Python subprocess (this script re-invoked with
``--worker``), so its peak memory (VmHWM from /proc/self/status) and wall time are its own.

* bare: ``WhisperModel(embedded tiny.en, cpu, int8).transcribe(path, word_timestamps=True,
  vad_filter=True, condition_on_previous_text=False)`` on the whole file, consuming every
  segment, as a user would call it naively.
* clipstudio: the real CLI entry point, ``clipstudio.cli.main(["ingest", PATH, "--library",
  DIR, "--json"])``, into a fresh temporary library.

Model loading is excluded from the compared "work" time on both sides: each worker imports
its libraries and loads the model first (timed separately), then times the work. For
ClipStudio the model is loaded through ``clipstudio.transcribe.load_model`` (the same cached
loader ingest uses), so ingest finds it already loaded. The whole-process wall time
(interpreter start, imports, model load, work) is reported as well.

Usage::

    .venv/bin/python bench/ingest_bench.py            # sample calls + a 60-minute call
    .venv/bin/python bench/ingest_bench.py --quick    # sample calls only
    .venv/bin/python bench/ingest_bench.py --minutes 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from report import machine_info as base_machine_info
from report import write_section

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_calls"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
AUDIO_EXT = (".mp3", ".m4a", ".ogg", ".wav", ".flac", ".opus")
TARGET_OVERHEAD = 1.10
TARGET_PEAK_MB = 1536.0  # 1.5 GB on the long call
SIDES = ("bare", "clipstudio")


# --------------------------------------------------------------------------------------
# worker side: runs in a fresh subprocess, writes one JSON result
# --------------------------------------------------------------------------------------
def _proc_status_kb(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return 0.0


class _ChildPeak:
    """Peak RSS of this process's child processes (ffmpeg), sampled from /proc.

    ``RUSAGE_CHILDREN``'s ru_maxrss is no good here: on Linux a child forked from a big
    Python process inherits the parent's high-water mark across exec. VmHWM is itself a
    high-water mark, so sampling every 50 ms only misses a child that lives < 50 ms.
    """

    def __init__(self, interval_s: float = 0.05) -> None:
        self.peak_kb = 0.0
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _children(self) -> list[int]:
        pids: list[int] = []
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            try:
                pids += [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                pass
        return pids

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            for pid in self._children():
                try:
                    text = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                if not text.startswith("Name:\tffmpeg"):
                    continue  # forked but not yet exec'd: still a copy of this Python process
                for line in text.splitlines():
                    if line.startswith("VmHWM:"):
                        self.seen.add(pid)
                        self.peak_kb = max(self.peak_kb, float(line.split()[1]))

    def __enter__(self) -> _ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _cpu_total() -> float:
    """User+sys seconds of this process and its waited-for children (ffmpeg) so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _usage() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "peak_rss_mb": _proc_status_kb("VmHWM") / 1024,
        "cpu_s": me.ru_utime + me.ru_stime,
        "child_cpu_s": kids.ru_utime + kids.ru_stime,
    }


class _Stages:
    """Wall time spent inside selected ClipStudio functions (monkeypatched in the worker)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, s: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + s

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        fn = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - t)

        setattr(owner, attr, timed)

    def wrap_gen(self, owner: Any, attr: str, name: str) -> None:
        """Time spent producing items of a generator (excludes the consumer's time)."""
        fn = getattr(owner, attr)
        stages = self

        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = iter(fn(*args, **kwargs))
            while True:
                t = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    stages.add(name, time.perf_counter() - t)
                    return
                stages.add(name, time.perf_counter() - t)
                yield item

        setattr(owner, attr, timed)


def worker_bare(path: str, model_path: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    from faster_whisper import WhisperModel

    t1 = time.perf_counter()
    model = WhisperModel(model_path, device="cpu", compute_type="int8")
    cpu0 = _cpu_total()
    t2 = time.perf_counter()
    segments, _info = model.transcribe(
        path, word_timestamps=True, vad_filter=True, condition_on_previous_text=False
    )
    t3 = time.perf_counter()  # faster-whisper decodes, runs VAD and computes features here
    n_seg = n_words = 0
    for seg in segments:
        n_seg += 1
        n_words += len(seg.words or [])
    t4 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "load_s": t2 - t1,
        "work_s": t4 - t2,
        "work_cpu_s": _cpu_total() - cpu0,
        "stages": {"decode+vad+features (transcribe call)": t3 - t2, "decoding segments": t4 - t3},
        "segments": n_seg,
        "words": n_words,
    }


def worker_clipstudio(path: str, library: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    import clipstudio.ingest as ci
    import clipstudio.library as cl
    import clipstudio.media as cm
    import clipstudio.transcribe as ct
    from clipstudio.cli import main as cli_main

    t1 = time.perf_counter()
    ct.load_model(None, "auto")  # what ingest loads; cached, so ingest reuses it
    t2 = time.perf_counter()

    stages = _Stages()
    stages.wrap(ci, "file_sha256", "sha256")
    stages.wrap(ci.shutil, "copyfile", "copy original")
    stages.wrap(ci, "_probe", "probe (ffmpeg -i)")
    stages.wrap(cl.Library, "remove_orphan_media", "orphan cleanup")
    stages.wrap(cl.Library, "insert_call", "sqlite insert")
    stages.wrap(ci, "decode_pcm", "decode to PCM file")
    stages.wrap(cm.PlaybackCopy, "wait", "wait for MP3 playback copy")
    stages.wrap_gen(cm.Pcm, "blocks", "read PCM blocks")
    stages.wrap_gen(ct.Transcriber, "_transcribe_window", "whisper (windows)")
    stages.wrap(ci, "stereo_gains", "stereo bleed analysis")
    stages.wrap(ci, "embedded_turns", "voice clustering")
    stages.wrap(ci, "_centroid", "speaker voice embedding")
    stages.wrap(ci, "attribute", "transcribe + speakers total")
    stages.wrap(cl.Library, "_changed", "search index + trackers")

    out = Path(library) / "report.json"
    cpu0 = _cpu_total()
    t3 = time.perf_counter()
    with open(out, "w", encoding="utf-8") as f:
        saved, sys.stdout = sys.stdout, f
        try:
            rc = cli_main(["ingest", path, "--library", library, "--json"])
        finally:
            sys.stdout = saved
    t4 = time.perf_counter()
    work_cpu = _cpu_total() - cpu0
    report = json.loads(out.read_text(encoding="utf-8"))
    if rc != 0 or len(report.get("ingested", [])) != 1:
        raise SystemExit(f"clipstudio ingest failed (rc={rc}): {json.dumps(report)[:2000]}")
    call_id = report["ingested"][0]["call_id"]
    lib = cl.Library(library)
    transcript = lib.transcript(call_id)
    return {
        "import_s": t1 - t0,
        "load_s": t2 - t1,
        "work_s": t4 - t3,
        "work_cpu_s": work_cpu,
        "stages": stages.seconds,
        "segments": len(transcript.utterances),
        "words": sum(len(u.words) for u in transcript.utterances),
    }


def run_worker(args: argparse.Namespace) -> int:
    with _ChildPeak() as children:
        if args.worker == "bare":
            result = worker_bare(args.path, args.model_path)
        else:
            result = worker_clipstudio(args.path, args.library)
    result.update(_usage())
    result["child_peak_rss_mb"] = children.peak_kb / 1024
    result["children"] = len(children.seen)
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")
    return 0


# --------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------
@dataclass
class Measurement:
    side: str
    process_s: float  # whole subprocess: interpreter + imports + model load + work
    data: dict[str, Any]

    @property
    def work_s(self) -> float:
        return float(self.data["work_s"])

    @property
    def peak_mb(self) -> float:
        return float(self.data["peak_rss_mb"])


@dataclass
class InputResult:
    name: str
    duration_s: float
    runs: dict[str, list[Measurement]] = field(default_factory=lambda: {s: [] for s in SIDES})

    def med(self, side: str, key: Callable[[Measurement], float]) -> float:
        return statistics.median(key(m) for m in self.runs[side])


def ffmpeg_exe() -> str:
    from clipstudio.media import ffmpeg_exe as exe

    return exe()


def duration_of(path: Path) -> float:
    """Audio seconds, by decoding the file (what the container declares can be absent)."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-i", str(path),
           "-map", "0:a:0", "-ac", "1", "-ar", "16000", "-f", "f32le", "pipe:1"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        n = 0
        while chunk := proc.stdout.read(1 << 20):
            n += len(chunk)
    if proc.returncode != 0 or n == 0:
        raise SystemExit(f"cannot decode {path} (ffmpeg rc={proc.returncode})")
    return n / 4 / 16000


def measure(side: str, path: Path, model_path: str, tmp: Path) -> Measurement:
    fd, result_name = tempfile.mkstemp(suffix=".json", dir=tmp)
    os.close(fd)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--path", str(path),
           "--result", result_name]
    if side == "bare":
        cmd += ["--model-path", model_path]
    else:
        library = tempfile.mkdtemp(prefix="lib-", dir=tmp)  # fresh, empty library
        cmd += ["--library", library]
    busy0, total0 = cpu_jiffies()
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    busy1, total1 = cpu_jiffies()
    if proc.returncode != 0:
        raise SystemExit(
            f"{side} worker failed on {path.name} (rc={proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    data = json.loads(Path(result_name).read_text(encoding="utf-8"))
    # CPU the rest of the machine used meanwhile, in cores: a noisy-neighbour indicator
    tick = os.sysconf("SC_CLK_TCK")
    mine = float(data["cpu_s"]) + float(data["child_cpu_s"])
    data["others_cores"] = max(0.0, ((busy1 - busy0) / tick - mine) / elapsed)
    return Measurement(side, elapsed, data)


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs, from the first line of /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]  # idle + iowait
    return sum(vals[:8]) - idle, sum(vals[:8])


def build_long_call(sources: list[Path], minutes: float, out: Path, channels: int = 2) -> Path:
    """Concatenate sample calls (cycling through them) into one ``minutes``-long MP3.

    Written as 44.1 kHz 64 kbps MP3 (stereo by default), a common export format of meeting
    tools.
    """
    layout = "stereo" if channels == 2 else "mono"
    target = minutes * 60
    durations = [duration_of(p) for p in sources]
    inputs: list[Path] = []
    total = 0.0
    i = 0
    while total < target:
        inputs.append(sources[i % len(sources)])
        total += durations[i % len(sources)]
        i += 1
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-y"]
    for p in inputs:
        cmd += ["-i", str(p)]
    norm = "".join(
        f"[{k}:a:0]aresample=44100,aformat=sample_fmts=fltp:channel_layouts={layout}[a{k}];"
        for k in range(len(inputs))
    )
    joined = "".join(f"[a{k}]" for k in range(len(inputs)))
    graph = f"{norm}{joined}concat=n={len(inputs)}:v=0:a=1[out]"
    cmd += ["-filter_complex", graph, "-map", "[out]", "-t", f"{target:.3f}",
            "-c:a", "libmp3lame", "-b:a", "64k", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"building the long call failed:\n{proc.stderr[-3000:]}")
    return out


def pick_samples(folder: Path, count: int) -> list[Path]:
    """One file per container type first (mp3, m4a, ogg...), then the rest, up to ``count``."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXT)
    if not files:
        raise SystemExit(f"no audio files in {SAMPLES}")
    firsts: list[Path] = []
    seen: set[str] = set()
    for p in files:
        if p.suffix.lower() not in seen:
            seen.add(p.suffix.lower())
            firsts.append(p)
    rest = [p for p in files if p not in firsts]
    return (firsts + rest)[:count]


def machine_info() -> dict[str, str]:
    from importlib.metadata import version

    return base_machine_info(**{
        "faster-whisper": version("faster-whisper"),
        "ctranslate2": version("ctranslate2"),
        "numpy": version("numpy"),
        "av (PyAV)": version("av"),
        "ffmpeg": ffmpeg_exe(),
    })


def cpu_of(m: Measurement) -> float:
    return float(m.data["work_cpu_s"])


def fmt_stages(m: Measurement) -> str:
    st = m.data.get("stages", {})
    return ", ".join(f"{k} {v:.2f}s" for k, v in sorted(st.items(), key=lambda kv: -kv[1]))


def render(results: list[InputResult], info: dict[str, str], args: argparse.Namespace,
           started: dt.datetime, total_s: float) -> str:
    lines = [
        "# Ingest benchmark: ClipStudio vs bare faster-whisper",
        "",
        f"Generated by `bench/ingest_bench.py{' --quick' if args.quick else ''}"
        f"{'' if args.quick else f' --minutes {args.minutes:g}'}` on "
        f"{started:%Y-%m-%d %H:%M} (local); the run took {total_s / 60:.1f} min.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "## Method",
        "",
        "- **bare**: `WhisperModel(embedded tiny.en, device='cpu', compute_type='int8')"
        ".transcribe(path, word_timestamps=True, vad_filter=True, "
        "condition_on_previous_text=False)` on the whole file, all segments consumed.",
        "- **clipstudio**: `clipstudio.cli.main(['ingest', PATH, '--library', TMP, '--json'])` "
        "into a fresh library (hash, copy, probe, one ffmpeg decode + MP3 playback copy, "
        "300 s chunks, SQLite). Empty vocabulary, so no hotwords: same decoding settings.",
        "- Every measurement is a fresh Python subprocess; order alternates bare, clipstudio, "
        f"bare, clipstudio; sample calls are repeated {args.repeats}x and the median is shown, "
        "the long call runs once per side.",
        "- **work s** excludes interpreter start, imports and model loading on both sides "
        "(each worker loads the model first, then times the work). **process s** is the whole "
        "subprocess wall time, including those.",
        "- **peak MB**: VmHWM (peak resident set) of the Python process. **ffmpeg MB**: largest "
        "ffmpeg child (its VmHWM, sampled from /proc every 50 ms; bare decodes in-process with "
        "PyAV, so it has none). ffmpeg runs concurrently, so Python + ffmpeg bounds "
        "ClipStudio's total.",
        "- **RTF** = audio seconds / work seconds (higher is faster).",
        "- **CPU s** = user+sys seconds spent during the work (model load excluded) by the "
        "worker process plus, for ClipStudio, its ffmpeg children. It is much less "
        "sensitive than wall time to other load on the machine.",
        "- **other load**: CPU cores the rest of the machine used during the runs (from "
        "/proc/stat, minus the worker's own CPU). Anything well above 0 means the wall times "
        "are disturbed by other processes.",
        "",
        f"Targets: overhead (clipstudio work / bare work) <= {TARGET_OVERHEAD:.2f}x; "
        f"peak memory <= 1.5 GB ({TARGET_PEAK_MB:.0f} MB) on the long call.",
        "",
        "## Results",
        "",
        "| input | audio | bare work s | ours work s | overhead | bare RTF | ours RTF "
        "| bare process s | ours process s | bare CPU s | ours CPU s | CPU ratio "
        "| bare peak MB | ours peak MB | ours ffmpeg MB | model load s (bare/ours) "
        "| other load (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        bw = r.med("bare", lambda m: m.work_s)
        ow = r.med("clipstudio", lambda m: m.work_s)
        bp = r.med("bare", lambda m: m.process_s)
        op = r.med("clipstudio", lambda m: m.process_s)
        bm = max(m.peak_mb for m in r.runs["bare"])
        om = max(m.peak_mb for m in r.runs["clipstudio"])
        fm = max(m.data["child_peak_rss_mb"] for m in r.runs["clipstudio"])
        bl = r.med("bare", lambda m: m.data["load_s"])
        ol = r.med("clipstudio", lambda m: m.data["load_s"])
        bc = r.med("bare", cpu_of)
        oc = r.med("clipstudio", cpu_of)
        others = statistics.median(
            m.data["others_cores"] for side in SIDES for m in r.runs[side]
        )
        lines.append(
            f"| {r.name} | {r.duration_s / 60:.1f} min | {bw:.1f} | {ow:.1f} | {ow / bw:.2f}x "
            f"| {r.duration_s / bw:.1f}x | {r.duration_s / ow:.1f}x | {bp:.1f} | {op:.1f} "
            f"| {bc:.1f} | {oc:.1f} | {oc / bc:.2f}x "
            f"| {bm:.0f} | {om:.0f} | {fm:.0f} | {bl:.2f} / {ol:.2f} | {others:.2f} |"
        )
    lines += ["", "Peak MB is the maximum over repeats; times are medians.", ""]

    lines += ["## Verdict", ""]
    for r in results:
        bw = r.med("bare", lambda m: m.work_s)
        ow = r.med("clipstudio", lambda m: m.work_s)
        ratio = ow / bw
        ok = "meets" if ratio <= TARGET_OVERHEAD else "MISSES"
        cpu = r.med("clipstudio", cpu_of) / r.med("bare", cpu_of)
        lines.append(
            f"- {r.name}: wall-time overhead {ratio:.3f}x {ok} the {TARGET_OVERHEAD:.2f}x "
            f"target (CPU-time ratio {cpu:.3f}x)."
        )
    long = [r for r in results if r.name.startswith("long-call")]
    for r in long:
        om = max(m.peak_mb for m in r.runs["clipstudio"])
        fm = max(m.data["child_peak_rss_mb"] for m in r.runs["clipstudio"])
        bm = max(m.peak_mb for m in r.runs["bare"])
        ok = "meets" if om + fm <= TARGET_PEAK_MB else "MISSES"
        lines.append(
            f"- {r.name}: ClipStudio peak {om:.0f} MB (+ ffmpeg {fm:.0f} MB) {ok} the 1.5 GB "
            f"target; bare faster-whisper peaked at {bm:.0f} MB."
        )
    lines += ["", "## Detail per run", "",
              "Process CPU = user+sys of the whole Python process (+ its ffmpeg children). "
              "Stages are wall seconds inside each step (ClipStudio stages overlap: "
              "'transcribe + speakers total' contains PCM reads, whisper windows and "
              "speaker work).", ""]
    for r in results:
        lines.append(f"### {r.name} ({r.duration_s:.1f} s)")
        lines.append("")
        for side in SIDES:
            for i, m in enumerate(r.runs[side], 1):
                d = m.data
                lines.append(
                    f"- {side} #{i}: work {m.work_s:.2f}s, process {m.process_s:.2f}s, "
                    f"import {d['import_s']:.2f}s, load {d['load_s']:.2f}s, "
                    f"work CPU {d['work_cpu_s']:.1f}s, process CPU {d['cpu_s']:.1f}s "
                    f"(+ffmpeg {d['child_cpu_s']:.1f}s), "
                    f"peak {m.peak_mb:.0f} MB, ffmpeg {d['child_peak_rss_mb']:.0f} MB, "
                    f"other load {d['others_cores']:.2f} cores, "
                    f"{d['segments']} segments / {d['words']} words; {fmt_stages(m)}"
                )
        lines.append("")
    return "\n".join(lines)


def run_bench(args: argparse.Namespace) -> int:
    from clipstudio.transcribe import embedded_model_path

    started = dt.datetime.now()
    t_start = time.perf_counter()
    model_path = embedded_model_path()
    info = machine_info()
    print("machine:", json.dumps(info), flush=True)
    with tempfile.TemporaryDirectory(prefix="clipstudio-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # Snapshot the sample calls: every measurement then reads the very same bytes, even
        # if someone regenerates sample_calls/ while the benchmark runs.
        snap = tmp / "samples"
        snap.mkdir()
        for p in sorted(q for q in SAMPLES.iterdir() if q.suffix.lower() in AUDIO_EXT):
            shutil.copyfile(p, snap / p.name)
        inputs: list[tuple[str, Path, int]] = [
            (p.name, p, args.repeats) for p in pick_samples(snap, args.samples)
        ]
        if not args.quick:
            sources = sorted(p for p in snap.iterdir() if p.suffix.lower() in AUDIO_EXT)
            print(f"building a {args.minutes:g}-minute call from {len(sources)} sample calls...",
                  flush=True)
            long_path = build_long_call(sources, args.minutes, tmp / "long_call.mp3")
            inputs.append((f"long-call {args.minutes:g} min (mp3)", long_path, 1))
        results: list[InputResult] = []
        for name, path, repeats in inputs:
            res = InputResult(name, duration_of(path))
            for rep in range(repeats):
                for side in SIDES:
                    m = measure(side, path, model_path, tmp)
                    res.runs[side].append(m)
                    print(
                        f"{name} [{rep + 1}/{repeats}] {side:10s} work {m.work_s:7.2f}s "
                        f"process {m.process_s:7.2f}s peak {m.peak_mb:6.0f} MB "
                        f"ffmpeg {m.data['child_peak_rss_mb']:4.0f} MB "
                        f"cpu {cpu_of(m):6.1f}s others {m.data['others_cores']:.2f} cores",
                        flush=True,
                    )
            results.append(res)
        text = render(results, info, args, started, time.perf_counter() - t_start)
    print()
    print(text)
    if args.output:
        write_section(Path(args.output), "ingest_bench", text)
        print(f"\nwritten to {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--quick", action="store_true", help="sample calls only, no long call")
    p.add_argument("--minutes", type=float, default=60.0, help="long call length (default 60)")
    p.add_argument("--samples", type=int, default=3, help="how many sample calls (default 3)")
    p.add_argument("--repeats", type=int, default=3, help="repeats per sample call (default 3)")
    p.add_argument("--output", default=str(RESULTS),
                   help="markdown report path ('' to skip; default bench/RESULTS.md)")
    # internal: one measurement in this fresh process
    p.add_argument("--worker", choices=("bare", "clipstudio"), help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--model-path", help=argparse.SUPPRESS)
    p.add_argument("--library", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return run_worker(args)
    if args.minutes <= 0 or args.repeats < 1 or args.samples < 1:
        p.error("--minutes, --repeats and --samples must be positive")
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
