"""Playlist exports from clips of the real sample calls: the HTML and SCORM packages (zip
contents, escaping, the manifest), the M4A's chapters read back with ffprobe or ffmpeg,
M3U8, CSV and JSON; and, in Debian's Chromium, the HTML package opened from disk (an item
played, a comparison shown) and the SCORM package reporting completion to a stub LMS.
"""

from __future__ import annotations

import csv
import functools
import http.server
import io
import json
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_playlists import make_sample_clips

from clipstudio import Library
from clipstudio import clips as C
from clipstudio import export as E
from clipstudio import playlists as P
from clipstudio.errors import InputError, NotFoundError
from clipstudio.media import ffmpeg_exe

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [  # as in tests/test_browser.py
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
XSS = "<script>alert(1)</script>"
TITLE = 'Price & "value" <training>'
FORMULA_NOTE = '=HYPERLINK("http://evil.example","click") <b>bold</b>'
CP = "{http://www.imsproject.org/xsd/imscp_rootv1p1p2}"
ADLCP = "{http://www.adlnet.org/xsd/adlcp_rootv1p2}"


@pytest.fixture(scope="module")
def made(sample_library, tmp_path_factory) -> tuple[Library, P.Playlist, dict[str, int]]:
    """A library copy with the sample clips and a playlist of them whose titles, notes and
    a speaker's name are full of markup: two clip items, a comparison and a third clip."""
    src, _ = sample_library
    with sqlite3.connect(src / "clipstudio.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = tmp_path_factory.mktemp("export") / "library"
    shutil.copytree(src, root)
    lib = Library(root)
    ids = make_sample_clips(lib)
    C.update_clip(lib, ids["disc"], title=XSS)
    good = C.get_clip(lib, ids["good"])
    rep = next(sp for sp in lib.speakers(good.call_id) if sp.role == "rep")
    lib.update_speaker(good.call_id, rep.id, name="Marcus <i>Reed</i>")
    pl = P.create_playlist(lib, TITLE, audience="new AEs & <interns>",
                           description="Turn price into value </p><p>not discounts")
    P.add_items(lib, pl.id, [ids["disc"]], section="Discovery <1>", note=FORMULA_NOTE)
    P.add_items(lib, pl.id, [ids["good"]], section="Handling price",
                note="listen for the cost of inaction")
    P.add_comparison(lib, pl.id, [ids["good"], ids["poor"]], title="A-player vs <discount>",
                     clip_notes=["asks what the budget is for", "discounts & rambles"])
    P.add_items(lib, pl.id, [ids["poor"]], note="count the discounts")
    return lib, P.get_playlist(lib, pl.id), ids


@pytest.fixture(scope="module")
def exports(made, tmp_path_factory) -> dict[str, Path]:
    lib, pl, _ = made
    out = tmp_path_factory.mktemp("exports")
    return {f: E.export_playlist(lib, pl.id, f, out / E.file_name(pl, f))
            for f in E.EXPORT_FORMATS}


def unzip(path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(path) as zf:
        zf.extractall(dest)
    return dest


# packages -------------------------------------------------------------------------------

def test_html_package_holds_page_clips_transcripts_and_escapes_everything(made, exports):
    lib, pl, ids = made
    path = exports["html"]
    assert path.name == "price-value-training.zip"
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        page = zf.read("index.html").decode()
        clip_ids = {ids["disc"], ids["good"], ids["poor"]}
        assert names == ({"index.html", "playlist.json"}
                         | {f"clips/clip-{i}.mp3" for i in clip_ids}
                         | {f"transcripts/clip-{i}.txt" for i in clip_ids})
        for i in clip_ids:  # the clip files are copied as they are
            assert zf.read(f"clips/clip-{i}.mp3") == Path(C.get_clip(lib, i).path).read_bytes()
        text = zf.read(f"transcripts/clip-{ids['good']}.txt").decode()
        assert "too expensive" in text and "Marcus <i>Reed</i> (rep):" in text
        assert json.loads(zf.read("playlist.json"))["title"] == TITLE
        assert "imsmanifest.xml" not in names

    # every title, note, name and transcript line is escaped; the only script is ours
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert len(re.findall(r"<script\b", page)) == 1
    assert "<title>Price &amp; &quot;value&quot; &lt;training&gt;</title>" in page
    assert "Marcus &lt;i&gt;Reed&lt;/i&gt;" in page and "<i>Reed</i>" not in page
    assert "new AEs &amp; &lt;interns&gt;" in page
    assert "&lt;/p&gt;&lt;p&gt;not discounts" in page
    assert "<h2>Discovery &lt;1&gt;</h2>" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "A-player vs &lt;discount&gt;" in page
    assert "discounts &amp; rambles" in page
    # items in order with relative audio, the comparison as two columns
    assert [int(n) for n in re.findall(r'<article class="item \w+" id="item-(\d+)"', page)] == [
        1, 2, 3, 4]
    assert page.count('<div class="columns" style="--n:2">') == 1
    srcs = re.findall(r'<audio [^>]*src="([^"]+)"', page)
    assert srcs == [f"clips/clip-{ids['disc']}.mp3", f"clips/clip-{ids['good']}.mp3",
                    f"clips/clip-{ids['good']}.mp3", f"clips/clip-{ids['poor']}.mp3",
                    f"clips/clip-{ids['poor']}.mp3"]
    views = P.comparison(lib, pl.items[2].id).columns
    assert f"<dd>{views[0].rep_talk_share:.0%}</dd>" in page
    assert "http" not in page.replace("http://evil.example", "")  # nothing fetched online


def test_scorm_manifest_is_valid_and_lists_every_file(exports):
    with zipfile.ZipFile(exports["scorm"]) as zf:
        names = set(zf.namelist())
        manifest = ET.fromstring(zf.read("imsmanifest.xml"))
        page = zf.read("index.html").decode()
    assert manifest.tag == f"{CP}manifest"
    assert manifest.findtext(f"{CP}metadata/{CP}schema") == "ADL SCORM"
    assert manifest.findtext(f"{CP}metadata/{CP}schemaversion") == "1.2"
    ids = [e.get("identifier") for e in manifest.iter() if e.get("identifier")]
    assert len(ids) == len(set(ids)) >= 4
    orgs = manifest.find(f"{CP}organizations")
    org = orgs.find(f"{CP}organization")
    assert orgs.get("default") == org.get("identifier")
    assert org.findtext(f"{CP}title") == TITLE
    resources = {r.get("identifier"): r for r in manifest.iter(f"{CP}resource")}
    for item in org.iter(f"{CP}item"):
        assert item.get("identifierref") in resources
    (sco,) = resources.values()
    assert sco.get(f"{ADLCP}scormtype") == "sco" and sco.get("href") == "index.html"
    listed = [f.get("href") for f in sco.iter(f"{CP}file")]
    assert len(listed) == len(set(listed))
    assert set(listed) == names - {"imsmanifest.xml"}  # every file, and only files there
    assert "LMSInitialize" in page and "cmi.core.lesson_status" in page


def read_chapters(path: Path) -> tuple[list[tuple[float, float, str]], float]:
    """Chapters (start, end, title) and duration: ffprobe when it is on the PATH, else the
    ffmetadata ffmpeg writes (the bundled ffmpeg has no ffprobe)."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe:
        out = json.loads(subprocess.run(
            [ffprobe, "-v", "error", "-print_format", "json", "-show_chapters",
             "-show_format", str(path)], capture_output=True, check=True, text=True).stdout)
        return ([(float(c["start_time"]), float(c["end_time"]), c["tags"]["title"])
                 for c in out["chapters"]], float(out["format"]["duration"]))
    proc = subprocess.run([ffmpeg_exe(), "-v", "info", "-i", str(path), "-f", "ffmetadata",
                           "-"], capture_output=True, text=True, check=True)
    chapters, cur = [], None
    for line in proc.stdout.splitlines():
        if line == "[CHAPTER]":
            cur = {}
            chapters.append(cur)
        elif cur is not None and "=" in line:
            k, v = line.split("=", 1)
            cur[k] = v.replace("\\=", "=").replace("\\;", ";").replace("\\#", "#")
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", proc.stderr).groups()
    out = []
    for c in chapters:
        num, den = (int(x) for x in c["TIMEBASE"].split("/"))
        out.append((int(c["START"]) * num / den, int(c["END"]) * num / den, c["title"]))
    return out, int(h) * 3600 + int(m) * 60 + float(s)


def test_m4a_has_a_chapter_per_clip_matching_the_items(made, exports):
    _, pl, _ = made
    found, duration = read_chapters(exports["m4a"])
    expected = E.chapters(pl)
    assert [t for _, _, t in found] == [c.title for c in expected]
    assert [t.split(".")[0] for _, _, t in found] == ["1", "2", "3", "3", "4"]
    assert "(1/2: Marcus Reed)" in found[2][2] and "(2/2: Tom Baker)" in found[3][2]
    assert found[0][0] == pytest.approx(0.0, abs=0.01)
    for (start, end, _), nxt, ch in zip(found, found[1:] + [None], expected, strict=True):
        gap = E.SEPARATOR_S if nxt else 0.0
        assert end - start == pytest.approx(ch.clip.duration_s + gap, abs=0.05)
        if nxt:
            assert nxt[0] == pytest.approx(end, abs=0.01)  # contiguous
    total = sum(c.clip.duration_s for c in expected) + E.SEPARATOR_S * (len(expected) - 1)
    assert duration == pytest.approx(total, abs=0.1)
    assert found[-1][1] == pytest.approx(duration, abs=0.1)
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(exports["m4a"])],
                           capture_output=True, text=True).stderr
    assert re.search(r"Audio: aac", probe) and f"title           : {TITLE}" in probe


def test_m3u8_lists_each_clip_with_its_title_and_length(made, exports):
    _, pl, _ = made
    text = exports["m3u8"].read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    entries = [(lines[n], lines[n + 1]) for n, line in enumerate(lines)
               if line.startswith("#EXTINF:")]
    expected = E.chapters(pl)
    assert len(entries) == len(expected) == 5
    for (info, path), ch in zip(entries, expected, strict=True):
        seconds, title = re.fullmatch(r"#EXTINF:(\d+),(.+)", info).groups()
        assert int(seconds) == round(ch.clip.duration_s) and title == ch.title
        assert Path(path).is_file() and Path(path) == Path(ch.clip.path).resolve()
    assert XSS in entries[0][0]  # plain text here, as players show it


def test_csv_and_json_carry_the_playlist_and_are_formula_safe(made, exports):
    lib, pl, ids = made
    raw = exports["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["position"], r["kind"], r["column"]) for r in rows] == [
        ("1", "clip", "1"), ("2", "clip", "1"), ("3", "comparison", "1"),
        ("3", "comparison", "2"), ("4", "clip", "1")]
    assert rows[0]["item_note"] == "'" + FORMULA_NOTE  # never run as a formula
    assert rows[0]["clip_title"] == XSS and rows[0]["section"] == "Discovery <1>"
    assert rows[2]["clip_note"] == "asks what the budget is for"
    assert rows[2]["rep"] == "Marcus Reed" and rows[2]["a_player"] == "yes"
    assert float(rows[2]["rep_talk_share"]) < float(rows[3]["rep_talk_share"])
    assert int(rows[2]["rep_questions"]) >= 2 and rows[3]["rep_questions"] == "0"

    doc = json.loads(exports["json"].read_text(encoding="utf-8"))
    assert doc["title"] == TITLE and doc["sections"] == ["Discovery <1>", "Handling price"]
    assert [i["kind"] for i in doc["items"]] == ["clip", "clip", "comparison", "clip"]
    cmp_ = doc["items"][2]
    assert [c["clip_id"] for c in cmp_["clips"]] == [ids["good"], ids["poor"]]
    assert cmp_["clips"][1]["note"] == "discounts & rambles"
    assert any("too expensive" in line["text"] for line in cmp_["clips"][0]["transcript"])
    assert cmp_["clips"][0]["rep_questions"] and cmp_["clips"][0]["rep_talk_share"] < 0.6
    assert E.export_bytes(lib, pl.id, "json") == exports["json"].read_bytes()


def test_export_refusals_leave_nothing_behind(made, tmp_path):
    lib, pl, _ = made
    with pytest.raises(InputError, match="export format must be one of"):
        E.export_playlist(lib, pl.id, "pdf", tmp_path / "x.pdf")
    with pytest.raises(InputError, match="does not exist"):
        E.export_playlist(lib, pl.id, "html", tmp_path / "nope" / "x.zip")
    with pytest.raises(InputError, match="is a folder"):
        E.export_playlist(lib, pl.id, "csv", tmp_path)
    with pytest.raises(NotFoundError, match="no playlist 404"):
        E.export_playlist(lib, 404, "json", tmp_path / "x.json")
    empty = P.create_playlist(lib, "Nothing yet")
    with pytest.raises(InputError, match="has no items to export"):
        E.export_playlist(lib, empty.id, "scorm", tmp_path / "x.zip")
    P.delete_playlist(lib, empty.id)
    assert list(tmp_path.iterdir()) == []


# in the browser -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    with sync_api.sync_playwright() as pw:
        # Chromium gives every file:// page its own origin, so a SCO in an iframe could not
        # reach its LMS parent from disk; an LMS serves both from one origin (the http
        # test), and this flag gives the from-disk test the same footing.
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=[*CHROMIUM_ARGS, "--allow-file-access-from-files"])
        yield b
        b.close()


@pytest.fixture
def page(chromium):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()
    assert not dialogs, f"a script from the data ran: {dialogs}"


def wait_for(fn, timeout_s: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.browser
def test_html_package_plays_from_disk_and_shows_a_comparison(page, made, exports, tmp_path):
    _, pl, _ = made
    folder = unzip(exports["html"], tmp_path / "html")
    page.goto((folder / "index.html").as_uri())
    page.get_by_role("heading", name=TITLE).wait_for()
    assert page.evaluate("() => window.clipstudio.items") == 4
    assert page.get_by_text(XSS).first.is_visible()  # shown as text, not run
    page.get_by_text("0 of 4 played").wait_for()
    page.screenshot(path=str(ARTIFACTS / "export_index.png"), full_page=True)

    # play the first item: the audio loads from disk, advances and ends
    first = page.locator("#item-1 audio")
    first.evaluate("a => { a.playbackRate = 4; return a.play(); }")
    t0 = first.evaluate("a => a.currentTime")
    wait_for(lambda: first.evaluate("a => a.currentTime") > t0 + 0.5, what="audio advancing")
    page.locator("#auto").uncheck()  # stop after this one
    wait_for(lambda: page.evaluate("() => window.clipstudio.played()") == ["1"],
             what="item 1 played")
    page.get_by_text("1 of 4 played").wait_for()
    assert page.locator("#item-1.played").count() == 1
    assert page.locator("#item-2 audio").evaluate("a => a.paused")

    # the comparison: reached from the contents, its two columns side by side
    page.get_by_role("link", name="A-player vs <discount>").click()
    cmp_ = page.locator("#item-3")
    cmp_.wait_for()
    assert "#item-3" in page.url
    cols = cmp_.locator(".col")
    assert cols.count() == 2
    boxes = [cols.nth(k).bounding_box() for k in range(2)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[1]["x"] > boxes[0]["x"] + 300
    assert cmp_.get_by_text("What to notice:").count() == 2
    assert cols.nth(0).get_by_text("Marcus <i>Reed</i>").first.is_visible()
    colour = cols.nth(0).locator(".role-rep .spk").first.evaluate(
        "e => getComputedStyle(e).color")
    other = cols.nth(0).locator(".role-customer .spk").first.evaluate(
        "e => getComputedStyle(e).color")
    assert colour != other  # speakers coloured by role
    # a transcript timestamp plays that column from there
    cols.nth(1).locator("button.ts").nth(1).click()
    audio = cols.nth(1).locator("audio")
    wait_for(lambda: not audio.evaluate("a => a.paused"), what="column 2 playing")
    assert audio.evaluate("a => a.currentTime") >= 1.0
    audio.evaluate("a => a.pause()")
    cmp_.screenshot(path=str(ARTIFACTS / "export_comparison.png"))


LMS_STUB = """<!doctype html>
<html><head><meta charset="utf-8"><title>Stub LMS</title>
<script>
window.calls = [];
window.cmi = {"cmi.core.lesson_status": "not attempted", "cmi.suspend_data": ""};
function rec(name) {
  return function (a, b) {
    window.calls.push([name, a === undefined ? null : String(a),
                       b === undefined ? null : String(b)]);
    if (name === "LMSSetValue") { window.cmi[a] = String(b); return "true"; }
    if (name === "LMSGetValue") { return window.cmi[a] || ""; }
    return "true";
  };
}
window.API = {
  LMSInitialize: rec("LMSInitialize"), LMSFinish: rec("LMSFinish"),
  LMSGetValue: rec("LMSGetValue"), LMSSetValue: rec("LMSSetValue"),
  LMSCommit: rec("LMSCommit"), LMSGetLastError: function () { return "0"; },
  LMSGetErrorString: function () { return ""; }, LMSGetDiagnostic: function () { return ""; }
};
</script></head>
<body><iframe id="sco" src="index.html" style="width: 100%; height: 860px"></iframe></body>
</html>
"""


@pytest.fixture
def scorm_folder(exports, tmp_path) -> Path:
    folder = unzip(exports["scorm"], tmp_path / "scorm")
    (folder / "lms.html").write_text(LMS_STUB, encoding="utf-8")
    return folder


@pytest.fixture
def served(scorm_folder) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(scorm_folder))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def play_scorm_to_completion(page, url: str) -> list[list]:
    page.goto(url)
    frame = page.frame_locator("#sco")
    frame.get_by_role("button", name="Play all").wait_for()
    wait_for(lambda: page.evaluate("() => window.calls.length") >= 1, what="LMSInitialize")
    assert page.evaluate("() => window.cmi['cmi.core.lesson_status']") == "incomplete"
    sco = next(f for f in page.frames if f.url.endswith("index.html"))
    sco.evaluate("() => document.querySelectorAll('audio')"
                 ".forEach(a => { a.playbackRate = 16; })")
    frame.get_by_role("button", name="Play all").click()
    wait_for(lambda: page.evaluate("() => window.cmi['cmi.core.lesson_status']")
             == "completed", timeout_s=60, what="completion reported to the LMS")
    wait_for(lambda: page.evaluate("() => window.calls.some(c => c[0] === 'LMSFinish')"),
             what="LMSFinish")
    assert sco.evaluate("() => window.clipstudio.played()") == ["1", "2", "3", "4"]
    return page.evaluate("() => window.calls")


@pytest.mark.browser
@pytest.mark.parametrize("where", ["disk", "http"])
def test_scorm_package_reports_completion_to_the_lms(page, scorm_folder, served, where):
    url = ((scorm_folder / "lms.html").as_uri() if where == "disk"
           else f"{served}/lms.html")
    calls = play_scorm_to_completion(page, url)
    names = [c[0] for c in calls]
    assert names[0] == "LMSInitialize"
    sets = [(c[1], c[2]) for c in calls if c[0] == "LMSSetValue"]
    status = [v for k, v in sets if k == "cmi.core.lesson_status"]
    assert status == ["incomplete", "completed"]
    assert ("cmi.suspend_data", "1,2,3,4") in sets
    done_at = next(n for n, c in enumerate(calls)
                   if c[:3] == ["LMSSetValue", "cmi.core.lesson_status", "completed"])
    assert "LMSCommit" in names[done_at:] and names[-1] == "LMSFinish"
    assert names.count("LMSFinish") == 1
    if where == "disk":
        page.screenshot(path=str(ARTIFACTS / "export_scorm.png"))

    # the learner comes back: the SCO resumes from the LMS's record, completed stays so
    page.evaluate("() => { document.getElementById('sco').src = 'index.html?again'; }")
    wait_for(lambda: page.evaluate(
        "() => window.calls.filter(c => c[0] === 'LMSInitialize').length") == 2,
        what="a second LMSInitialize")
    sco = next(f for f in page.frames if "again" in f.url)
    wait_for(lambda: sco.evaluate("() => window.clipstudio && window.clipstudio.played()")
             == ["1", "2", "3", "4"], what="played items restored")
    later = page.evaluate("() => window.calls")[len(calls):]
    assert not [c for c in later if c[0] == "LMSSetValue" and c[1] == "cmi.core.lesson_status"]
    assert page.evaluate("() => window.cmi['cmi.core.lesson_status']") == "completed"
