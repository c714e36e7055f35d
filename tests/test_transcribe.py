"""Transcription: the embedded model, chunked windows, model and device choice."""

from __future__ import annotations

import jiwer
import numpy as np
import pytest

from clipstudio import ModelError
from clipstudio.media import decode_pcm
from clipstudio.transcribe import (
    EMBEDDED_MODEL,
    Transcriber,
    embedded_model_path,
    load_model,
    quietest_cut,
    resolve_device,
    resolve_model,
)
from conftest import SAMPLES, cut


@pytest.fixture(scope="module")
def forty_seconds(tmp_path_factory):
    d = tmp_path_factory.mktemp("forty")
    return cut(SAMPLES / "acme_discovery.mp3", d / "forty.wav", 0, 40, "-ac", "1")


def _words(path, chunk_s):
    pcm = decode_pcm(path, path.with_suffix(".raw"), channels=1)
    utts = Transcriber(chunk_s=chunk_s).transcribe(pcm.blocks(block_s=5), total_s=40)
    return [w for u in utts for w in u.words]


def test_chunked_transcript_matches_whole_and_keeps_the_timeline(forty_seconds):
    whole = _words(forty_seconds, chunk_s=300)
    chunked = _words(forty_seconds, chunk_s=12)  # three or four windows
    a = " ".join(w.text.lower().strip(",.?!") for w in whole)
    b = " ".join(w.text.lower().strip(",.?!") for w in chunked)
    assert jiwer.wer(a, b) < 0.08, (a, b)
    starts = [w.start_s for w in chunked]
    assert starts == sorted(starts) and starts[-1] > 30 and chunked[-1].end_s <= 40.1


def test_quietest_cut_finds_the_pause():
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.3, 16000 * 10).astype(np.float32)
    audio[16000 * 7: 16000 * 7 + 4000] = 0  # a quarter-second pause at 7 s
    cut_at = quietest_cut(audio, 16000 * 5, 16000 * 9)
    assert 16000 * 7 <= cut_at <= 16000 * 7 + 4000


def test_embedded_model_is_the_default():
    assert resolve_model(None) == resolve_model(EMBEDDED_MODEL) == embedded_model_path()
    assert load_model() is load_model(EMBEDDED_MODEL)  # loaded once per process


def test_model_errors_are_clear(tmp_path):
    with pytest.raises(ModelError, match="has no model.bin"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelError, match="not in the local model cache"):
        load_model("small.en")
    with pytest.raises(ModelError, match="unknown device"):
        resolve_device("tpu")


def test_auto_device_uses_cpu_without_a_gpu():
    import ctranslate2

    if ctranslate2.get_cuda_device_count():
        assert resolve_device("auto") == ("cuda", "float16")
    else:
        assert resolve_device("auto") == ("cpu", "int8")
        with pytest.raises(ModelError, match="sees no CUDA GPU"):
            resolve_device("cuda")
