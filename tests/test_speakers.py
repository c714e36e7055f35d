"""Speakers: stereo channels, embedded voice clustering, roles, edits, voiceprints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate

from clipstudio import Library
from clipstudio.media import decode_pcm
from clipstudio.speakers import (
    DiarizationError,
    cluster_embeddings,
    is_fake_stereo,
    stereo_gains,
)
from conftest import SAMPLES, cut

TRUTH = SAMPLES / "truth"


def truth_of(call) -> dict:
    return json.loads((TRUTH / f"{Path(call.source_name).stem}.json").read_text())


def reference(truth: dict) -> Annotation:
    ref = Annotation()
    for t in truth["turns"]:
        ref[Segment(t["start_s"], t["end_s"]), t["index"]] = t["role"]
    return ref


def hypothesis(transcript) -> Annotation:
    hyp = Annotation()
    for u in transcript.utterances:
        hyp[Segment(u.start_s, u.end_s), u.index] = u.role or "unknown"
    return hyp


def word_accuracy(transcript, truth, overlap_only: bool = False) -> tuple[int, int]:
    turns = truth["turns"]
    ok = total = 0
    for u in transcript.utterances:
        for w in u.words:
            mid = (w.start_s + w.end_s) / 2
            roles = {t["role"] for t in turns if t["start_s"] - 0.2 <= mid <= t["end_s"] + 0.2}
            if not roles or (overlap_only and len(roles) < 2):
                continue
            total += 1
            ok += u.role in roles
    return ok, total


def test_stereo_calls_attribute_every_word_to_its_channel(sample_library):
    root, _ = sample_library
    lib = Library(root)
    stereo = [c for c in lib.calls() if truth_of(c)["channels"] == "stereo"]
    assert len(stereo) >= 2
    overlap_ok = overlap_total = 0
    for call in stereo:
        assert call.diarization == "stereo"
        t = lib.transcript(call.id)
        roles = {s.role: s for s in t.speakers}
        assert set(roles) == {"rep", "customer"}
        assert roles["rep"].name == call.rep and roles["rep"].channel == 0
        ok, total = word_accuracy(t, truth_of(call))
        assert ok / total >= 0.97, (call.source_name, ok, total)
        o_ok, o_total = word_accuracy(t, truth_of(call), overlap_only=True)
        overlap_ok, overlap_total = overlap_ok + o_ok, overlap_total + o_total
    # Both parties' words survive where they talk at once (a mono mixdown loses one).
    assert overlap_total > 0 and overlap_ok == overlap_total


def test_bleed_is_muted_not_transcribed_twice(sample_library):
    """blue_river carries each party at -30 dB on the other's channel."""
    root, _ = sample_library
    lib = Library(root)
    call = next(c for c in lib.calls() if c.source_name == "blue_river_pricing.mp3")
    truth = truth_of(call)
    words = [w for u in lib.transcript(call.id).utterances for w in u.words]
    truth_words = sum(len(t["text"].split()) for t in truth["turns"])
    assert len(words) <= truth_words * 1.05  # no second copy of anyone's words


def test_mono_calls_diarized_by_voice_under_15_percent_der(sample_library):
    root, _ = sample_library
    lib = Library(root)
    metric = DiarizationErrorRate(collar=0.0)
    mono = [c for c in lib.calls() if truth_of(c)["channels"] == "mono"]
    assert len(mono) >= 2
    for call in mono:
        assert call.diarization == "embedded"
        t = lib.transcript(call.id)
        der = metric(reference(truth_of(call)), hypothesis(t), uem=None)
        assert der <= 0.15, (call.source_name, der)
        rep = next(s for s in t.speakers if s.role == "rep")
        assert rep.name == call.rep


def test_fake_stereo_is_treated_as_mono(speech_dir, tmp_path):
    dual = cut(speech_dir / "speech_a.wav", tmp_path / "dual.wav", 0, 12, "-ac", "2")
    pcm = decode_pcm(dual, tmp_path / "dual.raw", channels=2)
    assert is_fake_stereo(pcm)
    lib = Library(tmp_path / "lib")
    report = lib.ingest([dual])
    assert lib.call(report.ingested[0].call_id).diarization == "embedded"
    forced = Library(tmp_path / "lib2").ingest([dual], diarization="stereo")
    assert "both channels carry the same audio" in forced.failed[0].error


