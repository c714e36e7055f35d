"""ffmpeg: binary choice, probing, atomic writes, decoding with a playback copy."""

from __future__ import annotations

import os
import shutil

import imageio_ffmpeg
import numpy as np
import pytest
from pydub import AudioSegment

from clipstudio import MediaError
from clipstudio.media import (
    PlaybackCopy,
    decode_pcm,
    ffmpeg_exe,
    probe,
    remove_stale_temp_files,
    run_ffmpeg,
)
from conftest import cut


def test_ffmpeg_binary_is_system_one_else_bundled_and_shared_with_pydub():
    expected = (os.environ.get("CLIPSTUDIO_FFMPEG") or shutil.which("ffmpeg")
                or imageio_ffmpeg.get_ffmpeg_exe())
    assert ffmpeg_exe() == expected
    assert AudioSegment.converter == expected
    assert os.access(expected, os.X_OK)


def test_probe_reads_duration_channels_and_codec(speech_dir, tmp_path):
    info = probe(speech_dir / "speech_a.wav")
    assert info.channels == 1 and info.sample_rate == 16000 and info.codec == "pcm_s16le"
    assert info.duration_s == pytest.approx(12.0, abs=0.05)
    stereo = cut(speech_dir / "speech_a.wav", tmp_path / "st.flac", 0, 5, "-ac", "2")
    info = probe(stereo)
    assert (info.channels, info.codec) == (2, "flac")
    assert info.duration_s == pytest.approx(5.0, abs=0.05)


@pytest.mark.parametrize("content, reason", [
    (b"", "file is empty"),
    (b"ID3 this is not really an mp3" * 20, "not a readable audio or video file"),
])
def test_probe_rejects_unusable_files(tmp_path, content, reason):
    f = tmp_path / "bad.mp3"
    f.write_bytes(content)
    with pytest.raises(MediaError, match=reason) as info:
        probe(f)
    assert info.value.path == str(f)


def test_run_ffmpeg_error_carries_stderr_tail(tmp_path):
    with pytest.raises(MediaError) as info:
        run_ffmpeg(["-i", str(tmp_path / "missing.wav"), str(tmp_path / "out.wav")])
    assert "No such file or directory" in info.value.stderr_tail
    assert "No such file" in str(info.value)


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / ".tmp-999999999-abc.mp3"
    alive = tmp_path / f".tmp-{os.getpid()}-def.mp3"
    kept = tmp_path / "call.mp3"
    for f in (dead, alive, kept):
        f.write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, kept.name])


def test_decode_pcm_blocks_channels_and_a_playback_copy(speech_dir, tmp_path):
    src = cut(speech_dir / "speech_a.wav", tmp_path / "st.flac", 0, 12, "-ac", "2")
    copy = PlaybackCopy(src, tmp_path / "play.mp3", channels=2)
    pcm = decode_pcm(src, tmp_path / "pcm.raw", channels=2)
    copy.wait()
    assert pcm.duration_s == pytest.approx(12.0, abs=0.01) and pcm.channels == 2
    blocks = list(pcm.blocks(block_s=5))
    assert [len(b) for b in blocks] == [80000, 80000, 32000]
    assert all(b.dtype.name == "float32" and b.ndim == 1 for b in blocks)
    assert 0.05 < pcm.peak() <= 1.0
    gain = np.zeros(1200, dtype=np.float32)  # mute everything
    assert max(float(np.abs(b).max()) for b in pcm.blocks(channel=1, gain=gain)) == 0.0
    info = probe(tmp_path / "play.mp3")
    assert (info.codec, info.channels) == ("mp3", 2)
    assert info.duration_s == pytest.approx(12.0, abs=0.1)


def test_decode_and_playback_failures_carry_ffmpeg_detail(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk" * 10)
    with pytest.raises(MediaError, match="ffmpeg could not decode") as info:
        decode_pcm(bad, tmp_path / "pcm.raw", channels=1)
    assert info.value.stderr_tail and info.value.path == str(bad)
    copy = PlaybackCopy(bad, tmp_path / "play.mp3", channels=1)
    with pytest.raises(MediaError, match="could not make the playback copy"):
        copy.wait()
