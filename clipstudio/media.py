"""Everything that touches ffmpeg: finding the binary, probing, decoding, atomic writes.

ClipStudio must run on a laptop with no system ffmpeg, so the binary is chosen once:
``CLIPSTUDIO_FFMPEG`` if set, else ``ffmpeg`` on the PATH, else the one that the
``imageio-ffmpeg`` wheel ships. pydub and ffmpeg-python are pointed at the same binary.
That bundled build has no ffprobe, so probing reads what ``ffmpeg -i`` prints.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import struct
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from .errors import MediaError

STDERR_TAIL_LINES = 8


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary every part of ClipStudio uses (see the module docstring)."""
    chosen = os.environ.get("CLIPSTUDIO_FFMPEG") or shutil.which("ffmpeg")
    if not chosen:
        import imageio_ffmpeg

        chosen = imageio_ffmpeg.get_ffmpeg_exe()
    with warnings.catch_warnings():  # pydub warns at import when ffmpeg is not on PATH
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment

    AudioSegment.converter = chosen
    AudioSegment.ffmpeg = chosen
    return chosen


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(line for line in text.strip().splitlines()[-lines:])


def run_ffmpeg(args: list[str], *, path: str | None = None, what: str = "ffmpeg failed") -> str:
    """Run ffmpeg with an argument list (never a shell); raise MediaError on a non-zero exit."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise MediaError(what, path=path, stderr_tail=_tail(proc.stderr))
    return proc.stderr


def remove_stale_temp_files(folder: Path) -> int:
    """Delete ``.tmp-PID-*`` files and folders whose writer is gone. Returns how many."""
    removed = 0
    for tmp in folder.glob(".tmp-*"):
        match = re.match(r"\.tmp-(\d+)-", tmp.name)
        if match and _pid_alive(int(match.group(1))):
            continue
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float | None  # as the container declares it; None when it does not say
    channels: int
    sample_rate: int
    codec: str
    has_video: bool


_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)[^,]*(?:,\s*(\d+) Hz)?(?:,\s*([^,]+))?")
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def probe(path: Path) -> MediaInfo:
    """Read a recording's duration, channels and codec, or say clearly why it is unusable."""
    p = str(path)
    if not path.exists():
        raise MediaError("file not found", path=p)
    if not os.access(path, os.R_OK) or path.is_dir():
        raise MediaError("file cannot be read (check its permissions)", path=p)
    if path.stat().st_size == 0:
        raise MediaError("file is empty (0 bytes)", path=p)
    proc = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", p],
        capture_output=True,
        text=True,
        errors="replace",
    )
    err = proc.stderr
    if "Input #0" not in err:
        raise MediaError("not a readable audio or video file", path=p, stderr_tail=_tail(err))
    audio = _AUDIO.search(err)
    has_video = bool(re.search(r"Stream #\d+:\d+.*?: Video: (?!mjpeg|png)", err))
    if not audio:
        if has_video:
            raise MediaError("video has no audio track", path=p)
        raise MediaError("file has no audio track", path=p, stderr_tail=_tail(err))
    codec, rate, layout = audio.group(1), audio.group(2), (audio.group(3) or "").strip()
    channels = _LAYOUT_CHANNELS.get(layout.split("(")[0].strip(), 0)
    if not channels:
        m = re.match(r"(\d+) channels", layout)
        channels = int(m.group(1)) if m else 1
    dur = _DURATION.search(err)
    duration_s = _wav_declared_duration(path)
    if dur and duration_s is None and "Estimating duration from bitrate" not in err:
        h, m_, s = dur.groups()
        duration_s = int(h) * 3600 + int(m_) * 60 + float(s)
    return MediaInfo(
        duration_s=duration_s,
        channels=channels,
        sample_rate=int(rate) if rate else 0,
        codec=codec,
        has_video=has_video,
    )


