"""Voice embeddings for speaker diarization, in NumPy, from resemblyzer's pretrained weights.

Mono calls hold both speakers on one channel, so telling the rep from the customer needs a
"who is speaking" vector per stretch of speech. resemblyzer's VoiceEncoder (a GE2E 3-layer
LSTM, Apache-2.0) is small and good at this, and its wheel carries the trained weights
(``resemblyzer/pretrained.pt``, 17 MB). Its Python code, however, imports torch, and
``pip install resemblyzer`` would pull a multi-GB torch into a laptop install. So ClipStudio
installs it with ``pip install --no-deps resemblyzer==0.1.4`` purely to get that file,
never imports it, and re-implements the three pieces that matter here:

* a reader for torch's legacy (pre-1.6, non-zip) pickle format, with a restricted
  unpickler that only knows the handful of names such a checkpoint uses, so loading the
  weights cannot run arbitrary code and needs no torch;
* the mel features of ``resemblyzer.audio.wav_to_mel_spectrogram`` (librosa's
  ``melspectrogram``: 25 ms Hann windows, 10 ms hop, 40 Slaney mel bands, power 2,
  centred frames with zero padding as librosa >= 0.10 does by default);
* the LSTM forward pass, batched over every 1.6 s partial of every window at once so that
  each time step is one matrix product for the whole call.

resemblyzer's webrtcvad silence trimming is deliberately left out: callers hand in speech
windows that were already found by the transcriber.
"""

from __future__ import annotations

import importlib.util
import io
import math
import pickle
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ModelError

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms analysis window
HOP = 160  # 10 ms between frames
N_MELS = 40
PARTIAL_FRAMES = 160  # one partial utterance: 1.6 s of frames
HIDDEN = 256
EMBED_DIM = 256
N_LAYERS = 3
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1
PARTIAL_RATE = 1.3  # partials per second, resemblyzer's embed_utterance default
MIN_COVERAGE = 0.75  # keep a zero-padded last partial only if it is this full
MAX_BATCH = 256  # partials run through the LSTM together (bounds the memory per pass)

WEIGHTS_PACKAGE = "resemblyzer"
INSTALL_HINT = "pip install --no-deps resemblyzer==0.1.4"

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# ---------------------------------------------------------------------------------------------
# Locating and reading the weights
# ---------------------------------------------------------------------------------------------


def weights_path(package: str = WEIGHTS_PACKAGE) -> Path:
    """Where ``pretrained.pt`` lives inside the installed package, found without importing it.

    Importing resemblyzer would import torch, which ClipStudio does not install; asking the
    import system where the package's folder is costs nothing and needs neither.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / "pretrained.pt"
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(folders)})" if folders else ""
    raise ModelError(
        f"The voice-encoder weights (package {package!r}, file pretrained.pt) are not "
        f"installed{where}. Install them with: {INSTALL_HINT}"
    )


@dataclass(frozen=True)
class _StorageRef:
    """A placeholder for a torch storage: its data only follows the pickle in the file."""

    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    """What ``torch._utils._rebuild_tensor_v2`` was asked to build, resolved after the pickle."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """Stand-in for a ``torch.XxxStorage`` class; only its element type matters."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor_v2(
    storage: _StorageRef,
    storage_offset: int,
    size: Sequence[int],
    stride: Sequence[int],
    requires_grad: bool = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> _TensorRef:
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


class _LegacyTorchUnpickler(pickle.Unpickler):
    """Unpickles a legacy torch checkpoint into stand-ins, refusing every other global.

    A torch pickle can name any callable; an allow-list keeps loading the weights file from
    being a way to run code, and the stand-ins mean torch is never needed.
    """

    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise ModelError(f"Unexpected object {module}.{name} in the voice-encoder weights file")

    def persistent_load(self, pid: Any) -> _StorageRef:
        # ('storage', storage_type, key, location, numel, view_metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise ModelError(f"Unexpected persistent id {pid!r} in the voice-encoder weights")
        _, storage_type, key, _location, numel, view = pid
        if view is not None:
            raise ModelError("Storage views are not supported in the voice-encoder weights")
        if key not in self.storages:
            self.storages[key] = _StorageRef(str(key), storage_type.dtype, int(numel))
        return self.storages[key]


