"""Voice embeddings: the real resemblyzer weights, read without torch, on real call audio."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clipstudio import voice
from clipstudio.errors import InputError, ModelError
from conftest import SAMPLES, cut

CALL = "acme_discovery"  # mono: both voices on one channel, as diarization meets them
CLIP_S = 62.0


@pytest.fixture(scope="module")
def call_audio(tmp_path_factory) -> np.ndarray:
    """The first minute of a mono sample call, decoded by the real ffmpeg to 16 kHz float32."""
    raw = tmp_path_factory.mktemp("voice") / "clip.f32"
    cut(SAMPLES / f"{CALL}.mp3", raw, 0, CLIP_S, "-ac", "1", "-ar", "16000", "-f", "f32le")
    return np.fromfile(raw, dtype="<f4")


@pytest.fixture(scope="module")
def turns() -> list[dict]:
    """Ground-truth turns that lie wholly inside the clip."""
    truth = json.loads((SAMPLES / "truth" / f"{CALL}.json").read_text())
    return [t for t in truth["turns"] if t["end_s"] <= CLIP_S]


def test_weights_load_with_expected_shapes():
    state = voice.load_state()
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    for n in range(3):
        assert state[f"lstm.weight_hh_l{n}"].shape == (1024, 256)
        assert state[f"lstm.bias_ih_l{n}"].shape == (1024,)
        assert state[f"lstm.bias_hh_l{n}"].dtype == np.float32
    assert state["linear.weight"].shape == (256, 256)
    assert np.isfinite(state["linear.weight"]).all()

    weights = voice.load_weights()
    assert voice.load_weights() is weights  # loaded once, shared
    assert len(weights.layers) == 3
    assert weights.layers[0].w_ih_t.shape == (40, 1024)
    assert weights.linear_w_t.shape == (256, 256)


def test_missing_weights_error_names_the_install_command():
    with pytest.raises(ModelError) as info:
        voice.weights_path("clipstudio_no_such_weights_package")
    assert "pip install --no-deps resemblyzer==0.1.4" in str(info.value)


def test_mel_features_have_resemblyzers_frame_layout(call_audio):
    mel = voice.mel_spectrogram(call_audio[:16000])
    assert mel.shape == (1 + 16000 // 160, 40)
    assert mel.dtype == np.float32 and (mel >= 0).all()
    # one short window gets one zero-padded 1.6 s partial; 4 s of audio gets several
    assert voice.partial_mels(call_audio[:8000]).shape == (1, 160, 40)
    assert voice.partial_mels(call_audio[: 4 * 16000]).shape[0] == 4


def test_embeddings_are_unit_norm_and_non_negative(call_audio, turns):
    enc = voice.VoiceEncoder()
    emb = enc.embed_windows(call_audio, [(t["start_s"], t["end_s"]) for t in turns])
    assert emb.shape == (len(turns), 256) and emb.dtype == np.float32
    assert (emb >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)

    whole = enc.embed(call_audio[: 5 * 16000])
    assert whole.shape == (256,)
    assert abs(float(np.linalg.norm(whole)) - 1.0) < 1e-5
    assert enc.embed_windows(call_audio, []).shape == (0, 256)


def test_same_speaker_scores_far_above_other_speaker(call_audio, turns):
    reps = [t for t in turns if t["role"] == "rep"]
    customers = [t for t in turns if t["role"] == "customer"]
    assert len(reps) >= 2 and customers
    assert len({t["speaker"] for t in reps}) == 1
    rep_a, rep_b, cust = reps[0], reps[1], customers[0]

    # whole turns, and 1.5 s windows (the size diarization embeds) from inside them
    whole = [(t["start_s"], t["end_s"]) for t in (rep_a, rep_b, cust)]
    short = [(t["start_s"] + 0.5, t["start_s"] + 2.0) for t in (rep_a, rep_b, cust)]
    for windows, margin in ((whole, 0.25), (short, 0.15)):
        a, b, c = voice.VoiceEncoder().embed_windows(call_audio, windows)
        same, cross = float(a @ b), max(float(a @ c), float(b @ c))
        assert same > cross + margin, (windows, same, cross)


def test_windows_outside_the_audio_are_refused(call_audio):
    with pytest.raises(InputError, match="holds no audio"):
        voice.VoiceEncoder().embed_windows(call_audio, [(CLIP_S + 5, CLIP_S + 6)])