def _wav_declared_duration(path: Path) -> float | None:
    """The duration a RIFF/WAVE header declares, read from its fmt and data chunks.

    ffmpeg reports a WAV's duration from the file size, which hides truncation; the
    header still says how much audio the file should hold.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            byte_rate = 0
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(size + (size & 1))
                    byte_rate = struct.unpack("<I", fmt[8:12])[0]
                elif cid == b"data":
                    if not byte_rate or size in (0, 0xFFFFFFFF):
                        return None  # streamed WAVs write 0 or -1 here: no claim made
                    return size / byte_rate
                else:
                    f.seek(size + (size & 1), 1)
    except (OSError, struct.error):
        return None


class Pcm:
    """A call's audio as 16-bit PCM in a file on disk, read through a memory map.

    Speaker attribution reads the audio more than once (each stereo channel, voice
    windows after transcription), so the decoded audio is kept on disk rather than in
    memory: an hour of 16 kHz stereo is 230 MB of file and almost nothing resident.
    """

    def __init__(self, path: Path, channels: int, sample_rate: int) -> None:
        self.path = path
        self.channels = channels
        self.sample_rate = sample_rate
        frames = path.stat().st_size // (2 * channels)
        self.data = (
            np.memmap(path, dtype=np.int16, mode="r", shape=(frames, channels))
            if frames else np.zeros((0, channels), dtype=np.int16)
        )

    @property
    def duration_s(self) -> float:
        return len(self.data) / self.sample_rate

    def peak(self, block_s: float = 60.0) -> float:
        """The loudest sample, 0..1, read block by block."""
        step = int(block_s * self.sample_rate)
        peak = 0
        for i in range(0, len(self.data), step):
            peak = max(peak, int(np.abs(self.data[i:i + step].astype(np.int32)).max()))
        return peak / 32768.0

    def blocks(
        self, block_s: float = 30.0, *, channel: int | None = None, gain: np.ndarray | None = None,
        gain_rate: int = 100,
    ) -> Iterator[np.ndarray]:
        """Float32 mono blocks: one ``channel``, or the average of all channels.

        ``gain`` (one value per 1/``gain_rate`` s) scales the audio, which is how the other
        party's louder stretches are muted in a stereo channel before transcription.
        """
        step = int(block_s * self.sample_rate)
        per_gain = self.sample_rate // gain_rate
        for i in range(0, len(self.data), step):
            raw = self.data[i:i + step]
            block = (raw[:, channel] if channel is not None else raw.mean(axis=1)).astype(
                np.float32) / 32768.0
            if gain is not None:
                idx = np.minimum((np.arange(i, i + len(block)) // per_gain), len(gain) - 1)
                block *= gain[idx]
            yield block

    def channel(self, c: int) -> np.ndarray:
        """Float32 samples of one channel of the whole call."""
        return self.data[:, c].astype(np.float32) / 32768.0

    def mono(self, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
        """Float32 mono samples of a stretch (the whole call by default)."""
        a = int(start_s * self.sample_rate)
        b = len(self.data) if end_s is None else int(end_s * self.sample_rate)
        return self.data[a:b].mean(axis=1).astype(np.float32) / 32768.0


def decode_pcm(src: Path, dest: Path, *, channels: int, sample_rate: int = 16000) -> Pcm:
    """Decode the first audio track to raw 16-bit PCM at ``dest`` (mono or stereo)."""
    run_ffmpeg(
        ffmpeg.input(str(src))["a:0"]
        .output(str(dest), format="s16le", acodec="pcm_s16le", ac=channels, ar=sample_rate)
        .overwrite_output()
        .get_args(),
        path=str(src),
        what="ffmpeg could not decode the file",
    )
    return Pcm(dest, channels, sample_rate)


class PlaybackCopy:
    """Encode the browser playback copy (CBR MP3, seekable) in the background.

    It runs while the call is transcribed, on the other core, so it costs almost no
    wall time; ``wait()`` checks ffmpeg's result before the call is committed.
    """

    def __init__(self, src: Path, dest: Path, *, channels: int) -> None:
        self.src = src
        cmd = (
            ffmpeg.input(str(src))["a:0"]
            .output(str(dest), format="mp3", acodec="libmp3lame",
                    audio_bitrate="64k" if channels == 1 else "96k", ac=channels, ar=24000)
            .overwrite_output()
            .compile(cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error"])
        )
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=self._stderr)

    def wait(self) -> None:
        rc = self._proc.wait()
        self._stderr.seek(0)
        err = self._stderr.read().decode("utf-8", "replace")
        self._stderr.close()
        if rc != 0:
            raise MediaError("ffmpeg could not make the playback copy", path=str(self.src),
                             stderr_tail=_tail(err))

    def cancel(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        self._proc.wait()
        self._stderr.close()