def read_legacy_torch(path: Path) -> dict[str, Any]:
    """Read a checkpoint saved by ``torch.save`` before torch 1.6 (the non-zip format).

    The file is: magic number, protocol version and sys-info pickles; the main pickle, whose
    tensors point at storages by key; a pickled list of storage keys; then, per key in that
    order, an int64 element count and the raw little-endian data. Tensors come back as NumPy
    arrays (copies, so the 17 MB file buffer is not kept alive).
    """
    data = path.read_bytes()
    view = memoryview(data)
    stream = io.BytesIO(data)
    try:
        magic = pickle.load(stream)
        protocol = pickle.load(stream)
        sys_info = pickle.load(stream)
    except Exception as exc:  # any failure here means "not this format"
        raise ModelError(f"{path} is not a legacy torch checkpoint: {exc}") from exc
    if magic != _LEGACY_MAGIC or protocol != _LEGACY_PROTOCOL:
        raise ModelError(f"{path} is not a legacy torch checkpoint (zip format or corrupt)")
    if not sys_info.get("little_endian", False):
        raise ModelError(f"{path} was saved on a big-endian machine; not supported")

    unpickler = _LegacyTorchUnpickler(stream)
    checkpoint = unpickler.load()
    keys = pickle.load(stream)

    arrays: dict[str, np.ndarray] = {}
    pos = stream.tell()
    for key in keys:
        ref = unpickler.storages.get(key)
        numel = int(np.frombuffer(view[pos : pos + 8], dtype="<i8")[0])
        pos += 8
        if ref is None:
            raise ModelError(f"{path}: storage {key} has data but no tensor uses it")
        if numel != ref.numel:
            raise ModelError(f"{path}: storage {key} holds {numel} values, expected {ref.numel}")
        nbytes = numel * ref.dtype.itemsize
        if pos + nbytes > len(data):
            raise ModelError(f"{path} is truncated")
        arrays[key] = np.frombuffer(view[pos : pos + nbytes], dtype=ref.dtype.newbyteorder("<"))
        pos += nbytes

    def resolve(obj: Any) -> Any:
        if isinstance(obj, _TensorRef):
            flat = arrays[obj.storage.key]
            item = flat.itemsize
            strided = np.lib.stride_tricks.as_strided(
                flat[obj.offset :], shape=obj.shape, strides=[s * item for s in obj.stride]
            )
            return np.array(strided, dtype=flat.dtype.newbyteorder("="))
        if isinstance(obj, dict):
            return type(obj)((k, resolve(v)) for k, v in obj.items())
        if isinstance(obj, list | tuple):
            return type(obj)(resolve(v) for v in obj)
        return obj

    return resolve(checkpoint)


@dataclass(frozen=True)
class LstmLayer:
    """One LSTM layer, with gates reordered to (i, f, o, g) so i/f/o share one sigmoid.

    ``w_ih_t`` is (input, 4*hidden) and ``w_hh_t`` (hidden, 4*hidden): transposed once at
    load time so the per-step products need no transposes. ``bias`` is bias_ih + bias_hh.
    """

    w_ih_t: np.ndarray
    w_hh_t: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class VoiceWeights:
    """The encoder's parameters as float32 arrays, ready for :func:`forward`."""

    layers: tuple[LstmLayer, ...]
    linear_w_t: np.ndarray  # (hidden, embed)
    linear_b: np.ndarray  # (embed,)
    source: Path


def _ifog(rows: np.ndarray) -> np.ndarray:
    """PyTorch stacks gate rows as (i, f, g, o); move g last."""
    i, f, g, o = np.split(rows, 4, axis=0)
    return np.concatenate([i, f, o, g], axis=0)


def _weights_from_state(state: dict[str, np.ndarray], source: Path) -> VoiceWeights:
    expected = {
        "linear.weight": (EMBED_DIM, HIDDEN),
        "linear.bias": (EMBED_DIM,),
    }
    for n in range(N_LAYERS):
        width = N_MELS if n == 0 else HIDDEN
        expected |= {
            f"lstm.weight_ih_l{n}": (4 * HIDDEN, width),
            f"lstm.weight_hh_l{n}": (4 * HIDDEN, HIDDEN),
            f"lstm.bias_ih_l{n}": (4 * HIDDEN,),
            f"lstm.bias_hh_l{n}": (4 * HIDDEN,),
        }
    for name, shape in expected.items():
        got = getattr(state.get(name), "shape", None)
        if got != shape:
            raise ModelError(f"{source}: {name} has shape {got}, expected {shape}")

    def f32(name: str) -> np.ndarray:
        return np.asarray(state[name], dtype=np.float32)

    layers = tuple(
        LstmLayer(
            w_ih_t=np.ascontiguousarray(_ifog(f32(f"lstm.weight_ih_l{n}")).T),
            w_hh_t=np.ascontiguousarray(_ifog(f32(f"lstm.weight_hh_l{n}")).T),
            bias=_ifog(f32(f"lstm.bias_ih_l{n}") + f32(f"lstm.bias_hh_l{n}")),
        )
        for n in range(N_LAYERS)
    )
    return VoiceWeights(
        layers=layers,
        linear_w_t=np.ascontiguousarray(f32("linear.weight").T),
        linear_b=f32("linear.bias"),
        source=source,
    )


