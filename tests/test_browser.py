"""The real app in a real browser: Streamlit served on a free port, Debian's Chromium driving it.

Checks what AppTest cannot: that the ``<audio>`` element actually plays from the moment a
transcript line points at, and that the pages render (screenshots land in tests/artifacts/).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipstudio import Library

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer 'ok' within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def app_library(sample_library, tmp_path_factory) -> Path:
    src, _ = sample_library
    with sqlite3.connect(src / "clipstudio.db") as conn:  # fold the WAL into the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    dest = tmp_path_factory.mktemp("browser") / "library"
    shutil.copytree(src, dest)
    return dest


@pytest.fixture(scope="module")
def app_url(app_library, tmp_path_factory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    port = free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "server.log").open("w+")
    env = {**os.environ, "CLIPSTUDIO_LIBRARY": str(app_library)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "Home.py",
         "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc)
        except (RuntimeError, TimeoutError) as exc:
            log.seek(0)
            raise RuntimeError(f"{exc}\n--- server log ---\n{log.read()}") from None
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def wait_idle(page) -> None:
    """Until Streamlit has finished running the script (no 'Running…' status widget)."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=TIMEOUT_MS,
    )


def snapshot(page, name: str) -> None:
    """A screenshot of the whole page. Streamlit scrolls inside its main section, not the
    document, so ``full_page`` alone stops at the viewport: grow the viewport to fit first."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('*')]"
        ".filter(e => e.scrollHeight > e.clientHeight + 1"
        " && getComputedStyle(e).overflowY.match(/auto|scroll/))"
        ".map(e => e.scrollHeight), document.documentElement.scrollHeight)"
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 8000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.set_viewport_size(size)


def fmt(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def test_transcript_line_plays_audio_from_there(page, app_url, app_library):
    lib = Library(app_library)
    call = next(c for c in lib.calls() if c.source_name == "acme_discovery.mp3")
    utterances = lib.transcript(call.id).utterances
    line = min(utterances[1:], key=lambda u: abs(u.start_s - 65))
    assert line.start_s > 30

    page.goto(f"{app_url}/Call?call={call.id}")
    page.get_by_role("heading", name=call.title).wait_for()
    page.get_by_text(utterances[0].text.strip()[:30]).first.wait_for()
    audio = page.locator("audio")
    audio.wait_for(state="attached")
    assert audio.count() == 1
    assert page.evaluate("() => document.querySelector('audio').currentTime") < 5

    button = page.locator(f".st-key-call_play_{line.index} button:visible")
    assert button.inner_text().strip() == f"▶ {fmt(line.start_s)}"
    button.click()
    page.get_by_text(f"Playing from {fmt(line.start_s)}").wait_for()
    assert re.search(rf"[?&]t={int(line.start_s)}\b", page.url)

    # the player must seek to the line and play on from it, not restart at 0:00
    state = {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        state = page.evaluate(
            "() => { const a = document.querySelector('audio');"
            " return {t: a.currentTime, paused: a.paused, src: a.currentSrc,"
            " err: a.error && a.error.message}; }"
        )
        if state["t"] >= line.start_s - 1 and not state["paused"]:
            break
        page.wait_for_timeout(250)
    assert state["t"] >= line.start_s - 1, state
    assert not state["paused"], state
    t0 = state["t"]
    page.wait_for_timeout(1500)
    t1 = page.evaluate("() => document.querySelector('audio').currentTime")
    assert t1 > t0, "audio is not advancing"
    assert t1 < line.start_s + 20
    snapshot(page, "call_page.png")


def test_home_and_library_list_the_calls(page, app_url, app_library):
    calls = Library(app_library).calls()
    assert len(calls) == 6

    page.goto(app_url)
    page.get_by_role("heading", name="ClipStudio").wait_for()
    wait_idle(page)
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Calls")
    assert metric.locator("[data-testid='stMetricValue']").inner_text().strip() == "6"
    for call in calls[:5]:  # the home page lists the five most recent
        page.get_by_text(call.title, exact=True).wait_for()
    assert page.locator("button", has_text="Open").count() == 5
    snapshot(page, "home.png")

    page.goto(f"{app_url}/Library")
    page.get_by_role("heading", name="Call library").wait_for()
    wait_idle(page)
    page.get_by_text("6 calls").wait_for()
    grid = page.locator("[data-testid='stDataFrame']")
    grid.wait_for()
    # glide-data-grid draws on a canvas; its accessible table mirrors the cells
    for call in calls:
        grid.get_by_text(call.title, exact=True).wait_for(state="attached")
    snapshot(page, "library.png")


def test_home_upload_through_the_file_input(page, app_url, app_library, speech_dir):
    page.goto(app_url)
    page.get_by_role("heading", name="Add recordings").wait_for()
    wait_idle(page)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
        str(speech_dir / "speech_b.wav"))
    page.get_by_text("speech_b.wav").first.wait_for()
    ingest = page.locator(".st-key-home_ingest button:visible")
    sync_api.expect(ingest).to_be_enabled(timeout=TIMEOUT_MS)
    ingest.click()
    page.get_by_text("1 ingested, 0 skipped, 0 failed").wait_for(timeout=120_000)
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Calls")
    sync_api.expect(metric.locator("[data-testid='stMetricValue']")).to_have_text("7")
    assert any(c.source_name == "speech_b.wav" for c in Library(app_library).calls())
    snapshot(page, "home_upload.png")


def test_call_speakers_render_coloured_and_edit(page, app_url, app_library):
    lib = Library(app_library)
    call = next(c for c in lib.calls() if c.diarization == "stereo")
    transcript = lib.transcript(call.id)
    rep = next(sp for sp in transcript.speakers if sp.role == "rep")
    customer = next(sp for sp in transcript.speakers if sp.role == "customer")

    page.goto(f"{app_url}/Call?call={call.id}")
    page.get_by_role("heading", name=call.title).wait_for()
    wait_idle(page)
    page.get_by_text("speakers: stereo channels").wait_for()
    # the colour syntax is rendered, not shown as text, and the two parties differ
    assert ":blue[" not in page.locator("[data-testid='stMain']").inner_text()
    page.get_by_text(transcript.utterances[0].speaker, exact=True).first.wait_for()

    def colour(text: str) -> str:
        el = page.locator("[data-testid='stMarkdownContainer'] span", has_text=text).first
        return el.evaluate("e => getComputedStyle(e).color")

    assert colour(rep.display) != colour(customer.display)

    page.get_by_role("tab", name="Speakers").click()
    card = page.locator(f".st-key-spk_card_{customer.id}")
    card.wait_for()
    total = sum(sp.talk_s for sp in transcript.speakers)
    card.get_by_text(f"{round(100 * customer.talk_s / total)}% of the call").wait_for()
    page.locator(f".st-key-spk_enroll_{rep.id} button:visible").wait_for()
    snapshot(page, "call_speakers.png")

    # rename the customer in the browser: the transcript follows
    name_box = page.locator(f".st-key-spk_name_{customer.id} input:visible")
    name_box.fill("Mark Jensen")
    card.locator(f".st-key-spk_save_{customer.id} button:visible").click()
    page.get_by_text("Saved speaker Mark Jensen").wait_for()
    wait_idle(page)
    saved = next(sp for sp in Library(app_library).transcript(call.id).speakers
                 if sp.id == customer.id)
    assert saved.name == "Mark Jensen" and saved.role == "customer"
    page.get_by_role("tab", name="Transcript").click()
    page.get_by_text("Mark Jensen", exact=True).first.wait_for()


def test_search_finds_an_objection_and_a_hit_opens_the_call(page, app_url, app_library):
    page.goto(f"{app_url}/Search?q=%22too+expensive%22&role=customer")
    page.get_by_role("heading", name="Search calls").wait_for()
    wait_idle(page)
    page.get_by_text("moment", exact=False).first.wait_for()
    strong = page.locator("[data-testid='stMarkdownContainer'] strong",
                          has_text="expensive")
    assert strong.count() >= 1  # the matched words are highlighted
    snapshot(page, "search.png")
    page.locator("button:visible", has_text="Play").first.click()
    page.wait_for_url("**/Call?*t=*")
    page.locator("audio").wait_for(state="attached")
    page.get_by_role("tab", name="Moments").wait_for()
    page.locator("[data-testid='stVegaLiteChart']").wait_for()  # talk and tracker timeline
    wait_idle(page)
    snapshot(page, "call_from_search.png")


def test_settings_page_lists_the_trackers(page, app_url):
    page.goto(f"{app_url}/Settings")
    page.get_by_role("heading", name="Library settings").wait_for()
    wait_idle(page)
    for name in ("Price objection", "Competitor mention", "Timing", "Authority", "Next steps"):
        page.locator(f"input[value='{name}']").wait_for(state="attached")
    snapshot(page, "settings.png")


def test_insights_page_renders_figures_pictures_and_candidates(page, app_url, app_library):
    lib = Library(app_library)
    by_name = {c.source_name: c for c in lib.calls()}

    page.goto(f"{app_url}/Insights")
    page.get_by_role("heading", name="Conversation insights").wait_for()
    wait_idle(page)
    sync_api.expect(page.locator("[data-testid='stVegaLiteChart']:visible")).to_have_count(3)
    page.get_by_text("Dana Lee", exact=True).first.wait_for(state="attached")
    page.get_by_text("Green line: top performers talk 43%", exact=False).wait_for()
    snapshot(page, "insights.png")

    # one call's figures and both pictures, decoded by the browser
    page.get_by_role("tab", name="Call", exact=True).click()
    page.locator("[data-testid='stMetric']:visible").first.wait_for()
    images = page.locator("[data-testid='stImage'] img:visible")
    sync_api.expect(images).to_have_count(2)
    widths = images.evaluate_all(
        "els => els.map(e => e.complete ? e.naturalWidth : 0)")
    assert widths == [1200, 480], widths  # the timeline strip, then the talk picture
    snapshot(page, "insights_call.png")

    # the coaching candidates: the poor-practice calls, with moments that open the call
    page.get_by_role("tab", name="Coaching candidates").click()
    for name in ("maple_health_pricing.mp3", "redwood_overview.ogg"):
        page.locator(f".st-key-ins_cand_card_{by_name[name].id}").wait_for()
    for name in ("acme_discovery.mp3", "blue_river_pricing.mp3"):
        assert page.locator(f".st-key-ins_cand_card_{by_name[name].id}").count() == 0
    snapshot(page, "insights_candidates.png")
    redwood = by_name["redwood_overview.ogg"]
    page.locator(f".st-key-ins_cand_open_{redwood.id} button:visible").click()
    page.wait_for_url(f"**/Call?*call={redwood.id}*")
    page.get_by_role("heading", name=redwood.title).wait_for()
    assert re.search(r"[?&]t=\d+", page.url)


def test_cut_a_clip_in_the_editor_and_play_it_on_the_clips_page(page, app_url, app_library):
    lib = Library(app_library)
    call = next(c for c in lib.calls() if c.source_name == "maple_health_pricing.mp3")
    hit = lib.search('"too expensive"', call_id=call.id).hits[0]
    page.goto(f"{app_url}/Clip_editor?call={call.id}&t={hit.start_s:.2f}")
    page.get_by_role("heading", name="Cut a clip").wait_for()
    wait_idle(page)
    page.get_by_text("too expensive").first.wait_for()
    page.locator(f".st-key-clip_title_{call.id}_new input").fill("Price: discounting at once")
    page.locator(f".st-key-clip_save_{call.id}_new button").click()
    page.get_by_text("Saved:").wait_for()
    wait_idle(page)
    snapshot(page, "clip_editor.png")
    from clipstudio.clips import list_clips

    clips = [c for c in list_clips(lib) if c.title == "Price: discounting at once"]
    assert len(clips) == 1
    page.goto(f"{app_url}/Clips")
    page.get_by_role("heading", name="Clips").wait_for()
    wait_idle(page)
    page.get_by_text("Price: discounting at once").wait_for()
    audio = page.locator(f".st-key-clips_card_{clips[0].id} audio")
    audio.wait_for(state="attached")
    duration = audio.evaluate(
        "a => new Promise(r => { if (a.readyState >= 1) r(a.duration);"
        " else a.onloadedmetadata = () => r(a.duration); })")
    assert abs(duration - clips[0].duration_s) < 0.2  # the clip file, not the whole call
    snapshot(page, "clips_page.png")


def test_trainer_builds_a_price_playlist_and_a_learner_plays_it(page, app_url, app_library):
    """Done-when of the playlists issue: a trainer builds "Handling price objections" with an
    A-player vs poor-handling comparison in the app; a learner plays it (the player moves on
    by itself at the end of an item) and their progress shows to the trainer."""
    from test_playlists import PRICE, make_sample_clips

    from clipstudio import playlists

    lib = Library(app_library)
    ids = make_sample_clips(lib)
    page.goto(f"{app_url}/Playlists")
    page.get_by_role("heading", name="Playlists").wait_for()
    wait_idle(page)
    page.locator(".st-key-pl_new_pop button:visible").first.click()
    page.locator(".st-key-pl_new_title input:visible").fill("Handling price objections")
    page.locator(".st-key-pl_new_audience input:visible").fill("new AEs, week 1")
    page.locator(".st-key-pl_new_create button:visible").click()
    page.get_by_role("heading", name="Handling price objections").wait_for()
    wait_idle(page)
    pid = next(p.id for p in playlists.list_playlists(lib)
               if p.title == "Handling price objections")

    def pick(key: str, text: str) -> None:  # type into a select box, take the first match
        box = page.locator(f".st-key-{key} input:visible")
        box.click()
        box.fill(text)
        page.get_by_role("option").filter(has_text=text).first.click()
        wait_idle(page)

    pick("pl_add_clips", "Acme: why now")
    page.locator(".st-key-pl_add_section_new input:visible").fill("Discovery")
    page.locator(".st-key-pl_add_note input:visible").fill("open questions first")
    page.locator(".st-key-pl_add_note input:visible").press("Tab")
    wait_idle(page)
    page.locator(".st-key-pl_add button:visible").click()
    page.get_by_text("Added 1 clip").wait_for()
    wait_idle(page)
    assert "Acme: why now" not in page.locator(".st-key-pl_add_clips").inner_text()  # emptied

    page.get_by_role("tab", name="Comparisons").click()
    page.locator(".st-key-pl_cmp_section_new input:visible").fill("Handling price")
    page.locator(".st-key-pl_cmp_section_new input:visible").press("Tab")
    wait_idle(page)
    pick("pl_sug_skill", PRICE)
    page.get_by_text("Marcus Reed (A-player and rated good) vs Tom Baker (rated poor)").wait_for()
    page.locator(f".st-key-pl_sug_add_{ids['good']}_{ids['poor']} button:visible").click()
    page.get_by_text("Added comparison").first.wait_for()
    wait_idle(page)
    pl = playlists.get_playlist(lib, pid)
    assert [(i.section, i.kind) for i in pl.items] == [("Discovery", "clip"),
                                                       ("Handling price", "comparison")]
    cmp_item = pl.items[1]
    assert [c.id for c in cmp_item.clips] == [ids["good"], ids["poor"]]

    page.get_by_role("tab", name="Build").click()
    box = page.locator(f".st-key-pl_item_{cmp_item.id}")
    box.get_by_text("Tom Baker").first.wait_for()
    cols = box.locator("[data-testid='stColumn']").filter(
        has=page.locator("[data-testid='stAudio']"))
    assert cols.count() == 2
    first, second = cols.nth(0).bounding_box(), cols.nth(1).bounding_box()
    assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"] + 200
    assert box.get_by_text("Rep talk").count() == 2
    snapshot(page, "playlists.png")

    # a learner plays it: at the end of item 1 the comparison opens and plays by itself
    page.goto(f"{app_url}/Learn?playlist={pid}&learner=Ana+Ruiz")
    page.get_by_role("heading", name="1. Acme: why now").wait_for()
    wait_idle(page)
    audio = page.locator("audio").first
    audio.wait_for(state="attached")
    audio.evaluate("a => { a.playbackRate = 4; return a.play(); }")
    page.get_by_role("heading", name=f"2. {cmp_item.title}").wait_for()
    wait_idle(page)
    playing = page.locator("audio").first
    page.wait_for_function("a => !a.paused && a.currentTime > 0", arg=playing.element_handle())
    prog = playlists.learner_progress(lib, pid, "Ana Ruiz")
    assert [(i.played, i.done) for i in prog.items] == [(True, False), (False, False)]
    playing.evaluate("a => a.pause()")
    page.locator(".st-key-learn_done button:visible").click()
    page.get_by_text("1 of 2 done").wait_for()
    wait_idle(page)
    assert playlists.learner_progress(lib, pid, "Ana Ruiz").done == 1
    snapshot(page, "learn.png")

    # the trainer sees it
    page.goto(f"{app_url}/Playlists?playlist={pid}")
    page.get_by_role("heading", name="Handling price objections").wait_for()
    wait_idle(page)
    page.get_by_role("tab", name="Learners").click()
    grid = page.locator("[data-testid='stDataFrame']")
    grid.get_by_text("Ana Ruiz", exact=True).wait_for(state="attached")
    grid.get_by_text("1/2", exact=True).wait_for(state="attached")
