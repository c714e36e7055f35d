#!/usr/bin/env python3
"""Speaker-attribution benchmark: who said what, scored against exact ground truth.

Usage (from the repository root)::

    .venv/bin/python bench/diarization_bench.py                # everything (~15-20 min, 2 cores)
    .venv/bin/python bench/diarization_bench.py --only stereo  # cases whose name contains it
    .venv/bin/python bench/diarization_bench.py --output ''    # print only, keep RESULTS.md

Cases (every input is built or copied into a temporary folder first):

1. **sample mono mixes**: the six ``sample_calls/`` recordings as mono. The mono ones as
   shipped, the stereo ones downmixed with the ClipStudio ffmpeg (``-ac 1``, 16-bit WAV so
   no extra lossy generation), all ingested with ``diarization="embedded"``.
2. **sample stereo**: the stereo sample files as shipped, ``diarization="auto"`` (the
   call must be detected as stereo; rep LEFT, customer RIGHT).
3. **synthetic**: short (~75 s) calls synthesised here with flite + sox using the
   sample-call scripts and the helpers of ``sample_calls/generate.py``: two similar male
   voices (rms vs kal16, awb vs rms), an 8 kHz telephone band (``sinc 300-3400``, down
   to 8 kHz and back), stereo with -20 dB cross-talk bleed, and a heavy-overlap call
   (stereo, plus its mono mix).

Metrics per call:

- **DER**: ``pyannote.metrics`` ``DiarizationErrorRate(collar=0.0, skip_overlap=False)``,
  reference = truth turns labelled by role, hypothesis = transcript utterances labelled by
  their role. DER maps hypothesis labels to reference labels optimally, so a call whose
  rep and customer are swapped can still score a low DER; the ``roles`` column says
  whether the optimal mapping was rep->rep, customer->customer.
- **words**: share of transcribed words attributed to the right role. A word counts when
  its midpoint lies within a truth turn widened by 0.2 s; it is right when the role it was
  given owns such a turn. Where turns of both roles qualify (overlap, or turns closer than
  0.4 s) the word's text decides: it must appear in the text of a qualifying turn of its
  role (if it appears in neither, either role counts). Words matching no truth turn are
  left out and counted in ``unmatched``.
- **overlap words**: the same, for words whose midpoint lies where a rep turn and a
  customer turn really overlap.

Nothing is written to the repository except the section of ``bench/RESULTS.md`` under
"## Speaker attribution (diarization_bench.py)" (the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from report import write_section

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_calls"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
HEADING = "## Speaker attribution (diarization_bench.py)"

TOL_S = 0.2  # a word belongs to a truth turn when its midpoint is within this of it
DER_TARGET = 0.15  # on the sample calls' mono mixes
STEREO_WORD_TARGET = 0.97  # words on the right speaker, stereo, overlap included
SYNTH_TARGET_S = 75.0  # length of each synthetic call (speech, roughly)
SR = 16000
ROLES = ("rep", "customer")
BACKCHANNELS = ("Yeah.", "Right.", "Okay.", "Sure.", "I see.", "Got it.")
MANIFEST_COLUMNS = ["file", "title", "rep", "account", "call_date", "outcome", "consent",
                    "a_player"]


# --------------------------------------------------------------------------- data


@dataclass
class Case:
    name: str
    group: str  # "sample mono mix" | "sample stereo" | "synthetic"
    path: Path
    truth: dict[str, Any]
    diarization: str  # what we ask ingest for
    stereo: bool  # scored against the stereo word target
    note: str = ""
    manifest_row: dict[str, str] = field(default_factory=dict)


@dataclass
class Score:
    der: float
    miss: float  # shares of reference speech
    false_alarm: float
    confusion: float
    roles_ok: bool
    mapping: str
    words_ok: int
    words: int
    unmatched: int
    overlap_ok: int
    overlap_words: int
    truth_words: int
    failures: list[str]


@dataclass
class Outcome:
    case: Case
    wall_s: float
    method: str | None = None
    speakers: str = ""
    score: Score | None = None
    error: str | None = None


# --------------------------------------------------------------------------- helpers


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                           f"{proc.stderr.decode('utf-8', 'replace')[-2000:]}")


def load_generate() -> ModuleType:
    """``sample_calls/generate.py`` as a module (its main() is never called)."""
    spec = importlib.util.spec_from_file_location("sample_calls_generate",
                                                  SAMPLES / "generate.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot import sample_calls/generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest_rows() -> dict[str, dict[str, str]]:
    with open(SAMPLES / "manifest.csv", encoding="utf-8", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def norm_token(text: str) -> str:
    return re.sub(r"[^a-z0-9']", "", text.lower()).strip("'")


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    ram = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram,
            "python": platform.python_version(), "os": platform.platform()}


def load_avg() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# --------------------------------------------------------------------------- inputs


def sample_cases(work: Path) -> list[Case]:
    """Sample calls: every one as a mono mix, and the stereo ones as shipped."""
    from clipstudio.media import ffmpeg_exe

    rows = manifest_rows()
    mono: list[Case] = []
    stereo: list[Case] = []
    for truth_path in sorted((SAMPLES / "truth").glob("*.json")):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        src = SAMPLES / truth["file"]
        row = dict(rows[truth["file"]])
        if truth["channels"] == "stereo":
            copy = work / "stereo" / src.name
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(src, copy)
            stereo.append(Case(f"{truth_path.stem} (stereo)", "sample stereo", copy, truth,
                               "auto", True, "as shipped", {**row, "file": copy.name}))
            mix = work / "mono" / f"{truth_path.stem}.mono.wav"
            mix.parent.mkdir(exist_ok=True)
            run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                 "-i", str(src), "-ac", "1", "-c:a", "pcm_s16le", str(mix)])
            note = f"{src.suffix[1:]} stereo -> ffmpeg -ac 1"
        else:
            mix = work / "mono" / src.name
            mix.parent.mkdir(exist_ok=True)
            shutil.copyfile(src, mix)
            note = f"{src.suffix[1:]} mono as shipped"
        mono.append(Case(f"{truth_path.stem} (mono)", "sample mono mix", mix, truth,
                         "embedded", False, note, {**row, "file": mix.name}))
    return mono + stereo


@dataclass
class SynthSpec:
    slug: str
    script: str  # sample_calls/scripts/<script>.txt gives the text and the names
    rep_voice: str
    customer_voice: str
    channels: str  # "mono" | "stereo"
    bleed_db: float | None = None
    telephone: bool = False
    heavy_overlap: bool = False
    also_mono: bool = False  # also score a mono mix of the same call
    note: str = ""


SYNTH = [
    SynthSpec("similar_rms_kal16", "lakeside_authority", "rms", "kal16", "mono",
              note="two male voices, rms vs kal16"),
    SynthSpec("similar_awb_rms", "blue_river_pricing", "awb", "rms", "mono",
              note="two male voices, awb vs rms"),
    SynthSpec("telephone_8k", "acme_discovery", "slt", "awb", "mono", telephone=True,
              note="sinc 300-3400, 8 kHz and back"),
    SynthSpec("stereo_bleed_20db", "pine_valley_competitor", "slt", "rms", "stereo",
              bleed_db=-20.0, note="-20 dB cross-talk both ways"),
    SynthSpec("stereo_heavy_overlap", "acme_discovery", "slt", "rms", "stereo",
              bleed_db=-30.0, heavy_overlap=True, also_mono=True,
              note="every turn change overlaps 1-2.5 s, backchannels, -30 dB bleed"),
]


def synth_case(gen: ModuleType, spec: SynthSpec, work: Path) -> list[Case]:
    """Synthesise one short call (and its truth) the way generate.py does."""
    script = gen.parse_script(SAMPLES / "scripts" / f"{spec.script}.txt")
    header = script["header"]
    names = {"rep": header["rep"], "customer": header["customer"]}
    voices = {"rep": spec.rep_voice, "customer": spec.customer_voice}
    rng = random.Random(zlib.crc32(spec.slug.encode("utf-8")))
    tmp = work / spec.slug
    tmp.mkdir()

    def voice(text: str, role: str, tag: str) -> np.ndarray:
        return gen.trim_and_level(gen.synthesize(text, voices[role], tmp, tag))

    placed: list[tuple[str, int, np.ndarray, str, bool]] = []  # role, start, audio, text, ovl
    cursor = int(0.6 * SR)
    prev: tuple[str, int, int] | None = None  # role, start, end of the previous turn
    turns = [it for it in script["items"] if it["kind"] == "turn"]
    for i, item in enumerate(turns):
        if cursor > SYNTH_TARGET_S * SR:
            break
        role = item["role"]
        audio = voice(item["text"], role, f"t{i:03d}")
        gap = rng.uniform(0.2, 0.8)
        overlap = False
        if prev is not None and spec.heavy_overlap and prev[0] != role:
            ovl = min(rng.uniform(1.0, 2.5), 0.5 * (prev[2] - prev[1]) / SR,
                      0.5 * len(audio) / SR)
            start, overlap = prev[2] - int(ovl * SR), True
        elif prev is not None and item["overlap"]:
            start, overlap = prev[2] - int(0.6 * SR), True
        else:
            start = cursor + int(gap * SR)
        placed.append((role, start, audio, item["text"], overlap))
        if spec.heavy_overlap and len(audio) > 5 * SR:
            # the other party backchannels in the middle of a long turn
            other = "customer" if role == "rep" else "rep"
            text = BACKCHANNELS[i % len(BACKCHANNELS)]
            bc = voice(text, other, f"b{i:03d}")
            at = start + int(rng.uniform(0.35, 0.6) * len(audio))
            placed.append((other, at, bc, text, True))
        prev = (role, start, start + len(audio))
        cursor = max(cursor, start + len(audio))

    total = cursor + int(0.8 * SR)
    tracks = {r: np.zeros(total) for r in ROLES}
    for role, start, audio, _, _ in placed:
        tracks[role][start:start + len(audio)] += audio
    truth_turns = []
    for idx, (role, start, audio, text, overlap) in enumerate(sorted(placed,
                                                                     key=lambda p: p[1])):
        truth_turns.append({"index": idx, "speaker": names[role], "role": role,
                            "start_s": round(start / SR, 3),
                            "end_s": round((start + len(audio)) / SR, 3),
                            "text": text, "overlaps_previous": overlap})
    truth = {"file": "", "channels": spec.channels, "duration_s": round(total / SR, 3),
             "turns": truth_turns}

    def finish(mix: np.ndarray, name: str, channels: int) -> Path:
        mix = mix * (10 ** (-1.5 / 20) / float(np.abs(mix).max()))
        wav = tmp / f"{name}.wav"
        gen.write_wav(wav, mix)
        if spec.telephone:
            narrow = tmp / f"{name}.8k.wav"
            back = tmp / f"{name}.tel.wav"
            run(["sox", "-D", str(wav), str(narrow), "gain", "-3", "sinc", "300-3400",
                 "rate", "8000"])
            run(["sox", "-D", str(narrow), "-b", "16", str(back), "rate", str(SR),
                 "gain", "-n", "-1.5"])
            wav = back
        dest = work / f"{name}.mp3"
        gen.encode(wav, dest, "mp3", channels)
        return dest

    row = {"title": f"{spec.slug} ({header['title']})", "rep": header["rep"],
           "account": header["account"], "call_date": header["call_date"],
           "outcome": header["outcome"], "consent": header["consent"],
           "a_player": header["a_player"]}
    voices_note = f"{spec.rep_voice}/{spec.customer_voice}"
    cases: list[Case] = []
    if spec.channels == "stereo":
        g = 10 ** (spec.bleed_db / 20) if spec.bleed_db is not None else 0.0
        left = tracks["rep"] + g * tracks["customer"]
        right = tracks["customer"] + g * tracks["rep"]
        path = finish(np.stack([left, right], axis=1), spec.slug, 2)
        cases.append(Case(f"{spec.slug} (stereo)", "synthetic", path, truth, "auto", True,
                          f"{voices_note}; {spec.note}", {**row, "file": path.name}))
    if spec.channels == "mono" or spec.also_mono:
        path = finish(tracks["rep"] + tracks["customer"], f"{spec.slug}.mono", 1)
        cases.append(Case(f"{spec.slug} (mono)", "synthetic", path, truth, "embedded", False,
                          f"{voices_note}; {spec.note}", {**row, "file": path.name}))
    return cases


# --------------------------------------------------------------------------- scoring


def score(truth: dict[str, Any], utterances: Any) -> Score:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    turns = truth["turns"]
    ref = Annotation()
    for i, t in enumerate(turns):
        ref[Segment(t["start_s"], t["end_s"]), i] = t["role"]
    hyp = Annotation()
    for i, u in enumerate(utterances):
        if u.end_s > u.start_s:
            hyp[Segment(u.start_s, u.end_s), i] = u.role or f"none:{u.speaker}"
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    with warnings.catch_warnings():  # "'uem' was approximated by the union ...": intended
        warnings.simplefilter("ignore", UserWarning)
        detail = metric(ref, hyp, detailed=True)
    total = max(detail["total"], 1e-9)
    mapping = metric.optimal_mapping(ref, hyp)
    roles_ok = all(mapping.get(r, r) == r for r in ROLES if r in mapping) and bool(mapping)

    tokens = [{norm_token(w) for w in t["text"].split()} for t in turns]
    starts = np.array([t["start_s"] for t in turns])
    ends = np.array([t["end_s"] for t in turns])
    roles = np.array([t["role"] for t in turns])
    ok = n = unmatched = ovl_ok = ovl_n = 0
    wrong: dict[int, list[str]] = {}
    for u in utterances:
        for w in u.words:
            tok = norm_token(w.text)
            if not tok:
                continue
            mid = (w.start_s + w.end_s) / 2
            near = np.flatnonzero((starts - TOL_S <= mid) & (mid <= ends + TOL_S))
            if near.size == 0:
                unmatched += 1
                continue
            near_roles = set(roles[near])
            if len(near_roles) > 1:
                by_text = {roles[j] for j in near if tok in tokens[j]}
                if by_text:
                    near_roles = by_text
            right = u.role in near_roles
            inside = np.flatnonzero((starts <= mid) & (mid <= ends))
            in_overlap = len(set(roles[inside])) > 1
            n += 1
            ok += right
            ovl_n += in_overlap
            ovl_ok += right and in_overlap
            if not right:
                # show the turn the word really belongs to: another role's, by text if possible
                others = [k for k in near if roles[k] != u.role] or list(near)
                j = next((k for k in others if tok in tokens[k]), others[0])
                wrong.setdefault(j, []).append(f"{w.text.strip()}->{u.role or u.speaker}"
                                               + ("*" if in_overlap else ""))
    failures = []
    for j, words in sorted(wrong.items(), key=lambda kv: -len(kv[1]))[:4]:
        t = turns[j]
        failures.append(f"truth turn {j} {t['role']} {t['start_s']:.1f}-{t['end_s']:.1f}s: "
                        f"{len(words)} wrong ({' '.join(words[:8])}"
                        f"{' ...' if len(words) > 8 else ''})")
    return Score(der=float(detail["diarization error rate"]),
                 miss=detail["missed detection"] / total,
                 false_alarm=detail["false alarm"] / total,
                 confusion=detail["confusion"] / total,
                 roles_ok=roles_ok,
                 mapping=", ".join(f"{k}->{v}" for k, v in sorted(mapping.items())),
                 words_ok=ok, words=n, unmatched=unmatched,
                 overlap_ok=ovl_ok, overlap_words=ovl_n,
                 truth_words=sum(len([x for x in t["text"].split() if norm_token(x)])
                                 for t in turns),
                 failures=failures)


# --------------------------------------------------------------------------- running


def run_case(case: Case, libroot: Path, manifest: Path) -> Outcome:
    from clipstudio import Library

    lib = Library(libroot)
    t0 = time.perf_counter()
    try:
        report = lib.ingest([case.path], manifest=manifest, diarization=case.diarization)
    except Exception as exc:  # noqa: BLE001 - a failing case must not stop the run
        return Outcome(case, time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
    wall = time.perf_counter() - t0
    if report.failed or not report.ingested:
        why = "; ".join(f.error for f in report.failed) or "nothing ingested"
        return Outcome(case, wall, error=why)
    tr = lib.transcript(report.ingested[0].call_id)
    speakers = ", ".join(f"{s.display} ({s.role or '-'}, {s.talk_s:.0f}s)"
                         for s in tr.speakers)
    return Outcome(case, wall, method=tr.call.diarization, speakers=speakers,
                   score=score(case.truth, tr.utterances))


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def ratio(ok: int, n: int) -> str:
    return "-" if n == 0 else f"{100 * ok / n:.1f}% ({ok}/{n})"


def table(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| case | input | method | audio | wall s | DER | miss / FA / conf. | roles | "
        "words heard / truth | words right | overlap words right | unmatched | speakers found |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        c, s = o.case, o.score
        audio = f"{c.truth['duration_s']:.0f} s"
        if s is None:
            lines.append(f"| {c.name} | {c.note} | {c.diarization} | {audio} | "
                         f"{o.wall_s:.1f} | FAILED: {o.error} | | | | | | | |")
            continue
        lines.append(
            f"| {c.name} | {c.note} | {c.diarization}->{o.method} | {audio} | {o.wall_s:.1f} | "
            f"{pct(s.der)} | {pct(s.miss)} / {pct(s.false_alarm)} / {pct(s.confusion)} | "
            f"{'ok' if s.roles_ok else 'SWAPPED (' + s.mapping + ')'} | "
            f"{s.words + s.unmatched} / {s.truth_words} | "
            f"{ratio(s.words_ok, s.words)} | {ratio(s.overlap_ok, s.overlap_words)} | "
            f"{s.unmatched} | {o.speakers} |")
    return lines


def verdict(outcomes: list[Outcome]) -> list[str]:
    lines = []
    mono = [o for o in outcomes if o.case.group == "sample mono mix"]
    if mono:
        bad = [o for o in mono if o.score is None or o.score.der > DER_TARGET]
        ders = [o.score.der for o in mono if o.score]
        mean = f"{100 * sum(ders) / len(ders):.1f}%" if ders else "-"
        lines.append(
            f"- Sample calls, mono mixes: DER target <= {DER_TARGET:.0%} per call: "
            + ("MET on all" if not bad else "MISSED on " + ", ".join(o.case.name for o in bad))
            + f" (mean DER {mean}, {len(mono)} calls).")
    for label, group in (("Sample stereo files", "sample stereo"),
                         ("Synthetic stereo", "synthetic")):
        st = [o for o in outcomes if o.case.group == group and o.case.stereo]
        if not st:
            continue
        ok = sum(o.score.words_ok for o in st if o.score)
        n = sum(o.score.words for o in st if o.score)
        ook = sum(o.score.overlap_ok for o in st if o.score)
        on = sum(o.score.overlap_words for o in st if o.score)
        share = ok / n if n else 0.0
        met = share >= STEREO_WORD_TARGET and all(o.score for o in st)
        per = [o for o in st if o.score is None
               or o.score.words_ok < STEREO_WORD_TARGET * o.score.words]
        lines.append(
            f"- {label}: words on the right speaker target >= {STEREO_WORD_TARGET:.0%} "
            f"(overlap included): {'MET' if met else 'MISSED'} overall "
            f"{ratio(ok, n)}, overlap words {ratio(ook, on)}"
            + (f"; below target: {', '.join(o.case.name for o in per)}" if per else "")
            + ".")
    return lines


def failures(outcomes: list[Outcome]) -> list[str]:
    lines = []
    for o in outcomes:
        if o.score is None:
            lines.append(f"- **{o.case.name}**: ingest failed: {o.error}")
        elif o.score.failures:
            lines.append(f"- **{o.case.name}** ({o.score.words - o.score.words_ok} wrong "
                         "words; `word->given role`, `*` = inside an overlap):")
            lines += [f"  - {f}" for f in o.score.failures]
    return lines or ["- none"]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--output", default=str(RESULTS_MD),
                    help="markdown file to update ('' = print only)")
    args = ap.parse_args(argv)
    for tool in ("flite", "sox"):
        if shutil.which(tool) is None:
            print(f"error: '{tool}' not found (apt-get install flite sox)", file=sys.stderr)
            return 2

    began = time.perf_counter()
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    load_before = load_avg()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="clipstudio-diabench-") as tmp_name:
        work = Path(tmp_name)
        t0 = time.perf_counter()
        cases = sample_cases(work)
        gen = load_generate()
        synth_dir = work / "synth"
        synth_dir.mkdir()
        for spec in SYNTH:
            names = (f"{spec.slug} (stereo)", f"{spec.slug} (mono)", "synthetic")
            if not any(args.only in name for name in names):
                continue
            cases += synth_case(gen, spec, synth_dir)
        cases = [c for c in cases if args.only in c.name or args.only in c.group]
        build_s = time.perf_counter() - t0
        print(f"built {len(cases)} cases in {build_s:.1f}s", flush=True)
        manifest = work / "manifest.csv"
        write_manifest(manifest, [c.manifest_row for c in cases])

        from clipstudio.transcribe import load_model

        load_model()  # so the first case's wall time does not include loading Whisper
        for case in cases:
            libroot = work / "lib" / re.sub(r"[^a-z0-9]+", "_", case.name.lower())
            outcome = run_case(case, libroot, manifest)
            outcomes.append(outcome)
            s = outcome.score
            print(f"{case.name:36s} {outcome.wall_s:6.1f}s  method={outcome.method}  "
                  + (f"DER={pct(s.der)} words={ratio(s.words_ok, s.words)} "
                     f"overlap={ratio(s.overlap_ok, s.overlap_words)} "
                     f"roles={'ok' if s.roles_ok else 'SWAPPED'}" if s else
                     f"FAILED {outcome.error}"), flush=True)
    total_min = (time.perf_counter() - began) / 60
    info = machine_info()

    lines = [
        HEADING,
        "",
        f"Generated by `bench/diarization_bench.py` on {stamp} (local); the run took "
        f"{total_min:.1f} min (building the inputs {build_s:.0f} s). Load average "
        f"(1/5/15 min) before: {load_before}; after: {load_avg()}.",
        "",
        f"Machine: nproc {info['nproc']}, {info['cpu']}, {info['ram']} RAM, "
        f"Python {info['python']}, {info['os']}.",
        "",
        "Method: every case is ingested with `Library.ingest([file], manifest=..., "
        "diarization=...)` (faster-whisper tiny.en, CPU) into a fresh library; **wall s** "
        "is that call (Whisper is loaded beforehand). DER = pyannote "
        "`DiarizationErrorRate(collar=0.0, skip_overlap=False)`, truth turns vs transcript "
        "utterances, both labelled by role; miss / FA / conf. are its parts as shares of "
        "truth speech. DER maps labels optimally, so **roles** says whether that mapping "
        "was the identity (rep->rep); SWAPPED means rep and customer were exchanged, which "
        "DER does not count but *words right* does. **words right**: word midpoint within "
        f"{TOL_S} s of a truth turn of the role it was given (text decides where turns of "
        "both roles qualify); **overlap words**: words whose midpoint lies where a rep and a "
        "customer turn really overlap; **unmatched**: words near no truth turn (left out); "
        "**words heard / truth**: words in the transcript vs words in the script (a low "
        "ratio means speech Whisper never transcribed, which no attribution can fix).",
        "",
        f"Targets: DER <= {DER_TARGET:.0%} on the sample calls' mono mixes; "
        f">= {STEREO_WORD_TARGET:.0%} of words on the right speaker on stereo, overlap "
        "included.",
        "",
        *table(outcomes),
        "",
        "### Verdict",
        "",
        *verdict(outcomes),
        "",
        "### Where attribution fails (truth turns with the most misattributed words)",
        "",
        *failures(outcomes),
        "",
    ]
    section = "\n".join(lines)
    print()
    print(section)
    if args.output:
        write_section(Path(args.output), "diarization_bench", section)
        print(f"updated {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
