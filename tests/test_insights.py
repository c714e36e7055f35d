"""Conversation insights on the real sample library: stats against the scripts' ground truth,
coaching candidates, pictures, voice-of-customer exports, the CLI and the Insights page.

The sample calls are transcribed once per run (``sample_library``); tests that only read use
it directly, tests that write use ``library_copy``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from clipstudio import Library, insights, pictures
from clipstudio.cli import main
from clipstudio.errors import InputError, NotFoundError
from clipstudio.models import Call, Transcript, Utterance
from clipstudio.trackers import trackers as tracker_list

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "Home.py")
INSIGHTS_PAGE = "pages/8_Insights.py"
TRUTH = ROOT / "sample_calls" / "truth"
ARTIFACTS = ROOT / "tests" / "artifacts"
FILES = ("acme_discovery.mp3", "blue_river_pricing.mp3", "lakeside_authority.m4a",
         "maple_health_pricing.mp3", "pine_valley_competitor.mp3", "redwood_overview.ogg")
POOR_PRACTICE = {"maple_health_pricing.mp3", "redwood_overview.ogg"}


def truth(file: str) -> dict:
    return json.loads((TRUTH / f"{Path(file).stem}.json").read_text())


def truth_interactivity(t: dict) -> float:
    return (len(t["turns"]) - 1) / (t["duration_s"] / 60)


def truth_patience(t: dict) -> float:
    turns = t["turns"]
    pauses = [max(0.0, b["start_s"] - a["end_s"])
              for a, b in zip(turns, turns[1:], strict=False)
              if a["role"] == "customer" and b["role"] == "rep"]
    return sum(pauses) / len(pauses)


@pytest.fixture(scope="module")
def lib(sample_library) -> Library:
    return Library(sample_library[0])


@pytest.fixture(scope="module")
def by_file(lib) -> dict[str, insights.CallStats]:
    return {c.source_name: insights.call_stats(lib, c.id) for c in lib.calls()}


@pytest.fixture(scope="module")
def call_ids(lib) -> dict[str, int]:
    return {c.source_name: c.id for c in lib.calls()}


# Stats against the ground truth -----------------------------------------------------------

def test_every_sample_call_has_known_stats(by_file):
    assert sorted(by_file) == sorted(FILES)
    for file, s in by_file.items():
        assert s.known, (file, s.unknown_reason)
        assert s.rep_talk_s > 0 and s.customer_talk_s > 0
        assert s.rep_words > 0 and 100 < s.rep_wpm < 260, (file, s.rep_wpm)


@pytest.mark.parametrize("file", FILES)
def test_talk_ratio_within_3_points_of_the_script(by_file, file):
    assert by_file[file].rep_talk_ratio == pytest.approx(truth(file)["rep_talk_ratio"], abs=0.03)


@pytest.mark.parametrize("file", FILES)
def test_rep_questions_equal_the_script(by_file, file):
    assert by_file[file].rep_questions == truth(file)["rep_questions"]


LAKESIDE_MERGE = (
    "diarization, not the stats: in this mono call the customer's overlapping 1-second "
    "'That is exactly it.' (65.5 s) is transcribed inside the rep's utterance ('is that "
    "exactly it'), so the rep's two turns around it read as one 25.6 s stretch (truth: "
    "20.7 s); test_definitions_reproduce_the_truth shows the rule itself gives 20.7 s")


@pytest.mark.parametrize("file", [
    pytest.param(f, marks=pytest.mark.xfail(strict=True, reason=LAKESIDE_MERGE))
    if f == "lakeside_authority.m4a" else f for f in FILES])
def test_longest_monologue_within_1_s_of_the_script(by_file, file):
    t = truth(file)
    assert by_file[file].longest_rep_monologue_s == pytest.approx(
        t["longest_rep_monologue_s"], abs=1.0)


@pytest.mark.parametrize("file", FILES)
def test_story_interactivity_and_patience_close_to_the_script(by_file, file):
    s, t = by_file[file], truth(file)
    # word times from the small model are a few hundred ms off at turn edges
    assert s.longest_customer_story_s == pytest.approx(t["longest_customer_story_s"], abs=1.5)
    assert s.interactivity_per_min == pytest.approx(truth_interactivity(t), rel=0.1)
    assert s.patience_s == pytest.approx(truth_patience(t), abs=0.3)


def test_the_long_monologue_is_found_where_the_script_puts_it(by_file):
    s = by_file["redwood_overview.ogg"]
    turn = max((x for x in truth("redwood_overview.ogg")["turns"] if x["role"] == "rep"),
               key=lambda x: x["end_s"] - x["start_s"])
    assert s.longest_rep_monologue_s > 150
    assert s.longest_rep_monologue_at_s == pytest.approx(turn["start_s"], abs=1.0)


def _truth_transcript(file: str) -> Transcript:
    t = truth(file)
    call = Call(id=1, title=t["title"], rep=t["rep"], account=t["account"], call_date=None,
                outcome="unknown", consent=None, a_player=False, duration_s=t["duration_s"],
                channels=1, status="transcribed", source_name=file, media_path="",
                playback_path="", model="truth", created_at="")
    utterances = tuple(Utterance(id=i, index=i, start_s=x["start_s"], end_s=x["end_s"],
                                 text=x["text"], words=(), speaker=x["speaker"],
                                 role=x["role"]) for i, x in enumerate(t["turns"]))
    return Transcript(call, utterances)


@pytest.mark.parametrize("file", FILES)
def test_definitions_reproduce_the_truth(file):
    """Fed the script's own turns, the stats give the truth's figures exactly: the
    definitions match, and what differs on real audio is transcription."""
    s, t = insights.transcript_stats(_truth_transcript(file)), truth(file)
    # the truth rounds each turn's times to 1 ms, so sums can differ by a few ms
    assert s.rep_talk_s == pytest.approx(t["rep_talk_s"], abs=0.02)
    assert s.customer_talk_s == pytest.approx(t["customer_talk_s"], abs=0.02)
    assert s.rep_talk_ratio == pytest.approx(t["rep_talk_ratio"], abs=0.0005)
    assert s.longest_rep_monologue_s == pytest.approx(t["longest_rep_monologue_s"], abs=0.002)
    assert s.longest_customer_story_s == pytest.approx(t["longest_customer_story_s"],
                                                       abs=0.002)
    assert s.rep_questions == t["rep_questions"]
    assert s.customer_questions == t["customer_questions"]
    assert s.interactivity_per_min == pytest.approx(truth_interactivity(t), abs=1e-6)
    assert s.patience_s == pytest.approx(truth_patience(t), abs=1e-6)


def test_question_rule_survives_lost_question_marks():
    """With every '?' in the scripts turned into '.', most questions are still found and no
    statement is taken for one."""
    found = missed = false = 0
    for file in FILES:
        for turn in truth(file)["turns"]:
            for sentence in insights.SENTENCE.findall(turn["text"]):
                asked = sentence.strip().endswith("?")
                seen = insights.is_question(sentence.replace("?", "."))
                found += asked and seen
                missed += asked and not seen
                false += seen and not asked
    assert false == 0
    assert found / (found + missed) >= 0.85, (found, missed)


@pytest.mark.parametrize(("sentence", "expected"), [
    ("Last time you said you wanted to walk through it, did you get a chance to read it.",
     True),
    ("So what if I do 30% and free onboarding.", True),
    ("Totally fair, which parts would feel like overlap to them.", True),
    ("And maybe we could set up a demo next month.", True),
    ("How are you doing today?", True),
    ("We added a new dashboard, which is great.", False),
    ("When we start, we connect your phone system.", False),
    ("What I would suggest is a small pilot.", False),
    ("Thanks, Kevin.", False),
])
def test_is_question(sentence, expected):
    assert insights.is_question(sentence) is expected


def test_backchannel_does_not_break_a_monologue():
    def u(i, role, start, end, text):
        return Utterance(i, i, start, end, text, (), role, role)

    call = replace(_truth_transcript(FILES[0]).call, duration_s=60.0)
    t = Transcript(call, (u(0, "rep", 0.0, 20.0, "one two three four five"),
                          u(1, "customer", 20.5, 21.0, "mm-hm"),
                          u(2, "rep", 21.2, 40.0, "six seven eight"),
                          u(3, "customer", 40.5, 50.0, "a longer answer from the customer")))
    s = insights.transcript_stats(t)
    assert s.longest_rep_monologue_s == pytest.approx(40.0)
    assert s.customer_talk_s == pytest.approx(0.5 + 9.5)  # the mm-hm is still talk
    assert s.interactivity_per_min == pytest.approx(1.0)  # one switch in one minute
    # a pause of MAX_PAUSE_S or more ends the stretch
    t2 = replace(t, utterances=(t.utterances[0], replace(t.utterances[2], start_s=26.0),
                                t.utterances[3]))
    s2 = insights.transcript_stats(t2)
    assert s2.longest_rep_monologue_s == pytest.approx(20.0)
    assert s2.rep_talk_s == pytest.approx(20.0 + 14.0)  # the silence is not talk
    assert s2.interactivity_per_min == pytest.approx(1.0)  # still one change of speaker


def test_calls_without_roles_say_what_is_unknown(lib, call_ids, library_copy, capsys):
    t = lib.transcript(call_ids["acme_discovery.mp3"])
    anon = replace(t, utterances=tuple(replace(u, role=None) for u in t.utterances))
    s = insights.transcript_stats(anon, {"Timing": 2})
    assert not s.known and "role" in s.unknown_reason
    assert s.rep_talk_ratio is None and s.rep_questions is None and s.patience_s is None
    assert s.tracker_hits == {"Timing": 2}  # what is known is still given
    assert insights.transcript_stats(replace(t, utterances=())).unknown_reason

    # the same through the store and the CLI: every speaker set to "other"
    copy = Library(library_copy)
    cid = call_ids["acme_discovery.mp3"]
    for sp in copy.speakers(cid):
        copy.update_speaker(cid, sp.id, role="other")
    assert main(["stats", str(cid), "--library", str(library_copy), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rep_talk_ratio"] is None and out["unknown_reason"]
    assert main(["stats", str(cid), "--library", str(library_copy)]) == 0
    assert "unknown" in capsys.readouterr().out
    team = insights.team_stats(copy)[-1]
    assert team.calls == 6 and team.calls_unknown == 1
    png = Image.open(io.BytesIO(pictures.call_talk_picture(copy, cid))).convert("RGB")
    colours = {rgb for _, rgb in png.getcolors(1 << 20)}
    assert pictures.OTHER_RGB in colours and pictures.REP_RGB not in colours
    assert pictures.call_timeline(copy, cid)[:8] == b"\x89PNG\r\n\x1a\n"


# Per rep ----------------------------------------------------------------------------------

def test_rep_stats_average_the_rep_calls_in_a_date_range(lib, by_file):
    dana = insights.rep_stats(lib, "Dana Lee")
    acme, pine = by_file["acme_discovery.mp3"], by_file["pine_valley_competitor.mp3"]
    assert dana.calls == 2 and dana.calls_unknown == 0
    assert dana.rep_talk_ratio == pytest.approx((acme.rep_talk_ratio + pine.rep_talk_ratio) / 2)
    assert dana.rep_questions == pytest.approx((acme.rep_questions + pine.rep_questions) / 2)
    assert set(dana.call_ids) == {acme.call_id, pine.call_id}

    later = insights.rep_stats(lib, "Dana Lee", since="2025-05-01")
    assert later.call_ids == (pine.call_id,)
    assert later.rep_talk_ratio == pytest.approx(pine.rep_talk_ratio)
    assert insights.rep_stats(lib, "Dana Lee", until="2025-01-01").calls == 0

    rows = {g.label: g for g in insights.team_stats(lib)}
    assert set(rows) == {"Dana Lee", "Marcus Reed", "Priya Shah", "Tom Baker", "Team"}
    assert rows["Team"].calls == 6
    # A-players talk less and ask more than the average reps, as the sample calls are written
    for a in ("Dana Lee", "Marcus Reed"):
        for avg in ("Priya Shah", "Tom Baker"):
            assert rows[a].rep_talk_ratio < 0.55 < 0.65 < rows[avg].rep_talk_ratio
            assert rows[a].rep_questions >= 11 > rows[avg].rep_questions

    with pytest.raises(NotFoundError, match="no rep 'Nobody'"):
        insights.rep_stats(lib, "Nobody")
    with pytest.raises(InputError, match="since must be a date"):
        insights.rep_stats(lib, "Dana Lee", since="2025-13-01")
    with pytest.raises(InputError, match="empty"):
        insights.rep_stats(lib, "Dana Lee", since="2025-06-01", until="2025-05-01")


# Coaching candidates ----------------------------------------------------------------------

def test_candidates_are_the_poor_practice_calls(lib, call_ids):
    found = insights.candidates(lib)
    names = {lib.call(c.call_id).source_name for c in found}
    assert names == POOR_PRACTICE
    assert not any(c.a_player for c in found)
    assert [c.met for c in found] == sorted((c.met for c in found), reverse=True)
    by_name = {lib.call(c.call_id).source_name: c for c in found}
    redwood = by_name["redwood_overview.ogg"]
    assert {"rep_talk_above", "monologue_over_s"} <= {m.key for m in redwood.matches}
    # the link goes to the monologue itself
    assert redwood.at_s == pytest.approx(
        insights.call_stats(lib, call_ids["redwood_overview.ogg"]).longest_rep_monologue_at_s)
    maple = by_name["maple_health_pricing.mp3"]
    assert {"rep_talk_above", "price_objection"} <= {m.key for m in maple.matches}
    price = next(m for m in maple.matches if m.key == "price_objection")
    said = [u for u in lib.transcript(maple.call_id).utterances
            if u.start_s == pytest.approx(price.at_s)]
    assert said and "expensive" in said[0].text.lower()  # the moment is the objection

    every = insights.candidates(lib, include_all=True)
    assert len(every) == 6
    a_players = [c for c in every if c.a_player]
    assert max(c.met for c in a_players) < min(c.met for c in found)


def test_trainer_checklist_is_saved_and_used(library_copy):
    lib = Library(library_copy)
    assert insights.coaching_config(lib) == insights.CoachingConfig()  # defaults
    only_talk = tuple(replace(c, enabled=c.key == "rep_talk_above")
                      for c in insights.DEFAULT_CRITERIA)
    saved = insights.save_coaching_config(lib, insights.CoachingConfig(only_talk, 3))
    assert saved.effective_min_met == 1  # never more than the criteria turned on
    again = insights.coaching_config(Library(library_copy))
    assert again == saved
    assert lib.store.get_setting("coaching_criteria")["min_met"] == 3
    names = {lib.call(c.call_id).source_name for c in insights.candidates(lib)}
    assert names == POOR_PRACTICE  # the two reps who talk over 65%

    stricter = tuple(replace(c, threshold=0.775) if c.key == "rep_talk_above" else c
                     for c in only_talk)
    insights.save_coaching_config(lib, insights.CoachingConfig(stricter, 1))
    assert {lib.call(c.call_id).source_name for c in insights.candidates(lib)} == {
        "redwood_overview.ogg"}

    with pytest.raises(InputError, match="fraction"):
        insights.save_coaching_config(lib, insights.CoachingConfig(tuple(
            replace(c, threshold=65) if c.key == "rep_talk_above" else c
            for c in insights.DEFAULT_CRITERIA)))
    with pytest.raises(InputError, match="at least one"):
        insights.save_coaching_config(lib, insights.CoachingConfig(tuple(
            replace(c, enabled=False) for c in insights.DEFAULT_CRITERIA)))
    assert insights.coaching_config(lib).min_met == 1  # the refused saves changed nothing


# Pictures ---------------------------------------------------------------------------------

def colour_counts(png: bytes) -> dict[tuple[int, int, int], int]:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    return {rgb: n for n, rgb in img.getcolors(1 << 22)}


@pytest.mark.parametrize("file", FILES)
def test_talk_picture_is_red_as_much_as_the_rep_talks(lib, by_file, call_ids, file):
    png = pictures.call_talk_picture(lib, call_ids[file])
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (480, 640)
    counts = colour_counts(png)
    assert set(counts) == {pictures.BACKGROUND_RGB, pictures.REP_RGB, pictures.CUSTOMER_RGB}
    red, black = counts[pictures.REP_RGB], counts[pictures.CUSTOMER_RGB]
    assert (red + black) / sum(counts.values()) > 0.05  # the text fills the picture
    share = red / (red + black)
    transcript = lib.transcript(call_ids[file])
    rep_chars = sum(len(u.text.strip()) for u in transcript.utterances if u.role == "rep")
    all_chars = sum(len(u.text.strip()) for u in transcript.utterances)
    assert share == pytest.approx(rep_chars / all_chars, abs=0.02)  # ink follows the words
    assert share == pytest.approx(by_file[file].rep_talk_ratio, abs=0.06)  # and the talk
    if file == "redwood_overview.ogg":
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pictures.save_png(png, ARTIFACTS / "talk_picture_redwood.png")


def test_talk_picture_squeezes_a_long_call(lib, call_ids):
    t = lib.transcript(call_ids["redwood_overview.ogg"])
    png = pictures.talk_picture(t, width=160, height=120)  # too small even for 4 px text
    assert Image.open(io.BytesIO(png)).size == (160, 120)
    counts = colour_counts(png)
    assert set(counts) <= {pictures.BACKGROUND_RGB, pictures.REP_RGB, pictures.CUSTOMER_RGB,
                           pictures.OTHER_RGB}
    red, black = counts.get(pictures.REP_RGB, 0), counts.get(pictures.CUSTOMER_RGB, 0)
    assert red > 2 * black > 0  # still mostly red: the rep talks 78%
    with pytest.raises(InputError):
        pictures.talk_picture(t, width=10, height=10)


def test_rep_last_calls_picture(lib):
    png = pictures.rep_last_calls_picture(lib, "Marcus Reed", last=5)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == (2 * 300 + 10, 560 + 34)  # two calls side by side, captioned
    for x0 in (0, 310):
        panel = img.crop((x0, 34, x0 + 300, 34 + 560))
        colours = {rgb for _, rgb in panel.getcolors(1 << 20)}
        assert {pictures.REP_RGB, pictures.CUSTOMER_RGB} <= colours
    assert pictures.CAPTION_RGB in {rgb for _, rgb in img.getcolors(1 << 20)}
    with pytest.raises(InputError, match="no calls"):
        pictures.rep_last_calls_picture(lib, "Nobody")


def test_timeline_marks_turns_tracker_hits_and_clips(library_copy, call_ids):
    lib = Library(library_copy)
    cid = call_ids["redwood_overview.ogg"]
    with lib.store.write():
        lib.db["clips"].insert({"call_id": cid, "title": "The overview", "start_s": 40.0,
                                "end_s": 90.0, "format": "mp3", "file": "x.mp3",
                                "rating": "poor"})
    png = pictures.call_timeline(lib, cid)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.width == 1200 and 110 < img.height < 200
    s = insights.call_stats(lib, cid)
    span = img.width - 12 - pictures.GUTTER_PX

    def x_at(t: float) -> int:
        return round(pictures.GUTTER_PX + span * t / s.duration_s)

    mid = s.longest_rep_monologue_at_s + s.longest_rep_monologue_s / 2 + 3.3
    rep_row = (pictures.REP_Y[0] + pictures.REP_Y[1]) // 2
    customer_row = (pictures.CUSTOMER_Y[0] + pictures.CUSTOMER_Y[1]) // 2
    clip_row = (pictures.CLIPS_Y[0] + pictures.CLIPS_Y[1]) // 2
    assert img.getpixel((x_at(mid), rep_row)) == pictures.REP_RGB  # the monologue
    assert img.getpixel((x_at(mid), customer_row)) != pictures.CUSTOMER_RGB  # customer quiet
    story = s.longest_customer_story_at_s + s.longest_customer_story_s / 2
    assert img.getpixel((x_at(story), customer_row)) == pictures.CUSTOMER_RGB
    assert img.getpixel((x_at(65), clip_row)) == pictures.CLIP_RGB["poor"]
    assert img.getpixel((x_at(120), clip_row)) != pictures.CLIP_RGB["poor"]
    names = [t.name for t in tracker_list(lib)]
    colours = pictures.tracker_colours(names)
    present = {rgb for _, rgb in img.getcolors(1 << 20)}
    for name in s.tracker_hits:
        assert colours[name] in present, name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pictures.save_png(png, ARTIFACTS / "timeline_redwood.png")


# Voice of customer ------------------------------------------------------------------------

def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_voc_csv_by_tracker(lib, tmp_path):
    path, count = insights.export_voc(lib, tmp_path / "price.csv", tracker="price objection")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    rows = read_csv(path)
    assert len(rows) == count > 0
    assert list(rows[0]) == list(insights.VOC_COLUMNS)
    tracker_id = next(t.id for t in tracker_list(lib) if t.name == "Price objection")
    fired = {r[0] for r in lib.db.execute(
        "SELECT h.utterance_id FROM tracker_hits h JOIN utterances u ON u.id = h.utterance_id "
        "JOIN speakers s ON s.id = u.speaker_id WHERE h.tracker_id = ? AND s.role = 'customer'",
        [tracker_id])}
    assert count == len(fired)
    for row in rows:
        call = lib.call(int(row["call_id"]))
        assert (row["title"], row["rep"], row["account"], row["call_date"], row["outcome"]) \
            == (call.title, call.rep, call.account, call.call_date, call.outcome)
        assert "Price objection" in row["trackers"]
        said = [u for u in lib.transcript(call.id).utterances
                if u.start_s == pytest.approx(float(row["start_s"]))]
        assert said and said[0].role == "customer" and said[0].text.strip() == row["text"]
    assert any("expensive" in r["text"].lower() for r in rows)
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed into place
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"")
    assert path.stat().st_mode == plain.stat().st_mode  # the umask's mode, not owner-only


def test_voc_filters_combine(lib, tmp_path):
    every = insights.voc_rows(lib)
    customer_utterances = sum(1 for c in lib.calls() for u in lib.transcript(c.id).utterances
                              if u.role == "customer")
    assert len(every) == customer_utterances
    won = insights.voc_rows(lib, outcome="won")
    assert won and {r.outcome for r in won} == {"won"}
    assert {r.call_date for r in insights.voc_rows(lib, since="2025-06-01", until="2025-07-31")
            } == {"2025-06-17", "2025-07-08"}
    budget = insights.voc_rows(lib, query="budget")
    assert budget and all("budget" in r.text.lower() for r in budget)
    both = insights.voc_rows(lib, query="budget", outcome="won")
    assert {(r.call_id, r.start_s) for r in both} == {
        (r.call_id, r.start_s) for r in budget if r.outcome == "won"}

    path, count = insights.export_voc(lib, tmp_path / "budget.json", query="budget")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["count"] == count == len(budget)
    assert doc["filters"] == {"query": "budget"}
    assert [u["text"] for u in doc["utterances"]] == [r.text for r in budget]
    path, _ = insights.export_voc(lib, tmp_path / "data.out", fmt="csv", outcome="lost")
    assert {r["outcome"] for r in read_csv(path)} == {"lost"}

    with pytest.raises(InputError, match="no tracker 'Nope'"):
        insights.voc_rows(lib, tracker="Nope")
    with pytest.raises(InputError, match="format"):
        insights.export_voc(lib, tmp_path / "voc.txt")
    with pytest.raises(InputError, match="does not exist"):
        insights.export_voc(lib, tmp_path / "missing" / "voc.csv")


def test_voc_csv_is_formula_injection_safe():
    def row(text: str) -> insights.VocRow:
        return insights.VocRow(1, "=HYPERLINK(\"http://x\")", "@acme", "-rep", "2025-01-01",
                               "won", "+Customer", 1.0, 2.0, "0:01", "", text)

    data = insights.voc_csv([row("=1+1"), row("-2 discount"), row("+44 number"),
                             row("@SUM(A1)"), row("plain, with a comma")])
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["text"] for r in rows] == ["'=1+1", "'-2 discount", "'+44 number", "'@SUM(A1)",
                                         "plain, with a comma"]
    assert rows[0]["title"].startswith("'=") and rows[0]["account"] == "'@acme"
    assert rows[0]["rep"] == "'-rep" and rows[0]["speaker"] == "'+Customer"
    assert rows[0]["start_s"] == "1.0"  # numbers stay numbers


# CLI --------------------------------------------------------------------------------------

def test_cli_stats(sample_library, call_ids, by_file, capsys):
    root = str(sample_library[0])
    cid = call_ids["maple_health_pricing.mp3"]
    assert main(["stats", str(cid), "--library", root, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("rep_talk_ratio", "longest_rep_monologue_s", "longest_customer_story_s",
                "interactivity_per_min", "patience_s", "rep_questions", "rep_wpm",
                "tracker_hits"):
        assert key in out, key
    assert 0 <= out["rep_talk_ratio"] <= 1
    assert out["rep_talk_ratio"] == pytest.approx(truth("maple_health_pricing.mp3")[
        "rep_talk_ratio"], abs=0.03)
    assert out["rep_questions"] == 2
    assert out["tracker_hits"]["Price objection"] >= 1

    assert main(["stats", str(cid), "--library", root]) == 0
    text = capsys.readouterr().out
    assert "Rep talk ratio" in text and "77%" in text and "top performers 43%" in text

    assert main(["stats", "--rep", "Dana Lee", "--since", "2025-05-01", "--library", root,
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["calls"] == 1 and out["date_from"] == "2025-05-01"
    assert [c["call_id"] for c in out["per_call"]] == [call_ids["pine_valley_competitor.mp3"]]

    assert main(["stats", "--library", root]) == 0
    assert "Team" in capsys.readouterr().out

    assert main(["stats", "--rep", "Nobody", "--library", root]) == 2
    assert "no rep 'Nobody'" in capsys.readouterr().err
    assert main(["stats", "999", "--library", root]) == 2
    assert "no call 999" in capsys.readouterr().err
    assert main(["stats", str(cid), "--rep", "Dana Lee", "--library", root]) == 2
    assert "not both" in capsys.readouterr().err


def test_cli_candidates(sample_library, capsys):
    root = str(sample_library[0])
    assert main(["candidates", "--library", root, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lib = Library(root)
    assert {lib.call(c["call_id"]).source_name for c in out["candidates"]} == POOR_PRACTICE
    assert out["config"]["min_met"] == insights.DEFAULT_MIN_MET
    assert all(c["met"] >= 3 and c["matches"] for c in out["candidates"])
    assert main(["candidates", "--library", root]) == 0
    text = capsys.readouterr().out
    assert "Maple Health" in text and "Redwood Software" in text and "Acme" not in text
    assert main(["candidates", "--all", "--rep", "Dana Lee", "--library", root,
                 "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["candidates"]) == 2


def test_cli_export_voc_and_picture(sample_library, tmp_path, capsys):
    root = str(sample_library[0])
    out = tmp_path / "voc.csv"
    assert main(["export", "voc", "--out", str(out), "--tracker", "Price objection",
                 "--library", root]) == 0
    assert "customer utterance" in capsys.readouterr().out
    rows = read_csv(out)
    assert rows and all("Price objection" in r["trackers"] for r in rows)

    out_json = tmp_path / "voc.dat"
    assert main(["export", "voc", "--out", str(out_json), "--format", "json", "--query",
                 "budget", "--outcome", "won", "--since", "2025-01-01", "--library", root]) == 0
    capsys.readouterr()
    doc = json.loads(out_json.read_text())
    assert doc["count"] >= 1 and {u["outcome"] for u in doc["utterances"]} == {"won"}

    assert main(["export", "voc", "--out", str(tmp_path / "v.csv"), "--tracker", "Nope",
                 "--library", root]) == 2
    assert "no tracker 'Nope'" in capsys.readouterr().err
    assert main(["export", "voc", "--out", str(tmp_path / "v.xlsx"), "--library", root]) == 2
    assert "--format" in capsys.readouterr().err

    png = tmp_path / "t.png"
    assert main(["picture", "1", "--kind", "timeline", "--out", str(png),
                 "--library", root]) == 0
    assert Image.open(png).width == 1200
    assert main(["picture", "--rep", "Tom Baker", "--last", "3", "--out", str(png),
                 "--library", root]) == 0
    assert Image.open(png).size == (300, 560 + 34)
    assert main(["picture", "--out", str(png), "--library", root]) == 2


# The Insights page ------------------------------------------------------------------------

def start_insights(monkeypatch, library: Path) -> AppTest:
    monkeypatch.setenv("CLIPSTUDIO_LIBRARY", str(library))
    at = AppTest.from_file(HOME, default_timeout=90)
    at.run()
    at.switch_page(INSIGHTS_PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_insights_page(monkeypatch, library_copy, call_ids):
    lib = Library(library_copy)
    at = start_insights(monkeypatch, library_copy)
    assert at.title[0].value == "Conversation insights"
    team = at.dataframe[0].value
    assert list(team["Rep"]) == ["Dana Lee", "Marcus Reed", "Priya Shah", "Tom Baker", "Team"]
    assert list(team["Calls"]) == [2, 2, 1, 1, 6]
    assert len(at.get("vega_lite_chart")) == 3  # talk ratio, questions, monologues
    shown = "\n".join(str(m.value) for m in at.markdown) + "\n".join(
        str(c.value) for c in at.caption)
    assert "Gong Labs" in shown and "25,537" in shown and "11 to 14" in shown

    # one call: figures with their definitions, both pictures with PNG downloads
    maple = call_ids["maple_health_pricing.mp3"]
    at.selectbox(key="ins_call").select(maple).run()
    metrics = {m.label: m for m in at.metric}
    assert metrics["Rep talk ratio"].value == "77%"
    assert metrics["Rep questions"].value == "2"
    assert "43%" in metrics["Rep talk ratio"].help  # the reference, next to the figure
    assert "rep's longest turn" in metrics["Longest rep monologue"].help
    assert len(at.get("image")) == 3  # timeline, talk picture, the rep's last calls
    keys = {b.key for b in at.get("download_button")}
    assert {"ins_dl_timeline", "ins_dl_talk", "ins_dl_self", "ins_voc_csv",
            "ins_voc_json"} <= keys

    # coaching candidates: the poor-practice calls, each with moments to listen to
    candidates = {k.split("_")[-1] for k in (b.key for b in at.button)
                  if k.startswith("ins_cand_open_")}
    assert {lib.call(int(c)).source_name for c in candidates} == POOR_PRACTICE
    redwood = call_ids["redwood_overview.ogg"]
    at.button(key=f"ins_cand_open_{redwood}").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == lib.call(redwood).title  # now on the Call page
    assert at.query_params["call"] in (str(redwood), [str(redwood)])
    t = at.query_params["t"]
    t = int(t[0] if isinstance(t, list) else t)
    mono = insights.call_stats(lib, redwood).longest_rep_monologue_at_s
    assert t == int(max(0.0, mono - 2))


def test_insights_page_checklist_and_voc(monkeypatch, library_copy, call_ids):
    at = start_insights(monkeypatch, library_copy)
    at.number_input(key="ins_crit_min_met").set_value(1)
    at.checkbox(key="ins_crit_customer_story_under_s_on").uncheck()
    at.button(key="ins_crit_save").click().run()
    assert not at.exception, [e.message for e in at.exception]
    saved = insights.coaching_config(Library(library_copy))
    assert saved.min_met == 1
    assert not next(c for c in saved.criteria if c.key == "customer_story_under_s").enabled
    listed = {int(b.key.split("_")[-1]) for b in at.button
              if b.key.startswith("ins_cand_open_")}
    assert call_ids["blue_river_pricing.mp3"] in listed  # its price objection now suffices
    assert call_ids["pine_valley_competitor.mp3"] not in listed  # meets nothing enabled

    # self-coaching: a rep's figures against the team's
    at.selectbox(key="ins_self_rep").select("Tom Baker").run()
    mine = at.dataframe[1].value
    talk = mine[mine["Figure"] == "Rep talk ratio"].iloc[0]
    assert talk["You"] == "77%" and "43%" in talk["Reference"]
    assert any(b.key.startswith(f"ins_self_open_{call_ids['maple_health_pricing.mp3']}")
               for b in at.button)

    # voice of customer: the filters narrow the table
    at.selectbox(key="ins_voc_tracker").select("Price objection").run()
    table = at.dataframe[-1].value
    assert len(table) == len(insights.voc_rows(Library(library_copy),
                                               tracker="Price objection"))
    assert all("Price objection" in x for x in table["Trackers"])
    at.selectbox(key="ins_voc_outcome").select("lost").run()
    assert set(at.dataframe[-1].value["Outcome"]) == {"lost"}