def load_state(path: Path | None = None) -> dict[str, np.ndarray]:
    """The raw ``model_state`` of the checkpoint (PyTorch names and layouts), for inspection."""
    path = path or weights_path()
    checkpoint = read_legacy_torch(path)
    state = checkpoint.get("model_state") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ModelError(f"{path} has no model_state; not a resemblyzer checkpoint")
    return dict(state)


_weights_lock = threading.Lock()
_weights_cache: dict[Path, VoiceWeights] = {}


def load_weights(path: Path | None = None) -> VoiceWeights:
    """Load (once per process, whichever thread asks first) the encoder weights."""
    path = (path or weights_path()).resolve()
    with _weights_lock:
        cached = _weights_cache.get(path)
        if cached is None:
            cached = _weights_from_state(load_state(path), path)
            _weights_cache[path] = cached
        return cached


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, log above."""
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    above = hz >= min_log_hz
    mels = np.where(above, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep,
                    mels)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)),
                    f_sp * mels)


def _build_mel_filterbank() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40), Slaney scale and area norm."""
    fft_freqs = np.fft.rfftfreq(N_FFT, d=1.0 / SAMPLE_RATE)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(
        np.array(SAMPLE_RATE / 2.0)), N_MELS + 2))
    fdiff = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_MEL_BASIS = _build_mel_filterbank()  # (40, 201)
