"""Clips cut from the sample calls with the real ffmpeg, checked by ear's proxies: the
decoded duration, ebur128 loudness, and the real model transcribing the clip again."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from clipstudio import Library
from clipstudio import clips as C
from clipstudio.cli import main
from clipstudio.errors import InputError, MediaError, NotFoundError
from clipstudio.media import ffmpeg_exe, probe, run_ffmpeg
from clipstudio.transcribe import Transcriber
from conftest import SAMPLES

PRICE = "Objection handling: price"


def decode(path: str | Path, rate: int = 16000, channels: int = 1) -> np.ndarray:
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le",
                          "-ac", str(channels), "-ar", str(rate), "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.int16).reshape(-1, channels).astype(np.float32) / 32768


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9$ ]", "", text.lower())


def heard(path: str | Path) -> str:
    """What the real model hears in a clip file."""
    audio = decode(path)[:, 0]
    utts = Transcriber().transcribe([audio], total_s=len(audio) / 16000)
    return norm(" ".join(u.text for u in utts))


def call_by_title(lib: Library, fragment: str):
    return next(c for c in lib.calls() if fragment in c.title)


def price_hit(lib: Library, fragment: str):
    call = call_by_title(lib, fragment)
    result = lib.search('"too expensive"', role="customer", call_id=call.id)
    assert result.hits, "the sample call's price objection is not found"
    return call, result.hits[0]


@pytest.fixture
def lib(library_copy) -> Library:
    return Library(library_copy)


def clip_files(lib: Library) -> list[str]:
    return sorted(p.name for p in (lib.root / "clips").glob("*")) if (
        lib.root / "clips").exists() else []


# snapping (pure) ------------------------------------------------------------------------

def words(*spans: tuple[float, float]) -> list[C.CallWord]:
    return [C.CallWord(i, f"w{i}", a, b, "S", "rep") for i, (a, b) in enumerate(spans)]


def test_snap_takes_whole_words_and_pads_into_gaps_only():
    ws = words((1.0, 1.4), (1.5, 2.0), (2.1, 2.6), (4.0, 4.5))
    span = C.snap(ws, 1.7, 2.2, duration_s=10)  # starts inside w1, ends inside w2
    assert (span.first_word, span.last_word) == (1, 2)
    assert span.start_s == pytest.approx(1.45)  # pad 0.3 would cut w0: stop mid-gap
    assert span.end_s == pytest.approx(3.1)  # 0.5 of padding fits in the gap before w3
    span = C.snap(ws, 0.0, 1.2, duration_s=10)
    assert span.start_s == pytest.approx(0.7) and span.first_word == 0
    span = C.snap(ws, 4.1, 4.6, duration_s=4.6)
    assert span.end_s == pytest.approx(4.6)  # clamped to the end of the call


def test_snap_pulls_in_overlapping_words_of_the_other_party():
    ws = [C.CallWord(0, "rep", 1.0, 2.0, "Rep", "rep"),
          C.CallWord(1, "cust", 1.8, 3.0, "Cust", "customer"),
          C.CallWord(2, "rep2", 2.9, 3.5, "Rep", "rep")]
    span = C.snap(ws, 0.9, 1.9, duration_s=10, pad_before_s=0, pad_after_s=0)
    assert (span.start_s, span.end_s) == (1.0, 3.5)  # cust overlaps, rep2 overlaps cust
    assert (span.first_word, span.last_word) == (0, 2)


def test_snap_refuses_a_range_without_words():
    with pytest.raises(InputError, match="no words between"):
        C.snap(words((1.0, 1.4)), 2.0, 3.0, duration_s=10)


def test_parse_ranges():
    assert C.parse_ranges("12-14, 20 3-1") == [(1, 3), (12, 14), (20, 20)]
    with pytest.raises(InputError, match="not a word index"):
        C.parse_ranges("12-x")


# cutting --------------------------------------------------------------------------------

def test_price_objection_clip_is_clean_normalised_and_tagged(lib):
    call, hit = price_hit(lib, "Maple Health")
    clip = C.make_clip(lib, call.id, start_s=hit.start_s, end_s=hit.end_s, skills=[PRICE],
                       rating="poor", notes="discounts straight away")
    assert Path(clip.path).is_file() and Path(clip.path).parent == lib.root / "clips"
    assert clip.start_s <= hit.start_s and clip.end_s >= hit.end_s
    cw = C.call_words(lib, call.id)
    for w in cw:  # no word of the call is cut by either boundary
        assert not w.start_s < clip.start_s < w.end_s
        assert not w.start_s < clip.end_s < w.end_s
    audio = decode(clip.path, rate=44100)
    assert abs(len(audio) / 44100 - clip.duration_s) <= 0.020
    loud = C.loudness(Path(clip.path))
    assert abs(loud.integrated_lufs - C.TARGET_LUFS) <= 1.0
    assert loud.true_peak_db <= C.TARGET_TP_DB + 0.5  # the ceiling, give or take the codec
    lines = C.clip_transcript(lib, clip)
    text = " ".join(line.text for line in lines)
    assert "too expensive" in text
    assert all(line.role == "customer" for line in lines)
    first, last = norm(lines[0].words[0].text), norm(lines[-1].words[-1].text)
    spoken = heard(clip.path)
    assert spoken.split()[0] == first and last in spoken.split()[-2:]
    assert clip.skills == (PRICE,) and clip.rating == "poor" and not clip.a_player
    assert clip.rep == "Tom Baker" and clip.notes == "discounts straight away"
    assert [c.id for c in C.list_clips(lib, skill=PRICE.lower())] == [clip.id]
    assert C.list_clips(lib, rating="good") == []
    assert [c.id for c in C.list_clips(lib, rep="Tom Baker", rating="poor")] == [clip.id]
    assert not [p for p in (lib.root / "clips").iterdir() if p.name.startswith(".tmp")]


def test_word_range_clip_and_a_player_from_profile(lib):
    call, hit = price_hit(lib, "Blue River")
    idx = [w.index for w in C.call_words(lib, call.id) if hit.start_s <= w.start_s < hit.end_s]
    clip = C.make_clip(lib, call.id, start_word=idx[0], end_word=idx[-1],
                       skills=[PRICE], rating="good")
    assert (clip.first_word, clip.last_word) == (idx[0], idx[-1])
    assert clip.a_player and clip.rep == "Marcus Reed"
    assert clip.title.startswith("\u201c") and "Blue River" in clip.title
    lib.update_rep("Marcus Reed", a_player=False)  # read live from the profile
    assert not C.get_clip(lib, clip.id).a_player


def test_stereo_call_is_mixed_to_mono_unless_asked(lib):
    call = call_by_title(lib, "Blue River")
    assert call.channels == 2
    mono = C.make_clip(lib, call.id, start_s=20, end_s=30)
    kept = C.make_clip(lib, call.id, start_s=20, end_s=30, stereo=True, fmt_name="wav")
    assert probe(Path(mono.path)).channels == 1 and not mono.stereo
    assert probe(Path(kept.path)).channels == 2 and kept.stereo
    assert {s.role for s in mono.speakers} == {"rep", "customer"}


@pytest.mark.parametrize("fmt_name,codec", [("m4a", "aac"), ("opus", "opus"),
                                            ("wav", "pcm_s16le")])
def test_formats(lib, fmt_name, codec):
    call = call_by_title(lib, "Acme")
    clip = C.make_clip(lib, call.id, start_s=10, end_s=20, fmt_name=fmt_name)
    assert clip.path.endswith("." + fmt_name)
    assert probe(Path(clip.path)).codec == codec
    loud = C.loudness(Path(clip.path))
    assert abs(loud.integrated_lufs - C.TARGET_LUFS) <= 1.0
    assert loud.true_peak_db <= C.TARGET_TP_DB + 0.5


def test_balanced_mono_levels_a_quiet_party(tmp_path):
    """Left: loud speech then silence; right: silence then the same speech 20 dB down."""
    speech = tmp_path / "speech.wav"
    run_ffmpeg(["-y", "-ss", "10", "-t", "4", "-i", str(SAMPLES / "acme_discovery.mp3"),
                "-ac", "1", "-ar", "16000", str(speech)])
    stereo = tmp_path / "stereo.wav"
    run_ffmpeg(["-y", "-i", str(speech), "-filter_complex",
                "[0:a]asplit[a][b];[a]apad=pad_dur=4[l];"
                "[b]volume=-20dB,adelay=4000[r];[l][r]join=inputs=2:channel_layout=stereo",
                "-t", "8", str(stereo)])
    out = tmp_path / "out.wav"
    C.render(stereo, out, start_s=0, end_s=8, channels=2, sample_rate=16000, fmt_name="wav")
    audio = decode(out)[:, 0]
    first, second = audio[: 4 * 16000], audio[4 * 16000:]
    ratio_db = 20 * np.log10(np.sqrt((first ** 2).mean()) / np.sqrt((second ** 2).mean()))
    assert abs(ratio_db) < 2.0  # both parties at the same level
    plain = tmp_path / "plain.wav"  # without balancing the quiet half stays 20 dB down
    run_ffmpeg(["-y", "-i", str(stereo), "-ac", "1", str(plain)])
    p = decode(plain)[:, 0]
    assert 20 * np.log10(np.sqrt((p[:64000] ** 2).mean()) / np.sqrt((p[64000:] ** 2).mean())) > 15


@pytest.mark.parametrize("bleep", [True, False])
def test_redaction_removes_words_from_audio_and_text(lib, bleep):
    call, hit = price_hit(lib, "Blue River")
    cw = [w for w in C.call_words(lib, call.id) if hit.start_s <= w.start_s < hit.end_s]
    target = next(w for w in cw if norm(w.text) == "expensive")
    clip = C.make_clip(lib, call.id, start_s=hit.start_s, end_s=hit.end_s,
                       redact=f"{target.index}", bleep=bleep)
    assert clip.redactions == ((target.index, target.index),)
    text = " ".join(line.text for line in C.clip_transcript(lib, clip))
    assert "expensive" not in text.lower() and C.REDACTED in text
    assert "too" in text.lower()  # only the chosen word is masked
    spoken = heard(clip.path).split()
    assert "expensive" not in spoken and "price" in spoken and "budget" in spoken
    data = C.clip_json(lib, clip)
    assert "expensive" not in json.dumps(data).lower()


# bad input ------------------------------------------------------------------------------

def test_bad_bounds_are_refused_and_leave_nothing(lib):
    call = call_by_title(lib, "Acme")
    cases = [
        (dict(start_s=30, end_s=20), "must be after the start"),
        (dict(start_s=30, end_s=30), "must be after the start"),
        (dict(start_s=-5, end_s=10), "outside the call"),
        (dict(start_s=10, end_s=call.duration_s + 60), "outside the call"),
        (dict(start_word=10, end_word=5), "comes before"),
        (dict(start_word=0, end_word=999_999), "has no word 999999"),
        (dict(start_s=10), "give a start and an end"),
        (dict(start_s=10, end_s=20, skills=["Juggling"]), "no skill called 'Juggling'"),
        (dict(start_s=10, end_s=20, rating="great"), "rating must be one of"),
        (dict(start_s=10, end_s=20, fmt_name="flac"), "format must be one of"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InputError, match=re.escape(message)):
            C.make_clip(lib, call.id, **kwargs)
    C.set_clip_settings(lib, max_s=5)
    with pytest.raises(InputError, match="longer than the 5 s limit"):
        C.make_clip(lib, call.id, start_s=10, end_s=40)
    with pytest.raises(NotFoundError):
        C.make_clip(lib, 999, start_s=1, end_s=2)
    assert clip_files(lib) == [] and C.list_clips(lib) == []


def test_missing_media_says_which_file_and_relinks(lib):
    call = call_by_title(lib, "Acme")
    media = Path(call.media_path)
    moved = lib.root / "elsewhere.mp3"
    media.rename(moved)
    with pytest.raises(C.MediaMissingError) as err:
        C.make_clip(lib, call.id, start_s=10, end_s=20)
    assert str(media) in str(err.value) and "clipstudio relink" in str(err.value)
    assert clip_files(lib) == [] and C.list_clips(lib) == []
    with pytest.raises(InputError, match="is not the recording of call"):
        lib.relink_media(call.id, SAMPLES / "maple_health_pricing.mp3")
    lib.relink_media(call.id, moved)
    assert media.is_file()
    assert C.make_clip(lib, call.id, start_s=10, end_s=20).id


def test_ffmpeg_failure_carries_its_stderr_and_leaves_nothing(lib):
    call = call_by_title(lib, "Acme")
    Path(call.media_path).write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(MediaError) as err:
        C.make_clip(lib, call.id, start_s=10, end_s=20)
    assert err.value.stderr_tail
    assert clip_files(lib) == [] and C.list_clips(lib) == []


# editing --------------------------------------------------------------------------------

def test_edit_recut_duplicate_delete(lib):
    call, hit = price_hit(lib, "Maple Health")
    clip = C.make_clip(lib, call.id, start_s=hit.start_s, end_s=hit.end_s)
    edited = C.update_clip(lib, clip.id, title="Discounting too early", notes="listen",
                           rating="poor", skills=[PRICE, "Negotiation"],
                           messages=["Cost of inaction"])
    assert (edited.title, edited.notes, edited.rating) == ("Discounting too early", "listen",
                                                           "poor")
    assert edited.skills == ("Negotiation", PRICE) and edited.messages == ("Cost of inaction",)
    with pytest.raises(InputError, match="cannot be empty"):
        C.update_clip(lib, clip.id, title="  ")
    recut = C.recut_clip(lib, clip.id, start_s=hit.start_s, end_s=hit.end_s + 8,
                         fmt_name="m4a")
    assert recut.end_s > clip.end_s and recut.path.endswith(".m4a")
    assert not Path(clip.path).exists() and Path(recut.path).is_file()
    assert abs(len(decode(recut.path, 44100)) / 44100 - recut.duration_s) <= 0.020
    assert recut.title == "Discounting too early"  # the record survives a re-cut
    copy = C.duplicate_clip(lib, clip.id)
    assert copy.id != clip.id and copy.title == "Discounting too early (copy)"
    assert copy.skills == recut.skills and Path(copy.path).is_file()
    assert Path(copy.path).read_bytes() == Path(recut.path).read_bytes()
    C.delete_clip(lib, clip.id)
    assert not Path(recut.path).exists()
    with pytest.raises(NotFoundError):
        C.get_clip(lib, clip.id)
    assert [c.id for c in C.list_clips(lib)] == [copy.id]


def test_taxonomy(lib):
    skills = {t.name for t in C.tags(lib, "skill")}
    assert {"Rapport", "Discovery questions", "Active listening", "Value articulation",
            PRICE, "Objection handling: competitor", "Objection handling: timing",
            "Objection handling: authority", "Negotiation",
            "Next steps and closing"} <= skills
    assert C.tags(lib, "message")  # examples to start from
    tag = C.save_tag(lib, "message", "Replaces three tools", "One platform, one bill")
    with pytest.raises(InputError, match="already a message"):
        C.save_tag(lib, "message", "replaces three TOOLS")
    call = call_by_title(lib, "Acme")
    clip = C.make_clip(lib, call.id, start_s=10, end_s=20, messages=["replaces three tools"])
    assert clip.messages == ("Replaces three tools",)
    renamed = C.save_tag(lib, "message", "Consolidation", tag_id=tag.id)
    assert renamed.clips == 1 and C.get_clip(lib, clip.id).messages == ("Consolidation",)
    C.delete_tag(lib, tag.id)
    assert C.get_clip(lib, clip.id).messages == ()
    with pytest.raises(InputError, match="skill or message"):
        C.tags(lib, "mood")


# CLI ------------------------------------------------------------------------------------

def test_cli_clip_and_clips(library_copy, capsys):
    lib = Library(library_copy)
    call, hit = price_hit(lib, "Maple Health")
    rc = main(["clip", str(call.id), "--start", f"{hit.start_s:.2f}", "--end",
               f"{hit.end_s:.2f}", "--title", "Price, handled poorly", "--skill", PRICE,
               "--rating", "poor", "--library", str(library_copy), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {"clip_id", "path", "start_s", "end_s", "duration_s", "transcript"} <= set(out)
    assert Path(out["path"]).is_file()
    assert "too expensive" in " ".join(line["text"] for line in out["transcript"])
    assert out["duration_s"] == pytest.approx(out["end_s"] - out["start_s"], abs=0.002)
    rc = main(["clips", "--skill", PRICE, "--rating", "poor", "--library",
               str(library_copy), "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert rc == 0 and [c["clip_id"] for c in listed] == [out["clip_id"]]
    assert listed[0]["title"] == "Price, handled poorly" and listed[0]["rep"] == "Tom Baker"
    rc = main(["clips", "--skill", "Rapport", "--library", str(library_copy)])
    assert rc == 0 and "no clips" in capsys.readouterr().out
    rc = main(["clip-edit", str(out["clip_id"]), "--end", f"{hit.end_s + 3:.2f}",
               "--start", f"{hit.start_s:.2f}", "--notes", "compare with Marcus",
               "--library", str(library_copy), "--json"])
    edited = json.loads(capsys.readouterr().out)
    assert rc == 0 and edited["end_s"] > out["end_s"] and edited["notes"] == "compare with Marcus"
    rc = main(["clip", str(call.id), "--start", "1:10", "--end", "1:00", "--library",
               str(library_copy)])
    err = capsys.readouterr().err
    assert rc == 2 and "must be after the start" in err and "Traceback" not in err
    rc = main(["tags", "add", "skill", "Storytelling", "--description", "Customer stories",
               "--library", str(library_copy), "--json"])
    assert rc == 0 and "Storytelling" in [t["name"] for t in json.loads(capsys.readouterr().out)]
    rc = main(["clip-delete", str(out["clip_id"]), "--library", str(library_copy)])
    assert rc == 0 and not Path(out["path"]).exists()


def test_transcript_json_word_indices_address_clip_words(library_copy, capsys):
    lib = Library(library_copy)
    call = call_by_title(lib, "Acme")
    main(["transcript", str(call.id), "--format", "json", "--library", str(library_copy)])
    data = json.loads(capsys.readouterr().out)
    flat = [w for u in data["utterances"] for w in u["words"]]
    pick = flat[40:46]
    clip = C.make_clip(lib, call.id, start_word=pick[0]["index"], end_word=pick[-1]["index"])
    texts = [w.text for w in C.clip_words(lib, clip)]
    assert [w["text"].strip() for w in pick] == texts[: len(pick)]


# search ---------------------------------------------------------------------------------

def test_clips_are_searchable_by_title_notes_tags_transcript_and_rating(lib):
    from clipstudio import trackers

    before = trackers.counts(lib)
    total_before = lib.search("expensive").total
    call, hit = price_hit(lib, "Maple Health")
    poor = C.make_clip(lib, call.id, start_s=hit.start_s, end_s=hit.end_s, skills=[PRICE],
                       rating="poor", title="Caves on price", notes="offers a discount")
    call2, hit2 = price_hit(lib, "Blue River")
    good = C.make_clip(lib, call2.id, start_s=hit2.start_s, end_s=hit2.end_s, skills=[PRICE],
                       rating="good", title="Asks what the budget is for")
    # clips are found by their own words...
    assert [h.clip_id for h in lib.search("caves", kind="clip").hits] == [poor.id]
    assert [h.clip_id for h in lib.search("discount", kind="clip").hits] == [poor.id]
    assert {h.clip_id for h in lib.search("expensive", kind="clip").hits} == {poor.id, good.id}
    assert [h.clip_id for h in lib.search("expensive", kind="clip", rating="good").hits] == [
        good.id]
    assert lib.search("expensive", kind="clip", tag="rapport").total == 0
    # ...utterances inside a tagged clip carry its tags...
    tagged = lib.search("expensive", tag=PRICE)
    assert {h.call_id for h in tagged.hits} == {call.id, call2.id}
    assert all(PRICE in h.tags and h.clip_id is None for h in tagged.hits)
    # ...and utterance searches and trackers do not see clips as extra moments
    assert lib.search("expensive").total == total_before
    assert trackers.counts(lib) == before
    assert [c.id for c in C.list_clips(lib, query="budget")] == [good.id]
    C.update_clip(lib, good.id, title="Reframes cost as value")
    assert lib.search("reframes", kind="clip").hits[0].clip_id == good.id
    C.delete_clip(lib, poor.id)
    assert lib.search("caves", kind="clip").total == 0
    lib.index.close()  # a deleted index is rebuilt with the clips in it
    import shutil
    shutil.rmtree(lib.root / "index")
    fresh = Library(lib.root)
    assert fresh.search("reframes", kind="clip").hits[0].clip_id == good.id
