#!/usr/bin/env python3
"""Regenerate the synthetic demo sales calls shipped in ``sample_calls/``.

Users never need to run this: the audio, ``truth/*.json`` and ``manifest.csv``
are committed. It exists so the recordings are reproducible and auditable.

Usage (from the repository root)::

    .venv/bin/python sample_calls/generate.py            # all scripts
    .venv/bin/python sample_calls/generate.py acme_discovery   # one script

What it does, for every ``sample_calls/scripts/<slug>.txt``:

1. parses the script (format documented in ``sample_calls/README.md``);
2. synthesises every turn with the flite voice named in the header
   (``rep_voice`` / ``customer_voice``), trims leading/trailing silence and
   levels each turn to the same loudness;
3. lays the turns on a timeline with seeded (deterministic) gaps of 0.2-0.8 s,
   extra silence for ``PAUSE:`` lines and a 0.6 s overlap for ``+`` turns;
4. mixes: mono = both parties summed; stereo = rep LEFT, customer RIGHT,
   optionally with cross-talk bleed (``bleed_db``);
5. peak-normalises to -1.5 dBFS and encodes with the ffmpeg binary bundled in
   imageio-ffmpeg to mp3 (LAME, CBR), ogg (Opus) or m4a (AAC), all at 16 kHz,
   written to a temp file and renamed into place;
6. writes ``truth/<slug>.json`` from the exact sample positions used in the
   mix, and finally ``manifest.csv``.

Output is deterministic: same scripts + same tool versions = same files.

Requirements
------------
Debian packages: ``flite`` (voices slt, rms, awb, kal16 are built in) and
``sox`` (format conversion of the synthesised turns).
Python (already in the project venv): numpy and ``imageio-ffmpeg``, whose
bundled ffmpeg binary encodes mp3 (libmp3lame), Opus .ogg and AAC .m4a; no
system ffmpeg is needed. ``libsox-fmt-mp3`` is NOT used on purpose: sox's mp3
writer omits the LAME gapless header, so its files decode ~70 ms late.
No network access and no mbrola voices are used.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import wave
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SCRIPTS_DIR = HERE / "scripts"
TRUTH_DIR = HERE / "truth"
MANIFEST = HERE / "manifest.csv"

SR = 16000  # output sample rate (Hz)
LEAD_IN_S = 0.6  # silence before the first turn
TAIL_S = 0.8  # silence after the last turn
GAP_RANGE_S = (0.2, 0.8)  # natural gap between turns (seeded)
OVERLAP_S = 0.6  # a "+" turn starts this long before the previous turn ends
TRIM_THRESHOLD = 0.01  # |sample| above this (full scale = 1.0) counts as speech
EDGE_FADE_S = 0.005  # tiny fade at trimmed edges to avoid clicks
TURN_RMS_DBFS = -20.0  # every turn is levelled to this RMS (speech frames)
PEAK_DBFS = -1.5  # final mix peak

FLITE_VOICES = {"slt", "rms", "awb", "kal16", "kal"}
HEADER_KEYS_REQUIRED = [
    "title",
    "rep",
    "customer",
    "account",
    "call_date",
    "outcome",
    "consent",
    "a_player",
    "channels",
    "format",
    "rep_voice",
    "customer_voice",
]
FORMATS = {
    # format: (encoder, mono kbps, stereo kbps)
    "mp3": ("ffmpeg-mp3", 48, 64),
    "ogg": ("ffmpeg-opus", 32, 40),
    "m4a": ("ffmpeg-aac", 48, 64),
}
MANIFEST_COLUMNS = [
    "file",
    "title",
    "rep",
    "account",
    "call_date",
    "outcome",
    "consent",
    "a_player",
]
TURN_RE = re.compile(r"^(REP|CUSTOMER)(\+)?:\s*(.*)$")
PAUSE_RE = re.compile(r"^PAUSE:\s*([0-9]*\.?[0-9]+)\s*$")


# --------------------------------------------------------------------------- parsing


def parse_script(path: Path) -> dict:
    """Parse a script file into ``{"header": {...}, "items": [...]}``.

    Items are ``{"kind": "turn", "role", "overlap", "text"}`` or
    ``{"kind": "pause", "seconds"}``.
    """
    header: dict[str, str] = {}
    items: list[dict] = []
    in_body = False
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_body:
            if line == "---":
                in_body = True
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"{path.name}:{lineno}: expected 'key: value' header line")
            header[key.strip().lower()] = value.strip()
            continue
        m = TURN_RE.match(line)
        if m:
            items.append(
                {
                    "kind": "turn",
                    "role": m.group(1).lower(),
                    "overlap": bool(m.group(2)),
                    "text": m.group(3).strip(),
                }
            )
            continue
        m = PAUSE_RE.match(line)
        if m:
            items.append({"kind": "pause", "seconds": float(m.group(1))})
            continue
        # continuation line of the previous turn (must be indented in the file)
        if raw[:1].isspace() and items and items[-1]["kind"] == "turn":
            items[-1]["text"] += " " + line
            continue
        raise ValueError(f"{path.name}:{lineno}: cannot parse line: {raw!r}")

    missing = [k for k in HEADER_KEYS_REQUIRED if k not in header]
    if missing:
        raise ValueError(f"{path.name}: missing header keys {missing}")
    if header["channels"] not in ("mono", "stereo"):
        raise ValueError(f"{path.name}: channels must be mono or stereo")
    if header["format"] not in FORMATS:
        raise ValueError(f"{path.name}: format must be one of {sorted(FORMATS)}")
    if header["outcome"] not in ("won", "lost", "open", "unknown"):
        raise ValueError(f"{path.name}: outcome must be won/lost/open/unknown")
    for key in ("consent", "a_player"):
        if header[key] not in ("yes", "no"):
            raise ValueError(f"{path.name}: {key} must be yes or no")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", header["call_date"]):
        raise ValueError(f"{path.name}: call_date must be YYYY-MM-DD")
    for key in ("rep_voice", "customer_voice"):
        if header[key] not in FLITE_VOICES:
            raise ValueError(f"{path.name}: unknown flite voice {header[key]!r}")
    turns = [it for it in items if it["kind"] == "turn"]
    if not turns:
        raise ValueError(f"{path.name}: no turns")
    if turns[0]["overlap"]:
        raise ValueError(f"{path.name}: the first turn cannot overlap")
    return {"header": header, "items": items}


def count_questions(text: str) -> int:
    """Number of sentences ending in '?'."""
    return len(re.findall(r"\?+", text))


# --------------------------------------------------------------------------- audio helpers


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stderr.decode('utf-8', 'replace')[-2000:]}"
        )


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise RuntimeError(f"{path}: expected 16-bit PCM")
        rate, nch = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    if nch > 1:
        data = data.reshape(-1, nch).mean(axis=1)
    if rate != SR:
        raise RuntimeError(f"{path}: sample rate {rate}, expected {SR}")
    return data


def write_wav(path: Path, data: np.ndarray) -> None:
    """data: float array (n,) or (n, channels) in [-1, 1]."""
    if data.ndim == 1:
        data = data[:, None]
    pcm = np.clip(np.round(data * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def synthesize(text: str, voice: str, workdir: Path, tag: str) -> np.ndarray:
    """Synthesise *text* with a flite voice; return float mono at SR."""
    txt = workdir / f"{tag}.txt"
    raw = workdir / f"{tag}.raw.wav"
    out = workdir / f"{tag}.wav"
    txt.write_text(text + "\n", encoding="utf-8")
    run(["flite", "-voice", voice, "-f", str(txt), "-o", str(raw)])
    # resample / force 16-bit mono at SR (no-op for the 16 kHz voices)
    run(["sox", "-R", "-D", str(raw), "-r", str(SR), "-c", "1", "-b", "16", str(out)])
    return read_wav(out)


def trim_and_level(audio: np.ndarray) -> np.ndarray:
    """Cut leading/trailing silence and level the turn to TURN_RMS_DBFS."""
    loud = np.flatnonzero(np.abs(audio) > TRIM_THRESHOLD)
    if loud.size == 0:
        raise RuntimeError("synthesised turn is silent")
    audio = audio[loud[0] : loud[-1] + 1].copy()
    # RMS over 20 ms frames that contain speech
    frame = int(0.02 * SR)
    n = len(audio) // frame
    if n > 0:
        frames = audio[: n * frame].reshape(n, frame)
        rms = np.sqrt((frames**2).mean(axis=1))
        speech = rms[rms > TRIM_THRESHOLD / 2]
        level = float(np.sqrt((speech**2).mean())) if speech.size else float(rms.max())
    else:
        level = float(np.sqrt((audio**2).mean()))
    audio *= 10 ** (TURN_RMS_DBFS / 20) / max(level, 1e-9)
    fade = min(int(EDGE_FADE_S * SR), len(audio) // 2)
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    return audio


def encode(wav_path: Path, dest: Path, fmt: str, channels: int) -> None:
    """Encode *wav_path* into *dest* via a temp file + atomic rename."""
    encoder, kbps_mono, kbps_stereo = FORMATS[fmt]
    kbps = kbps_stereo if channels == 2 else kbps_mono
    tmp = dest.with_name(f".{dest.name}.tmp")
    if tmp.exists():
        tmp.unlink()
    if encoder == "ffmpeg-mp3":
        # LAME via ffmpeg: unlike sox's mp3 writer it stores the LAME/Xing
        # gapless header (encoder delay), so decoders return sample-exact
        # timing; sox output decodes ~70 ms late, which would break truth/.
        codec, container = ["-c:a", "libmp3lame"], "mp3"
    elif encoder == "ffmpeg-opus":
        codec, container = ["-c:a", "libopus", "-application", "voip"], "ogg"
    else:
        codec, container = ["-c:a", "aac"], "ipod"  # "ipod" muxer = .m4a
    run(
        [
            ffmpeg_exe(),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(wav_path),
            "-map_metadata",
            "-1",
            "-fflags",
            "+bitexact",
            "-flags:a",
            "+bitexact",
            *codec,
            "-b:a",
            f"{kbps}k",
            "-ar",
            str(SR),
            "-f",
            container,
            str(tmp),
        ]
    )
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise RuntimeError(f"encoder produced no output for {dest.name}")
    os.replace(tmp, dest)


_FFMPEG: str | None = None


def ffmpeg_exe() -> str:
    global _FFMPEG
    if _FFMPEG is None:
        try:
            import imageio_ffmpeg

            _FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
        except Exception:  # pragma: no cover - fallback to a system ffmpeg
            _FFMPEG = shutil.which("ffmpeg") or ""
        if not _FFMPEG:
            raise RuntimeError("ffmpeg not found (pip install imageio-ffmpeg)")
    return _FFMPEG


def write_text_atomic(dest: Path, text: str) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, dest)


# --------------------------------------------------------------------------- generation


def generate_call(slug: str, script: dict, workdir: Path) -> dict:
    header, items = script["header"], script["items"]
    rng = random.Random(zlib.crc32(slug.encode("utf-8")))
    names = {"rep": header["rep"], "customer": header["customer"]}
    voices = {"rep": header["rep_voice"], "customer": header["customer_voice"]}

    placed = []  # (role, start_sample, audio, item)
    cursor = int(LEAD_IN_S * SR)  # end of everything placed so far
    pending_pause = 0.0
    prev_end = None
    for i, item in enumerate(items):
        if item["kind"] == "pause":
            pending_pause += item["seconds"]
            continue
        audio = trim_and_level(synthesize(item["text"], voices[item["role"]], workdir, f"t{i:03d}"))
        gap = rng.uniform(*GAP_RANGE_S)  # always drawn, keeps the sequence stable
        if item["overlap"] and prev_end is not None:
            start = prev_end - int(OVERLAP_S * SR)
        else:
            start = cursor + int(round((gap + pending_pause) * SR))
        pending_pause = 0.0
        end = start + len(audio)
        placed.append((item["role"], start, audio, item))
        prev_end = end
        cursor = max(cursor, end)

    total = cursor + int(TAIL_S * SR)
    tracks = {"rep": np.zeros(total), "customer": np.zeros(total)}
    for role, start, audio, _ in placed:
        tracks[role][start : start + len(audio)] += audio

    stereo = header["channels"] == "stereo"
    if stereo:
        bleed = header.get("bleed_db", "none").strip().lower()
        left, right = tracks["rep"].copy(), tracks["customer"].copy()
        if bleed not in ("", "none"):
            g = 10 ** (float(bleed) / 20)
            left += g * tracks["customer"]
            right += g * tracks["rep"]
        mix = np.stack([left, right], axis=1)
    else:
        mix = tracks["rep"] + tracks["customer"]
    peak = float(np.abs(mix).max())
    mix *= 10 ** (PEAK_DBFS / 20) / peak

    file_name = f"{slug}.{header['format']}"
    wav_path = workdir / f"{slug}.mix.wav"
    write_wav(wav_path, mix)
    encode(wav_path, HERE / file_name, header["format"], 2 if stereo else 1)

    # ---- ground truth, straight from the sample positions used above
    turns = []
    for idx, (role, start, audio, item) in enumerate(placed):
        turns.append(
            {
                "index": idx,
                "speaker": names[role],
                "role": role,
                "start_s": round(start / SR, 3),
                "end_s": round((start + len(audio)) / SR, 3),
                "text": item["text"],
                "questions": count_questions(item["text"]),
                "overlaps_previous": bool(item["overlap"]),
            }
        )

    def talk(role: str) -> float:
        return sum(len(a) for r, _, a, _ in placed if r == role) / SR

    rep_s, cust_s = talk("rep"), talk("customer")
    longest = {
        role: max((len(a) for r, _, a, _ in placed if r == role), default=0) / SR
        for role in ("rep", "customer")
    }
    truth = {
        "file": file_name,
        "title": header["title"],
        "rep": header["rep"],
        "customer": header["customer"],
        "account": header["account"],
        "channels": header["channels"],
        "channel_map": {"left": "rep", "right": "customer"} if stereo else None,
        "sample_rate": SR,
        "duration_s": round(total / SR, 3),
        "turns": turns,
        "rep_talk_s": round(rep_s, 3),
        "customer_talk_s": round(cust_s, 3),
        "rep_talk_ratio": round(rep_s / (rep_s + cust_s), 4),
        "rep_questions": sum(t["questions"] for t in turns if t["role"] == "rep"),
        "customer_questions": sum(t["questions"] for t in turns if t["role"] == "customer"),
        "longest_rep_monologue_s": round(longest["rep"], 3),
        "longest_customer_story_s": round(longest["customer"], 3),
    }
    TRUTH_DIR.mkdir(exist_ok=True)
    write_text_atomic(
        TRUTH_DIR / f"{slug}.json", json.dumps(truth, indent=2, ensure_ascii=False) + "\n"
    )
    return truth


def write_manifest(rows: list[dict]) -> None:
    tmp = MANIFEST.with_name(f".{MANIFEST.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, MANIFEST)


def main(argv: list[str]) -> int:
    for tool in ("flite", "sox"):
        if shutil.which(tool) is None:
            print(f"error: '{tool}' not found; apt-get install flite sox", file=sys.stderr)
            return 2
    scripts = sorted(SCRIPTS_DIR.glob("*.txt"))
    wanted = set(argv)
    parsed = {p.stem: parse_script(p) for p in scripts}  # validate everything first
    rows = []
    with tempfile.TemporaryDirectory(prefix="clipstudio-gen-") as tmp:
        for slug, script in parsed.items():
            h = script["header"]
            if not wanted or slug in wanted:
                workdir = Path(tmp) / slug
                workdir.mkdir()
                truth = generate_call(slug, script, workdir)
                size = (HERE / truth["file"]).stat().st_size
                print(
                    f"{truth['file']:32s} {truth['duration_s']:7.1f}s {size / 1e6:5.2f} MB  "
                    f"rep ratio {truth['rep_talk_ratio']:.2f}  "
                    f"rep questions {truth['rep_questions']:2d}  "
                    f"longest rep turn {truth['longest_rep_monologue_s']:.1f}s"
                )
            rows.append(
                {
                    "file": f"{slug}.{h['format']}",
                    "title": h["title"],
                    "rep": h["rep"],
                    "account": h["account"],
                    "call_date": h["call_date"],
                    "outcome": h["outcome"],
                    "consent": h["consent"],
                    "a_player": h["a_player"],
                }
            )
    write_manifest(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
