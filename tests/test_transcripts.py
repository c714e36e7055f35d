"""Importing transcripts users bring (Zoom, Teams, WebVTT, SRT, ClipStudio JSON) and exporting.

Every sample is written to a real file in tmp_path and read back through parse_transcript,
the way `clipstudio ingest --transcript` will use it. No audio is needed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from clipstudio.errors import InputError
from clipstudio.models import Utterance, Word
from clipstudio.transcripts import (
    MAX_MERGED_S,
    derive_words,
    detect_format,
    parse_transcript,
    to_srt,
    to_vtt,
)

ZOOM_VTT = """WEBVTT

1
00:00:01.000 --> 00:00:04.500
Dana Lee: Thanks for joining, everyone.

2
00:00:04.800 --> 00:00:09.250
Dr. Sam O'Brien-Smith: Happy to be here. Quick question
on pricing before we start.

3
00:00:09.500 --> 00:00:12.000
Dana Lee: Sure: ask away.

4
00:00:12.100 --> 00:00:15.000
Dr. Sam O'Brien-Smith: What does the enterprise tier cost?
Dana Lee: Forty a seat.

5
00:01:02.000 --> 00:01:05.750
Mary-Jo St. James: Can I jump in? We're at https://acme.example today.
"""

# Out of order, one <v> never closed, Teams-style cue identifiers, several lines per cue.
TEAMS_VTT = """WEBVTT

4f1a8b0e-52c3-4d8e-9a77-1b2c3d4e5f60/12-0
00:00:07.480 --> 00:00:10.000
<v Sam Ortiz>Sounds good. Let's start
with the pricing.</v>

4f1a8b0e-52c3-4d8e-9a77-1b2c3d4e5f60/11-0
00:00:05.120 --> 00:00:07.480
<v Dana Lee>Thanks for joining.

4f1a8b0e-52c3-4d8e-9a77-1b2c3d4e5f60/13-0
00:00:10.200 --> 00:00:12.000
<v Dana Lee>Note: the list price is $40.</v>

4f1a8b0e-52c3-4d8e-9a77-1b2c3d4e5f60/14-1
00:00:12.000 --> 00:00:14.000
<v Sam Ortiz>OK.</v>
<v Dana Lee>Great, thanks.</v>
"""

PLAIN_VTT = """WEBVTT - captions for the Acme call
Kind: captions
Language: en

NOTE
This file was made by hand.
It has no speakers.

STYLE
::cue {
  color: yellow;
}

REGION
id:fred
width:40%

intro
00:01.000 --> 00:03.500 align:start position:10%
<c.yellow>Welcome to</c> the <i>Acme</i> demo.

00:03.500 --> 00:06.000 line:0 size:50%
Tom &amp; Jerry <00:00:04.200>say &lt;hi&gt;&nbsp;there.

NOTE another comment

01:02:03.000 --> 01:02:05.250
Step one: open the dashboard.
"""

VOICE_VTT = """WEBVTT

00:00:00.000 --> 00:00:02.000
<v Roger Bingham>We are in New York City