def test_stereo_gains_mute_the_quieter_bleed(tmp_path):
    src = SAMPLES / "blue_river_pricing.mp3"
    pcm = decode_pcm(src, tmp_path / "br.raw", channels=2)
    assert not is_fake_stereo(pcm)
    left, right = stereo_gains(pcm)
    truth = json.loads((TRUTH / "blue_river_pricing.json").read_text())
    customer_only = [t for t in truth["turns"] if t["role"] == "customer"
                     and not t["overlaps_previous"] and t["end_s"] - t["start_s"] > 3]
    t = customer_only[0]
    mid = slice(int((t["start_s"] + 0.5) * 100), int((t["end_s"] - 0.5) * 100))
    assert left[mid].mean() < 0.2 and right[mid].mean() > 0.9


def test_speaker_count_override_and_clustering():
    import numpy as np

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 16))
    emb = np.vstack([c + 0.05 * rng.normal(size=(10, 16)) for c in centres])
    assert len(set(cluster_embeddings(emb))) == 3
    assert len(set(cluster_embeddings(emb, num_speakers=2))) == 2
    labels = cluster_embeddings(emb)
    assert labels[0] == 0 and len(set(labels[:10])) == 1


def test_speaker_edits_persist(library_copy):
    lib = Library(library_copy)
    call = next(c for c in lib.calls() if c.source_name == "acme_discovery.mp3")
    rep, customer = sorted(lib.speakers(call.id), key=lambda s: s.role != "rep")
    renamed = lib.update_speaker(call.id, customer.id, name="Kevin Walsh", role="customer")
    assert renamed.display == "Kevin Walsh"
    t = lib.transcript(call.id)
    assert {u.speaker for u in t.utterances} == {rep.display, "Kevin Walsh"}
    first = t.utterances[0]
    lib.move_utterance(call.id, first.id, customer.id if first.role == "rep" else rep.id)
    moved = Library(library_copy).transcript(call.id).utterances[0]
    assert moved.role != first.role
    merged = lib.merge_speakers(call.id, customer.id, rep.id)
    assert [s.id for s in lib.speakers(call.id)] == [merged.id]
    assert {u.role for u in lib.transcript(call.id).utterances} == {"rep"}
    with pytest.raises(Exception, match="role must be one of"):
        lib.update_speaker(call.id, rep.id, role="boss")


def test_voiceprint_recognises_an_enrolled_rep_in_another_call(library_copy, tmp_path):
    lib = Library(library_copy)
    acme = next(c for c in lib.calls() if c.source_name == "acme_discovery.mp3")
    dana = next(s for s in lib.speakers(acme.id) if s.role == "rep")
    lib.enroll_voiceprint("Dana Lee", acme.id, dana.id)
    assert set(lib.voiceprints()) == {"Dana Lee"}
    # Her other call, as a mono recording with no manifest to say who the rep is.
    mono = cut(SAMPLES / "pine_valley_competitor.mp3", tmp_path / "pine_mono.mp3", 0, 90,
               "-ac", "1")
    report = lib.ingest([mono])
    new = lib.transcript(report.ingested[0].call_id)
    names = {s.name: s.role for s in new.speakers}
    assert names.get("Dana Lee") == "rep"


VTT = """WEBVTT

1
00:00:00.500 --> 00:00:05.000
Dana Lee: Hi Kevin, this is Dana from Summit. Thanks for making time today.

2
00:00:05.500 --> 00:00:08.000
Kevin Walsh: Yes, this works.
"""


def test_transcript_import_keeps_names_and_skips_speech_to_text(speech_dir, tmp_path):
    vtt = tmp_path / "call.vtt"
    vtt.write_text(VTT)
    lib = Library(tmp_path / "lib")
    report = lib.ingest([speech_dir / "speech_a.wav"], transcript=vtt)
    assert not report.failed, report.failed
    call = lib.call(report.ingested[0].call_id)
    assert (call.diarization, call.model) == ("import", "imported transcript")
    t = lib.transcript(call.id)
    assert [u.speaker for u in t.utterances] == ["Dana Lee", "Kevin Walsh"]
    assert [u.role for u in t.utterances] == ["rep", "customer"]  # Dana introduces herself
    words = t.utterances[0].words
    assert words[0].start_s >= 0.5 and words[-1].end_s <= 5.0

    long = tmp_path / "long.srt"
    long.write_text("1\n00:00:01,000 --> 00:01:30,000\nSpeaker 1: far too long\n")
    bad = Library(tmp_path / "lib2").ingest([speech_dir / "speech_b.wav"], transcript=long)
    assert "runs to 90.0 s but the recording is only 12.0 s long" in str(bad.failed[0].error)