_HANN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram, as ``resemblyzer.audio.wav_to_mel_spectrogram``.

    Frames are centred on every 10 ms sample (the signal is zero-padded by half a window on
    each side, librosa's default since 0.10), so there are ``1 + len(wav) // 160`` of them.
    Not log-compressed: the network was trained on linear power.
    """
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    padded = np.pad(wav, N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP] * _HANN
    spec = np.fft.rfft(frames, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    return power @ _MEL_BASIS.T


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise quiet audio to ``target_dbfs`` RMS (never lower it), as resemblyzer's preprocessing.

    The features are linear power, so the network saw -30 dBFS-or-louder speech in training;
    a quiet phone line would otherwise look like a different voice. Silence stays silence.
    """
    wav = np.asarray(wav, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) * INT16_MAX if wav.size else 0.0
    if rms <= 0.0:
        return wav
    change_db = target_dbfs - 20 * math.log10(rms / INT16_MAX)
    if change_db <= 0:
        return wav
    return (wav * (10 ** (change_db / 20))).astype(np.float32)


def partial_slices(n_samples: int) -> list[slice]:
    """Frame ranges of the 1.6 s partials covering ``n_samples``, as resemblyzer cuts them.

    Partials start every ~0.77 s (1.3 per second); the last one is kept, zero-padded, only
    if at least 75% of it is real audio, and a clip shorter than one partial gets exactly
    one (zero-padded). Ranges may run past the audio's frames: pad the audio to
    ``slices[-1].stop * HOP`` samples first.
    """
    n_frames = math.ceil((n_samples + 1) / HOP)
    frame_step = round((SAMPLE_RATE / PARTIAL_RATE) / HOP)
    steps = max(1, n_frames - PARTIAL_FRAMES + frame_step + 1)
    slices = [slice(i, i + PARTIAL_FRAMES) for i in range(0, steps, frame_step)]
    last_start = slices[-1].start * HOP
    coverage = (n_samples - last_start) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(slices) > 1:
        slices.pop()
    return slices


def partial_mels(wav: np.ndarray) -> np.ndarray:
    """(n_partials, 160, 40) features of one utterance, as ``embed_utterance`` builds them."""
    slices = partial_slices(len(wav))
    need = slices[-1].stop * HOP
    if need >= len(wav):
        wav = np.pad(wav, (0, need - len(wav)))
    mel = mel_spectrogram(wav)
    return np.stack([mel[s] for s in slices])


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------


def _lstm_layer(x: np.ndarray, layer: LstmLayer, keep_sequence: bool) -> np.ndarray:
    """Run one layer over time-major ``x`` (T, B, in); return all h (T, B, H) or the last h.

    The input projection of every time step is one large matrix product up front; the loop
    over time then does one (B, H) x (H, 4H) product plus in-place gate arithmetic, reusing
    buffers so a step allocates nothing.
    """
    steps, batch, width = x.shape
    gates_x = (x.reshape(steps * batch, width) @ layer.w_ih_t).reshape(steps, batch, 4 * HIDDEN)
    gates_x += layer.bias
    h = np.zeros((batch, HIDDEN), dtype=np.float32)
    c = np.zeros((batch, HIDDEN), dtype=np.float32)
    gates = np.empty((batch, 4 * HIDDEN), dtype=np.float32)
    tmp = np.empty((batch, HIDDEN), dtype=np.float32)
    out = np.empty((steps, batch, HIDDEN), dtype=np.float32) if keep_sequence else None
    sig = gates[:, : 3 * HIDDEN]
    i_g, f_g, o_g = (gates[:, k * HIDDEN : (k + 1) * HIDDEN] for k in range(3))
    g_g = gates[:, 3 * HIDDEN :]
    for t in range(steps):
        np.matmul(h, layer.w_hh_t, out=gates)
        gates += gates_x[t]
        # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5: one transcendental, no overflow
        sig *= 0.5
        np.tanh(sig, out=sig)
        sig *= 0.5
        sig += 0.5
        np.tanh(g_g, out=g_g)
        c *= f_g
        np.multiply(i_g, g_g, out=tmp)
        c += tmp
        np.tanh(c, out=tmp)
        np.multiply(o_g, tmp, out=h)
        if out is not None:
            out[t] = h
    return out if out is not None else h


def forward(mels: np.ndarray, weights: VoiceWeights) -> np.ndarray:
    """Embeddings (B, 256) of a batch of (B, frames, 40) mel windows, like VoiceEncoder.forward.

    Final hidden state of the last LSTM layer -> linear -> ReLU -> L2 normalise. A row that
    ReLU zeroes entirely (only pathological inputs) stays zero instead of becoming NaN.
    """
    mels = np.asarray(mels, dtype=np.float32)
    if mels.ndim != 3 or mels.shape[2] != N_MELS:
        raise InputError(f"mel batch must be (batch, frames, {N_MELS}), got {mels.shape}")
    if len(mels) == 0:
        return np.zeros((0, EMBED_DIM), dtype=np.float32)
    results = []
    for start in range(0, len(mels), MAX_BATCH):
        x = np.ascontiguousarray(mels[start : start + MAX_BATCH].transpose(1, 0, 2))
        for n, layer in enumerate(weights.layers):
            x = _lstm_layer(x, layer, keep_sequence=n < len(weights.layers) - 1)
        raw = np.maximum(x @ weights.linear_w_t + weights.linear_b, 0.0)
        results.append(raw)
    raw = np.concatenate(results)
    return _unit_rows(raw)


def _unit_rows(raw: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(raw, axis=-1, keepdims=True)
    return (raw / np.where(norms > 0, norms, 1.0)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


class VoiceEncoder:
    """resemblyzer's speaker encoder without torch: audio windows in, 256-d voice vectors out.

    Vectors are non-negative and unit length, so the dot product of two of them is their
    cosine similarity (in [0, 1]); same-speaker pairs score clearly higher than
    different-speaker pairs. Audio must be 16 kHz mono float32 in [-1, 1].
    Instances are cheap: the weights are loaded once per process and shared.
    """

    def __init__(self, weights: VoiceWeights | None = None) -> None:
        self.weights = weights if weights is not None else load_weights()

    def embed_windows(
        self, audio: np.ndarray, windows: Sequence[tuple[float, float]]
    ) -> np.ndarray:
        """One (n, 256) row per ``(start_s, end_s)`` window of ``audio``.

        Each window is treated as resemblyzer's ``embed_utterance`` treats a clip: volume
        raised to -30 dBFS if quieter, cut into 1.6 s partials (one zero-padded partial if
        shorter), partial embeddings averaged and re-normalised. All partials of all
        windows go through the network together, which is what makes a whole call fast.
        """
        audio = _check_audio(audio)
        batches: list[np.ndarray] = []
        owners: list[int] = []
        for index, (start_s, end_s) in enumerate(windows):
            lo = max(0, round(float(start_s) * SAMPLE_RATE))
            hi = min(len(audio), round(float(end_s) * SAMPLE_RATE))
            if hi <= lo:
                raise InputError(
                    f"voice window {index} ({start_s:.2f}-{end_s:.2f} s) holds no audio "
                    f"(audio is {len(audio) / SAMPLE_RATE:.2f} s long)"
                )
            mels = partial_mels(normalize_volume(audio[lo:hi]))
            batches.append(mels)
            owners.extend([index] * len(mels))
        if not batches:
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        partials = forward(np.concatenate(batches), self.weights)
        sums = np.zeros((len(batches), EMBED_DIM), dtype=np.float64)
        np.add.at(sums, np.asarray(owners), partials)
        return _unit_rows(sums)  # mean then L2 == L2 of the sum

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """The (256,) voice vector of a whole clip (one speaker expected), as embed_utterance."""
        audio = _check_audio(audio)
        if len(audio) == 0:
            raise InputError("cannot embed an empty clip")
        return self.embed_windows(audio, [(0.0, len(audio) / SAMPLE_RATE)])[0]


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise InputError(f"voice audio must be 1-D 16 kHz mono, got shape {audio.shape}")
    return audio