00:00:02.000 --> 00:00:04.000
<v.loud Esme>It’s a <b>blue</b> apple tree!
"""

# UTF-8 BOM, CRLF endings, no trailing blank line, one cue without an index line.
SRT = (
    "\ufeff1\r\n00:00:01,000 --> 00:00:04,000\r\nSpeaker 1: Hello and welcome.\r\n\r\n"
    "2\r\n00:00:04,500 --> 00:00:07,250\r\nSpeaker 2: Thanks. <i>Really</i> glad\r\n"
    "to be here.\r\n\r\n"
    "00:00:08,000 --> 00:00:09,000\r\nSpeaker 1: Let's begin."
)

CLIPSTUDIO_JSON = {
    "call_id": 7,
    "title": "Acme intro",
    "duration_s": 30.0,
    "utterances": [
        {
            "speaker": "Sam",
            "role": "prospect",
            "start_s": 5.0,
            "end_s": 6.2,
            "text": "Sounds good.",
            "words": [
                {"text": "Sounds", "start_s": 5.1, "end_s": 5.5, "probability": 0.91},
                {"text": "good.", "start_s": 5.6, "end_s": 6.2, "probability": 0.88},
            ],
        },
        {
            "speaker": "Dana",
            "role": "rep",
            "start_s": 1.0,
            "end_s": 4.0,
            "text": "Thanks for joining.",
            "words": [
                {"text": "Thanks", "start_s": 1.02, "end_s": 1.4, "probability": 0.99},
                {"text": "for", "start_s": 1.4, "end_s": 1.6, "probability": 0.97},
                {"text": "joining.", "start_s": 1.6, "end_s": 2.1, "probability": 0.95},
            ],
        },
        {"speaker": None, "role": None, "start_s": 7.0, "end_s": 8.0, "text": "Mm-hmm."},
    ],
}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))  # keep CRLF and BOM exactly as written
    return path


def summary(utterances: list[Utterance]) -> list[tuple]:
    return [(u.speaker, u.text, u.start_s, u.end_s) for u in utterances]


def assert_well_formed(utterances: list[Utterance]) -> None:
    """Sorted, renumbered, and every word inside its utterance, in order, matching the text."""
    assert [u.index for u in utterances] == list(range(len(utterances)))
    assert [u.start_s for u in utterances] == sorted(u.start_s for u in utterances)
    for u in utterances:
        assert u.id is None and u.start_s <= u.end_s and u.text
        assert " ".join(w.text for w in u.words) == u.text
        for a, b in zip(u.words, u.words[1:], strict=False):
            assert a.end_s <= b.start_s
        for w in u.words:
            assert u.start_s <= w.start_s <= w.end_s <= u.end_s


# --------------------------------------------------------------------------- formats


def test_zoom_vtt_speakers_texts_and_times(tmp_path):
    us = parse_transcript(write(tmp_path, "zoom.vtt", ZOOM_VTT))
    assert_well_formed(us)
    sam = "Dr. Sam O'Brien-Smith"
    assert summary(us)[:3] == [
        ("Dana Lee", "Thanks for joining, everyone.", 1.0, 4.5),
        (sam, "Happy to be here. Quick question on pricing before we start.", 4.8, 9.25),
        ("Dana Lee", "Sure: ask away.", 9.5, 12.0),
    ]
    # Two speakers in one cue share its time by amount of text, back to back.
    q, a = us[3], us[4]
    assert (q.speaker, q.text, a.speaker, a.text) == (
        sam, "What does the enterprise tier cost?", "Dana Lee", "Forty a seat.")
    assert q.start_s == 12.1 and a.end_s == 15.0 and q.end_s == a.start_s
    assert 13.0 < q.end_s < 14.5  # the question is the longer piece
    assert us[5].speaker == "Mary-Jo St. James"
    assert us[5].text == "Can I jump in? We're at https://acme.example today."
    assert (us[5].start_s, us[5].end_s) == (62.0, 65.75)
    assert all(u.role is None for u in us)


def test_teams_vtt_out_of_order_and_unclosed_voice(tmp_path):
    us = parse_transcript(write(tmp_path, "teams.vtt", TEAMS_VTT))
    assert_well_formed(us)
    assert summary(us) == [
        ("Dana Lee", "Thanks for joining.", 5.12, 7.48),
        ("Sam Ortiz", "Sounds good. Let's start with the pricing.", 7.48, 10.0),
        ("Dana Lee", "Note: the list price is $40.", 10.2, 12.0),  # "Note:" is not a name
        ("Sam Ortiz", "OK.", 12.0, us[3].end_s),
        ("Dana Lee", "Great, thanks.", us[3].end_s, 14.0),
    ]
    assert 12.0 < us[3].end_s < 13.0


def test_plain_webvtt_skips_blocks_and_cleans_text(tmp_path):
    us = parse_transcript(write(tmp_path, "captions.vtt", PLAIN_VTT))
    assert_well_formed(us)
    assert summary(us) == [
        (None, "Welcome to the Acme demo.", 1.0, 3.5),
        (None, "Tom & Jerry say <hi> there.", 3.5, 6.0),
        # One "Step one:" among plain captions is text, not a speaker.
        (None, "Step one: open the dashboard.", 3723.0, 3725.25),
    ]


def test_webvtt_voice_spans_with_and_without_class(tmp_path):
    us = parse_transcript(write(tmp_path, "voices.vtt", VOICE_VTT))
    assert summary(us) == [
        ("Roger Bingham", "We are in New York City", 0.0, 2.0),
        ("Esme", "It’s a blue apple tree!", 2.0, 4.0),
    ]


def test_srt_with_bom_crlf_and_no_trailing_blank_line(tmp_path):
    us = parse_transcript(write(tmp_path, "call.srt", SRT))
    assert_well_formed(us)
    assert summary(us) == [
        ("Speaker 1", "Hello and welcome.", 1.0, 4.0),
        ("Speaker 2", "Thanks. Really glad to be here.", 4.5, 7.25),
        ("Speaker 1", "Let's begin.", 8.0, 9.0),
    ]


def test_srt_without_speakers_and_srt_missing_blank_lines(tmp_path):
    body = "1\n00:00:01,000 --> 00:00:02,000\nHi.\n2\n00:00:02,500 --> 00:00:03,000\nBye.\n"
    us = parse_transcript(write(tmp_path, "plain.srt", body))
    assert summary(us) == [(None, "Hi.", 1.0, 2.0), (None, "Bye.", 2.5, 3.0)]


def test_clipstudio_json_keeps_words_and_roles(tmp_path):
    path = write(tmp_path, "t.json", json.dumps(CLIPSTUDIO_JSON, indent=2))
    us = parse_transcript(path)
    assert_well_formed(us)
    assert [(u.speaker, u.role, u.text) for u in us] == [
        ("Dana", "rep", "Thanks for joining."),
        ("Sam", "prospect", "Sounds good."),
        (None, None, "Mm-hmm."),
    ]
    assert us[0].words == (
        Word("Thanks", 1.02, 1.4, 0.99), Word("for", 1.4, 1.6, 0.97),
        Word("joining.", 1.6, 2.1, 0.95))
    assert us[1].words[1] == Word("good.", 5.6, 6.2, 0.88)
    assert us[2].words == derive_words("Mm-hmm.", 7.0, 8.0)  # no words given: derived


def test_format_comes_from_content_and_extension_is_a_hint(tmp_path):
    assert len(parse_transcript(write(tmp_path, "zoom.txt", ZOOM_VTT))) == 6
    assert len(parse_transcript(write(tmp_path, "call.vtt", SRT))) == 3  # misnamed SRT
    assert len(parse_transcript(write(tmp_path, "x.txt", json.dumps(CLIPSTUDIO_JSON)))) == 3
    assert detect_format(SRT.lstrip("\ufeff"), "") == "srt"
    assert detect_format("garbage", ".srt") == "srt"


def test_windows_encodings(tmp_path):
    utf16 = write(tmp_path, "u16.vtt", VOICE_VTT.encode("utf-16"))
    assert parse_transcript(utf16)[1].text == "It’s a blue apple tree!"
    cp = write(tmp_path, "cp.srt", "1\r\n00:00:01,000 --> 00:00:02,000\r\nCafé: olé\r\n"
               .encode("cp1252"))
    assert summary(parse_transcript(cp)) == [("Café", "olé", 1.0, 2.0)]


# --------------------------------------------------------------------------- word timings


def test_derived_word_timings_follow_word_length():
    words = derive_words("a considerably longer word", 10.0, 12.0)
    assert [w.text for w in words] == ["a", "considerably", "longer", "word"]
    assert words[0].start_s == 10.0 and words[-1].end_s == 12.0
    assert all(a.end_s == b.start_s for a, b in zip(words, words[1:], strict=False))
    durations = [w.end_s - w.start_s for w in words]
    assert durations[1] > durations[2] > durations[3] > durations[0]
    assert all(w.probability == 1.0 for w in words)
    assert derive_words("   ", 0.0, 1.0) == ()
    assert [(w.start_s, w.end_s) for w in derive_words("x y", 5.0, 5.0)] == [(5, 5), (5, 5)]


@pytest.mark.parametrize("name, text", [
    ("zoom.vtt", ZOOM_VTT), ("teams.vtt", TEAMS_VTT), ("plain.vtt", PLAIN_VTT),
    ("voice.vtt", VOICE_VTT), ("call.srt", SRT),
])
def test_word_timings_stay_inside_each_cue_and_in_order(tmp_path, name, text):
    us = parse_transcript(write(tmp_path, name, text))
    assert_well_formed(us)
    for u in us:
        assert u.words[0].start_s == u.start_s and u.words[-1].end_s == u.end_s
        assert all(w.probability == 1.0 for w in u.words)


# --------------------------------------------------------------------------- merging


def test_merging_same_speaker_cues_is_opt_in_and_capped(tmp_path):
    cues = [(0.0, 4.0, "A"), (4.5, 8.0, "A"), (8.2, 9.0, "B"), (10.5, 12.0, "B"),
            (12.5, 27.0, "B"), (27.5, 42.0, "B")]
    body = "WEBVTT\n\n" + "".join(
        f"00:00:{s:06.3f} --> 00:00:{e:06.3f}\n{who}: words {i}\n\n"
        for i, (s, e, who) in enumerate(cues))
    path = write(tmp_path, "m.vtt", body)
    assert len(parse_transcript(path)) == 6
    merged = parse_transcript(path, merge_gap_s=1.0)
    assert_well_formed(merged)
    assert summary(merged) == [
        ("A", "words 0 words 1", 0.0, 8.0),
        ("B", "words 2", 8.2, 9.0),  # 1.5 s gap: not merged
        ("B", "words 3 words 4", 10.5, 27.0),
        ("B", "words 5", 27.5, 42.0),  # would exceed MAX_MERGED_S
    ]
    assert 42.0 - 10.5 > MAX_MERGED_S


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name, body, message", [
    ("rec.vtt", "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nok\n\n2\n00:00:1.0 --> x\nhi\n",
     r"rec\.vtt line 8: bad timestamp '00:00:1\.0 --> x'"),
    ("rec.vtt", "WEBVTT\n\n00:00:05.000 --> 00:00:04.000\nbackwards\n",
     r"rec\.vtt line 3: cue ends before it starts"),
    ("rec.vtt", "WEBVTT\n\n00:00:01.000 --> 00:75:00.000\nbad minutes\n",
     r"rec\.vtt line 3: bad timestamp"),
    ("rec.vtt", "WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nsingle arrow\n",
     r"rec\.vtt line 3: bad timestamp"),
    ("rec.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\njust some words\nno timing\n",
     r"rec\.vtt line 6: expected a cue timing line"),
    ("rec.vtt", "Hello there\n\n", r"rec\.vtt line 1: a WebVTT file must start with 'WEBVTT'"),
    ("rec.srt", "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\nno timing here\n",
     r"rec\.srt line 6: expected a cue timing line"),
    ("rec.srt", "\n\n1\n00:00:03,000 --> 00:00:02,000\nx\n",
     r"rec\.srt line 4: cue ends before it starts"),
    ("rec.json", '{\n  "utterances": [\n    {"start_s": 1, "end_s": 2, "text": "a"},\n'
     '    {"start_s": 5,\n     "end_s": 4, "text": "b"}\n  ]\n}\n',
     r"rec\.json line 5: utterance 1 ends before it starts"),
    ("rec.json", '{\n  "utterances": [\n    {"start_s": 1,\n     "end_s": "2"}\n  ]\n}',
     r"rec\.json line 4: utterance 0: 'end_s' must be a number"),
    ("rec.json", '{\n "utterances": [\n  {"start_s": 1, "end_s": 2, "text": "a",\n'
     '   "words": [\n    {"text": "a", "start_s": NaN, "end_s": 2}]}]}',
     r"rec\.json line 5: utterance 0 word 0: 'start_s' must be a time"),
    ("rec.json", '{\n  "utterances": [\n    {"start_s": 1,,}\n  ]\n}',
     r"rec\.json line 3: invalid JSON"),
    ("rec.json", '{"call_id": 3}', r"rec\.json line 1: expected a ClipStudio transcript"),
])
def test_malformed_files_name_the_file_and_line(tmp_path, name, body, message):
    with pytest.raises(InputError, match=message):
        parse_transcript(write(tmp_path, name, body))


@pytest.mark.parametrize("name, body, message", [
    ("empty.vtt", "WEBVTT\n\nNOTE nothing yet\n", "no cues found"),
    ("blank.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<i></i>\n", "every cue is empty"),
    ("empty.json", '{"utterances": []}', "no utterances"),
    ("zero.srt", "", "the file is empty"),
    ("spaces.vtt", " \n\n \r\n", "the file is empty"),
    ("notes.txt", "Meeting notes\nTalk to Dana", "unknown transcript format; supported: WebVTT"),
    ("binary.srt", b"\x00\x01\x02ID3\x00", "not a text file"),
])
def test_empty_and_unknown_transcripts_are_rejected(tmp_path, name, body, message):
    path = write(tmp_path, name, body)
    with pytest.raises(InputError, match=message) as info:
        parse_transcript(path)
    assert str(path) in str(info.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read transcript"):
        parse_transcript(tmp_path / "nope.vtt")


def test_garbage_never_crashes(tmp_path):
    pieces = ["WEBVTT", "", "1", "-->", "00:00:01.000 --> 00:00:02.000", "00:01.000 --> 00:00.5",
              "<v", "<v Dana>", "</v>", "Dana:", ":", "&amp", "&#99999999;", "{", "}", "[",
              '"utterances"', "NOTE", "STYLE", "\ufeff", "\r", "99:99:99,999 --> 1", "<00:00>",
              "{\\an8}", "é", "\x00"]
    rng = random.Random(1234)
    fixed = [
        b"", b"\xff\xfe\x00", b"\xfe\xff\xd8\x00", bytes(range(256)), b"[" * 50_000,
        b'{"utterances": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
        b'{"utterances": [{"start_s": 1e999, "end_s": 2, "text": "x"}]}',
        b'{"utterances": [{"start_s": ' + b"9" * 5000 + b', "end_s": 2, "text": "x"}]}',
        b'{"utterances": [{"start_s": true, "end_s": 2}]}',
        b'{"utterances": [{"start_s": 0, "end_s": 2, "text": "x", "words": [3]}]}',
        b'{"utterances": {"a": 1}}', b"[1, 2]", b"null", b"WEBVTT\n\n-->\n",
        b"1\n2\n3\n", b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v>\n",
    ]
    bodies = fixed + [
        "\n".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))).encode("utf-8",
                                                                                 "surrogatepass")
        for _ in range(300)
    ]
    for i, body in enumerate(bodies):
        for suffix in (".vtt", ".srt", ".json", ".txt"):
            path = write(tmp_path, f"g{i}{suffix}", body)
            try:
                result = parse_transcript(path)
            except InputError as exc:
                assert str(path) in str(exc)
            else:
                assert result and all(isinstance(u, Utterance) for u in result)
                assert_well_formed(result)


# --------------------------------------------------------------------------- export


def utt(start, end, text, speaker=None, words=()):
    return Utterance(None, 0, start, end, text, tuple(words), speaker)


ROUND_TRIP = [
    utt(0.0, 1.5, "Hi & welcome <everyone>, a->b", "Dana Lee"),
    utt(1.5, 3.25, "Thanks.", "Dr. Sam O'Brien-Smith"),
    utt(3.3, 4.0, "Mm.", None),
    utt(4.0, 6.001, "Let's look at the numbers.", "Dana Lee"),
    utt(6.5, 7.0, "Right.", "Dr. Sam O'Brien-Smith"),
    utt(3723.456, 3725.0, "An hour in.", "Speaker 1"),
    utt(3725.5, 3726.0, "Still here.", None),
]


def test_vtt_export_format():
    out = to_vtt(ROUND_TRIP[:3] + ROUND_TRIP[5:6])
    assert out.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\n")
    assert "<v Dana Lee>Hi &amp; welcome &lt;everyone&gt;, a-&gt;b</v>\n" in out
    assert "\n3\n00:00:03.300 --> 00:00:04.000\nMm.\n" in out
    assert "01:02:03.456 --> 01:02:05.000\n<v Speaker 1>An hour in.</v>\n" in out


def test_srt_export_format():
    out = to_srt(ROUND_TRIP[:3] + ROUND_TRIP[5:6])
    assert out.startswith("1\n00:00:00,000 --> 00:00:01,500\nDana Lee: Hi & welcome")
    assert "\n3\n00:00:03,300 --> 00:00:04,000\nMm.\n" in out
    assert "01:02:03,456 --> 01:02:05,000\nSpeaker 1: An hour in.\n" in out


def test_timestamps_round_to_the_millisecond():
    out = to_srt([utt(1.9996, 59.9999, "x"), utt(360000.0, 360001.0, "y")])
    assert "00:00:02,000 --> 00:01:00,000" in out
    assert "100:00:00,000 --> 100:00:01,000" in out


def test_exports_sort_by_start():
    out = to_vtt([ROUND_TRIP[1], ROUND_TRIP[0]])
    assert out.index("Hi &amp;") < out.index("Thanks.")


@pytest.mark.parametrize("writer, suffix", [(to_vtt, ".vtt"), (to_srt, ".srt")])
def test_round_trip(tmp_path, writer, suffix):
    originals = ROUND_TRIP if writer is to_vtt else [
        u for u in ROUND_TRIP if "<" not in u.text]  # SRT has no escaping for tags
    back = parse_transcript(write(tmp_path, "rt" + suffix, writer(originals)))
    assert_well_formed(back)
    assert summary(back) == [
        (u.speaker, u.text, round(u.start_s, 3), round(u.end_s, 3)) for u in originals]


@pytest.mark.parametrize("name, text", [
    ("zoom.vtt", ZOOM_VTT), ("teams.vtt", TEAMS_VTT), ("voice.vtt", VOICE_VTT),
    ("call.srt", SRT),
])
def test_imported_samples_round_trip_through_both_writers(tmp_path, name, text):
    first = parse_transcript(write(tmp_path, name, text))
    for writer, suffix in ((to_vtt, ".vtt"), (to_srt, ".srt")):
        again = parse_transcript(write(tmp_path, "again" + suffix, writer(first)))
        assert summary(again) == summary(first)
        assert [u.words for u in again] == [u.words for u in first]