def test_cli_exports_vtt_and_srt_and_edits_speakers(sample_library, tmp_path):
    root, _ = sample_library
    exe = Path(sys.executable).parent / "clipstudio"

    def cli(*args):
        r = subprocess.run([str(exe), *args, "--library", str(root)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    call = json.loads(cli("calls", "--json"))[0]
    vtt = cli("transcript", str(call["call_id"]), "--format", "vtt")
    assert vtt.startswith("WEBVTT") and f"<v {call['rep']}>" in vtt
    srt = cli("transcript", str(call["call_id"]), "--format", "srt")
    assert f"{call['rep']}: " in srt and " --> " in srt
    speakers = json.loads(cli("speakers", str(call["call_id"]), "--json"))
    assert {s["role"] for s in speakers} == {"rep", "customer"}
    assert all(s["talk_s"] > 10 for s in speakers)


def test_pyannote_without_the_extra_fails_before_any_work(tmp_path, speech_dir, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("pyannote.audio") is not None:
        pytest.skip("pyannote.audio is installed here")
    monkeypatch.setenv("CLIPSTUDIO_PYANNOTE_PIPELINE", str(tmp_path / "pipeline"))
    lib = Library(tmp_path / "lib")
    with pytest.raises(DiarizationError, match=r"pip install \"clipstudio\[pyannote\]\""):
        lib.ingest([speech_dir / "speech_a.wav"], diarization="pyannote")
    assert lib.calls() == []
    # auto never picks a pyannote that is not installed, even when one is configured
    report = lib.ingest([speech_dir / "speech_a.wav"])
    assert lib.call(report.ingested[0].call_id).diarization == "embedded"


def test_rep_profiles(library_copy):
    lib = Library(library_copy)
    rep = lib.update_rep("Tom Baker", team="Mid-market", a_player=True)
    assert (rep["team"], rep["a_player"], rep["calls"]) == ("Mid-market", 1, 1)
    assert all(c.a_player for c in lib.calls(rep="Tom Baker"))
    assert lib.update_rep("New Hire")["calls"] == 0


def _concat(parts: list[Path], dest: Path) -> Path:
    from clipstudio.media import run_ffmpeg

    args = []
    for p in parts:
        args += ["-i", str(p)]
    inputs = "".join(f"[{i}:a]" for i in range(len(parts)))
    run_ffmpeg(["-y", *args, "-filter_complex", f"{inputs}concat=n={len(parts)}:v=0:a=1",
                "-ac", "2", str(dest)])
    return dest


def test_stretches_where_both_channels_carry_the_same_sound_are_transcribed_once(tmp_path):
    stereo = cut(SAMPLES / "pine_valley_competitor.mp3", tmp_path / "a.wav", 0, 45, "-ac", "2")
    doubled = cut(SAMPLES / "acme_discovery.mp3", tmp_path / "b.wav", 0, 15, "-ac", "2")
    mixed = _concat([stereo, doubled], tmp_path / "mixed.wav")
    lib = Library(tmp_path / "lib")
    call_id = lib.ingest([mixed]).ingested[0].call_id
    assert lib.call(call_id).diarization == "stereo"
    tail = [w for u in lib.transcript(call_id).utterances for w in u.words if w.start_s > 45.5]
    texts = " ".join(w.text.lower() for w in tail)
    assert texts.count("summit") == 1, texts  # "...this is Dana from Summit" once, not twice

    mostly_doubled = _concat(
        [cut(SAMPLES / "acme_discovery.mp3", tmp_path / "c.wav", 0, 40, "-ac", "2"),
         cut(SAMPLES / "pine_valley_competitor.mp3", tmp_path / "d.wav", 0, 10, "-ac", "2")],
        tmp_path / "mostly.wav")
    pcm = decode_pcm(mostly_doubled, tmp_path / "m.raw", channels=2)
    assert is_fake_stereo(pcm)
