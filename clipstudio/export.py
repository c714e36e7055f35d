"""Playlist exports: an offline HTML package, a SCORM 1.2 package, M3U8, one continuous M4A
with chapters, JSON and CSV.

* **html** (zip): ``index.html`` (inline CSS and JavaScript, no server, no network),
  ``clips/`` (the clip files), ``transcripts/`` (plain text per clip) and
  ``playlist.json``. Items play in order with auto-advance; comparisons show their clips
  in columns side by side. Every title, note and transcript text is HTML-escaped.
* **scorm** (zip): the same content plus ``imsmanifest.xml`` (SCORM 1.2, one SCO). The page
  finds the LMS's ``API`` in a parent or opener window, calls ``LMSInitialize``, sets
  ``cmi.core.lesson_status`` to ``incomplete``, then to ``completed`` once every item has
  been played (to its end, or to within half a second of it), and commits and finishes.
  Which items were played is kept in ``cmi.suspend_data``, so a learner can resume.
* **m3u8**: ``#EXTM3U`` with an ``#EXTINF:<seconds>,<title>`` line before each clip file
  (absolute paths into the library); a comparison gives one entry per clip.
* **m4a**: the playlist as one AAC file, a soft tone in 0.8 s of silence between items,
  and a chapter per item (per clip for comparisons) read from an ffmetadata file.
* **json** / **csv**: the playlist, one CSV row per clip of each item, formula-safe.

Every file is written under a temporary name in the destination folder and renamed into
place, so nobody ever sees half an export.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
import secrets
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .clips import fmt
from .errors import InputError, MediaError
from .insights import csv_safe, write_atomic
from .media import run_ffmpeg
from .models import Clip
from .playlists import (
    ClipView,
    Playlist,
    PlaylistItem,
    get_playlist,
    item_views,
    playlist_json,
)

if TYPE_CHECKING:
    from .library import Library

EXPORT_FORMATS = ("html", "scorm", "m3u8", "m4a", "json", "csv")
EXTENSIONS = {"html": "zip", "scorm": "zip", "m3u8": "m3u8", "m4a": "m4a", "json": "json",
              "csv": "csv"}
MIME_TYPES = {"html": "application/zip", "scorm": "application/zip",
              "m3u8": "audio/x-mpegurl", "m4a": "audio/mp4", "json": "application/json",
              "csv": "text/csv"}
SEPARATOR_S = 0.8  # between items in the M4A
TONE_S = 0.2  # a soft tone in the middle of the separator
TONE_HZ = 660
SAMPLE_RATE = 44100
PLAYED_SLACK_S = 0.5  # "played" = ended, or reached within this of the end
CSV_COLUMNS = ("position", "section", "kind", "item_title", "item_note", "column", "clip_id",
               "clip_title", "call_title", "rep", "a_player", "rating", "skills", "start_s",
               "end_s", "duration_s", "clip_note", "rep_talk_share", "rep_questions")


def check_format(fmt_name: str) -> str:
    name = (fmt_name or "").strip().lower()
    if name not in EXPORT_FORMATS:
        raise InputError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, "
                         f"not {fmt_name!r}")
    return name


def file_name(playlist: Playlist, fmt_name: str) -> str:
    """A download name: the title as a slug, ``-scorm`` for SCORM, the format's extension."""
    fmt_name = check_format(fmt_name)
    slug = re.sub(r"[^a-z0-9]+", "-", playlist.title.lower()).strip("-")[:60] or "playlist"
    return f"{slug}{'-scorm' if fmt_name == 'scorm' else ''}.{EXTENSIONS[fmt_name]}"


def export_playlist(lib: Library, playlist_id: int | str, fmt_name: str,
                    out: str | Path) -> Path:
    """Write the playlist in ``fmt_name`` to ``out`` (a file; its folder must exist)."""
    fmt_name = check_format(fmt_name)
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out} is a folder; give a file name")
    if not out.parent.exists():
        raise InputError(f"folder {out.parent} does not exist")
    playlist = get_playlist(lib, playlist_id)
    if not playlist.items:
        raise InputError(f"playlist {playlist.id} ({playlist.title!r}) has no items to export")
    if fmt_name in ("html", "scorm"):
        return _write_zip(out, package_files(lib, playlist, scorm=fmt_name == "scorm"))
    if fmt_name == "m4a":
        return write_m4a(playlist, out)
    data = {"m3u8": lambda: m3u8(playlist).encode("utf-8"),
            "json": lambda: (json.dumps(playlist_json(lib, playlist, detail=True), indent=2,
                                        ensure_ascii=False) + "\n").encode("utf-8"),
            "csv": lambda: playlist_csv(lib, playlist)}[fmt_name]()
    return write_atomic(out, data)


def export_bytes(lib: Library, playlist_id: int | str, fmt_name: str) -> bytes:
    """The export as bytes (for a download button)."""
    playlist = get_playlist(lib, playlist_id)
    with tempfile.TemporaryDirectory(prefix="clipstudio-export-") as tmp:
        path = export_playlist(lib, playlist.id, fmt_name,
                               Path(tmp) / file_name(playlist, fmt_name))
        return path.read_bytes()


# the packages ---------------------------------------------------------------------------

def _arc_name(clip: Clip) -> str:
    return f"clips/clip-{clip.id}{Path(clip.path).suffix.lower()}"


AUDIO_MIME = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".opus": "audio/ogg",
              ".wav": "audio/wav"}


def data_uri(clip: Clip) -> str:
    """The clip's audio as a ``data:`` address (for a page that cannot link to files)."""
    path = Path(clip.path)
    if not path.is_file():
        raise MediaError(f"clip {clip.id}'s file is missing; re-cut the clip", path=str(path))
    mime = AUDIO_MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def package_files(lib: Library, playlist: Playlist, *, scorm: bool) -> dict[str, Path | bytes]:
    """Archive name -> a file to copy, or the bytes to write."""
    views = {item.id: item_views(lib, item) for item in playlist.items}
    files: dict[str, Path | bytes] = {}
    for item in playlist.items:
        for view in views[item.id]:
            src = Path(view.clip.path)
            if not src.is_file():
                raise MediaError(f"clip {view.clip.id}'s file is missing; re-cut the clip "
                                 "(Call page, or `clipstudio clip-edit ID --format mp3`)",
                                 path=str(src))
            files[_arc_name(view.clip)] = src
            files[f"transcripts/clip-{view.clip.id}.txt"] = _transcript_text(view).encode()
    files["playlist.json"] = (json.dumps(playlist_json(lib, playlist, detail=True), indent=2,
                                         ensure_ascii=False) + "\n").encode("utf-8")
    files["index.html"] = render_index(playlist, views, scorm=scorm).encode("utf-8")
    if scorm:
        files["imsmanifest.xml"] = scorm_manifest(playlist, sorted(files))
    return dict(sorted(files.items(), key=lambda kv: (kv[0] != "index.html", kv[0])))


def _transcript_text(view: ClipView) -> str:
    c = view.clip
    head = [c.title, f"{c.call_title} · {c.rep or 'unknown rep'} · {fmt(c.duration_s)}", ""]
    body = [f"[{fmt(line.start_s)}] {line.speaker or 'Unknown'}"
            f"{f' ({line.role})' if line.role else ''}: {line.text}" for line in view.lines]
    return "\n".join(head + body) + "\n"


def _write_zip(out: Path, files: dict[str, Path | bytes]) -> Path:
    tmp = out.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}.{out.name}")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name, content in files.items():
                audio = name.startswith("clips/")  # already compressed
                kind = zipfile.ZIP_STORED if audio else zipfile.ZIP_DEFLATED
                if isinstance(content, Path):
                    zf.write(content, name, compress_type=kind)
                else:
                    zf.writestr(name, content, compress_type=kind)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


SCORM_NS = {
    "": "http://www.imsproject.org/xsd/imscp_rootv1p1p2",
    "adlcp": "http://www.adlnet.org/xsd/adlcp_rootv1p2",
}


def scorm_manifest(playlist: Playlist, files: Sequence[str]) -> bytes:
    """``imsmanifest.xml``: SCORM 1.2, one organisation with one item, one SCO resource
    (``index.html``) listing every file of the package."""
    cp, adl = SCORM_NS[""], SCORM_NS["adlcp"]
    ET.register_namespace("", cp)
    ET.register_namespace("adlcp", adl)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, tag, attrs)
        if text is not None:
            e.text = text
        return e

    root = ET.Element(f"{{{cp}}}manifest",
                      {"identifier": f"CLIPSTUDIO-PLAYLIST-{playlist.id}", "version": "1.0"})
    meta = el(root, f"{{{cp}}}metadata")
    el(meta, f"{{{cp}}}schema", "ADL SCORM")
    el(meta, f"{{{cp}}}schemaversion", "1.2")
    orgs = el(root, f"{{{cp}}}organizations", default="ORG-1")
    org = el(orgs, f"{{{cp}}}organization", identifier="ORG-1")
    el(org, f"{{{cp}}}title", playlist.title)
    item = el(org, f"{{{cp}}}item", identifier="ITEM-1", identifierref="RES-1",
              isvisible="true")
    el(item, f"{{{cp}}}title", playlist.title)
    resources = el(root, f"{{{cp}}}resources")
    res = el(resources, f"{{{cp}}}resource", identifier="RES-1", type="webcontent",
             href="index.html", **{f"{{{adl}}}scormtype": "sco"})
    for name in ["index.html", *[f for f in files if f != "index.html"]]:
        el(res, f"{{{cp}}}file", href=name)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# index.html -----------------------------------------------------------------------------

def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _clock(seconds: float) -> str:
    s = int(max(0.0, seconds))  # whole seconds down, as audio players show them
    return f"{s // 60}:{s % 60:02d}"


def _share(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0%}"


def _column(view: ClipView, seq: int, label: str, src: str) -> str:
    c = view.clip
    badges = []
    if c.a_player:
        badges.append('<span class="badge star">★ A-player</span>')
    badges.append(f'<span class="badge rating-{_e(c.rating)}">{_e(c.rating)}</span>')
    lines = "\n".join(
        f'<p class="line role-{_e(line.role or "none")}">'
        f'<button type="button" class="ts" data-t="{line.start_s:.2f}" '
        f'title="Play from here">{_clock(line.start_s)}</button> '
        f'<span class="spk">{_e(line.speaker or "Unknown")}</span> {_e(line.text)}</p>'
        for line in view.lines)
    questions = "".join(f"<li>{_e(q)}</li>" for q in view.rep_questions)
    if questions:
        questions = (f'<details class="questions"><summary>Rep questions</summary>'
                     f"<ul>{questions}</ul></details>")
    note = (f'<p class="col-note"><strong>What to notice:</strong> {_e(view.note)}</p>'
            if view.note else "")
    sub = c.call_title
    if label:  # a comparison's column: which clip of the call, too
        sub = c.title if c.call_title in c.title else f"{c.title} · {c.call_title}"
    head = f'<span class="label">{_e(label)}</span> ' if label else ""
    return f"""<div class="col">
<div class="col-head">{head}<strong>{_e(c.rep or "Unknown rep")}</strong>
{" ".join(badges)}<div class="call">{_e(sub)}</div></div>
<audio controls preload="metadata" src="{_e(src)}" data-seq="{seq}" data-clip="{c.id}"></audio>
<dl class="stats"><div><dt>Duration</dt><dd>{_clock(view.duration_s)}</dd></div>
<div><dt>Rep talk</dt><dd>{_share(view.rep_talk_share)}</dd></div>
<div><dt>Rep questions</dt><dd>{len(view.rep_questions)}</dd></div></dl>
{note}{questions}
<details class="transcript" open><summary>Transcript</summary>
{lines}
</details>
</div>"""


def item_html(item: PlaylistItem, views: Sequence[ClipView], *, seq_start: int = 0,
              src: Callable[[Clip], str] = _arc_name) -> str:
    """One item as an ``<article>``: its note, then a column per clip (title, audio, figures,
    what to notice, transcript). ``src`` gives each ``<audio>`` its address."""
    cols = [_column(view, seq_start + k, f"Clip {k + 1}" if item.is_comparison else "",
                    src(view.clip)) for k, view in enumerate(views)]
    note = (f'<p class="note"><strong>Listen for:</strong> {_e(item.note)}</p>'
            if item.note else "")
    kind = "Comparison · " if item.is_comparison else ""
    return (f'<article class="item {item.kind}" id="item-{item.position}" '
            f'data-item="{item.position}">\n<h3><span class="tick" aria-hidden="true">'
            f'</span><span class="num">{item.position}</span> {_e(item.title)}</h3>\n'
            f'<p class="meta">{kind}{_clock(item.duration_s)}</p>\n{note}\n'
            f'<div class="columns" style="--n:{len(cols)}">\n' + "\n".join(cols)
            + "\n</div>\n</article>")


def render_index(playlist: Playlist, views: dict[int, tuple[ClipView, ...]], *,
                 scorm: bool = False) -> str:
    """The package's page: every item in order, comparisons as columns side by side."""
    seq = 0
    body, toc = [], []
    for section in playlist.sections:
        articles = []
        for item in section.items:
            articles.append(item_html(item, views[item.id], seq_start=seq))
            seq += len(views[item.id])
            toc.append(f'<li data-item="{item.position}"><a href="#item-{item.position}">'
                       f'{_e(item.title)}</a></li>')
        heading = f"<h2>{_e(section.name)}</h2>\n" if section.name else ""
        body.append(f'<section class="section">\n{heading}' + "\n".join(articles)
                    + "\n</section>")
    meta = " · ".join(x for x in (
        _e(playlist.audience) if playlist.audience else "",
        f"{len(playlist.items)} item{'s' if len(playlist.items) != 1 else ''}",
        _clock(playlist.duration_s)) if x)
    desc = f'<p class="desc">{_e(playlist.description)}</p>' if playlist.description else ""
    scorm_js = _SCORM_JS if scorm else "var LMS = null;"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ClipStudio">
<title>{_e(playlist.title)}</title>
<style>{PAGE_CSS}</style>
</head>
<body>
<header>
<h1>{_e(playlist.title)}</h1>
<p class="meta">{meta}</p>
{desc}
<div class="controls">
<button type="button" id="play-all">▶ Play all</button>
<label><input type="checkbox" id="auto" checked> Auto-advance</label>
<span id="progress" aria-live="polite"></span>
<progress id="bar" max="{len(playlist.items)}" value="0"></progress>
</div>
<nav class="toc"><ol>
{chr(10).join(toc)}
</ol></nav>
</header>
<main>
{chr(10).join(body)}
</main>
<footer>Made with ClipStudio. Works offline: open index.html in any browser.</footer>
<script>
{scorm_js}
{_PLAYER_JS.replace("__SLACK__", str(PLAYED_SLACK_S))}
</script>
</body>
</html>
"""


PAGE_CSS = """
:root, :host { --rep: #1f5fa8; --customer: #b34d00; --other: #666; --line: #ddd; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
  color: #1d1d1f; background: #fafafa; }
header, main, footer { max-width: 1500px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 28px 0 8px; font-size: 20px; border-bottom: 2px solid var(--line);
  padding-bottom: 4px; }
h3 { margin: 0 0 2px; font-size: 17px; }
.meta { color: #555; margin: 2px 0 8px; font-size: 14px; }
.desc { margin: 4px 0 10px; }
.controls { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin: 10px 0; }
.controls button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid
  #1f5fa8; background: #1f5fa8; color: #fff; cursor: pointer; }
.controls progress { width: 200px; }
.toc ol { margin: 4px 0 8px; padding-left: 22px; columns: 2; }
.toc li.played::marker { color: #2e7d32; }
.toc li.played a::after { content: " ✓"; color: #2e7d32; }
.item { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 16px; margin: 12px 0; }
.item.current { border-color: #1f5fa8; box-shadow: 0 0 0 2px #1f5fa833; }
.item.played .tick::before { content: "✓ "; color: #2e7d32; }
.num { display: inline-block; min-width: 24px; color: #888; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 6px 10px; margin: 6px 0; }
.columns { display: grid; grid-template-columns: repeat(var(--n), minmax(0, 1fr));
  gap: 14px; margin-top: 8px; }
.comparison .col { border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
.col-head .call { color: #666; font-size: 13px; }
.badge { font-size: 12px; border-radius: 10px; padding: 1px 8px; background: #eee; }
.badge.star { background: #fff3c4; }
.badge.rating-good { background: #dff3e0; }
.badge.rating-poor { background: #fde2e0; }
audio { width: 100%; margin: 8px 0 4px; }
.stats { display: flex; gap: 18px; margin: 4px 0; }
.stats div { display: flex; flex-direction: column; }
.stats dt { font-size: 12px; color: #666; }
.stats dd { margin: 0; font-size: 18px; font-weight: 600; }
.col-note { background: #eef5ff; border-left: 4px solid var(--rep); padding: 6px 10px; }
.transcript summary, .questions summary { cursor: pointer; color: #444; }
.line { margin: 4px 0; }
.line .spk { font-weight: 600; }
.role-rep .spk { color: var(--rep); }
.role-customer .spk { color: var(--customer); }
.role-other .spk, .role-none .spk { color: var(--other); }
.ts { font: 12px ui-monospace, monospace; border: 0; background: #f0f0f0; border-radius: 4px;
  cursor: pointer; padding: 1px 4px; }
footer { color: #888; font-size: 12px; padding: 20px 24px 40px; }
@media (max-width: 760px) { .columns { grid-template-columns: 1fr; } .toc ol { columns: 1; } }
"""

# The SCORM 1.2 runtime: finds the LMS's API in a parent (or opener) window.
_SCORM_JS = """
var LMS = (function () {
  var api = null, finished = false, started = Date.now();
  function find(win) {
    var tries = 0;
    try {
      while (win && !win.API && win.parent && win.parent !== win && tries < 10) {
        tries++; win = win.parent;
      }
      return (win && win.API) || null;
    } catch (e) { return null; }
  }
  function get(k) { return api ? String(api.LMSGetValue(k) || "") : ""; }
  function set(k, v) { if (api) { api.LMSSetValue(k, String(v)); } }
  function pad(n, w) { n = String(n); while (n.length < w) { n = "0" + n; } return n; }
  function sessionTime() {
    var s = Math.floor((Date.now() - started) / 1000);
    return pad(Math.floor(s / 3600), 4) + ":" + pad(Math.floor(s / 60) % 60, 2) + ":" +
      pad(s % 60, 2);
  }
  function finish(exit) {
    if (!api || finished) { return; }
    finished = true;
    set("cmi.core.exit", exit);
    set("cmi.core.session_time", sessionTime());
    api.LMSCommit("");
    api.LMSFinish("");
  }
  return {
    start: function () {
      api = find(window);
      if (!api && window.opener) { api = find(window.opener); }
      if (!api) { return []; }
      if (String(api.LMSInitialize("")) !== "true") { api = null; return []; }
      var status = get("cmi.core.lesson_status");
      if (status !== "completed" && status !== "passed") {
        set("cmi.core.lesson_status", "incomplete");
      }
      api.LMSCommit("");
      return get("cmi.suspend_data").split(",").filter(function (x) { return x; });
    },
    played: function (items, all) {
      if (!api || finished) { return; }
      set("cmi.suspend_data", items.join(","));
      if (all) {
        set("cmi.core.lesson_status", "completed");
        finish("");
      } else {
        api.LMSCommit("");
      }
    },
    leave: function () { finish("suspend"); },
    connected: function () { return !!api; }
  };
})();
"""

_PLAYER_JS = """
(function () {
  var audios = Array.prototype.slice.call(document.querySelectorAll("audio[data-seq]"));
  var items = Array.prototype.slice.call(document.querySelectorAll("article.item"));
  var auto = document.getElementById("auto");
  var played = {};
  function itemOf(a) { return a.closest("article.item"); }
  function playedItems() {
    return items.filter(function (it) { return played[it.dataset.item]; })
      .map(function (it) { return it.dataset.item; });
  }
  function show() {
    var n = playedItems().length;
    document.getElementById("progress").textContent = n + " of " + items.length + " played";
    document.getElementById("bar").value = n;
    items.forEach(function (it) {
      var li = document.querySelector('.toc li[data-item="' + it.dataset.item + '"]');
      it.classList.toggle("played", !!played[it.dataset.item]);
      if (li) { li.classList.toggle("played", !!played[it.dataset.item]); }
    });
  }
  function markItem(it) {
    if (played[it.dataset.item]) { return; }
    played[it.dataset.item] = true;
    show();
    var list = playedItems();
    if (LMS) { LMS.played(list, list.length === items.length); }
  }
  function markAudio(a) {
    if (a.dataset.played) { return; }
    a.dataset.played = "1";
    var it = itemOf(a);
    var all = Array.prototype.every.call(it.querySelectorAll("audio"), function (x) {
      return x.dataset.played;
    });
    if (all) { markItem(it); }
  }
  function playAt(i) {
    var a = audios[i];
    if (!a) { return; }
    itemOf(a).scrollIntoView({ behavior: "smooth", block: "start" });
    try { a.currentTime = 0; } catch (e) { /* not loaded yet */ }
    var p = a.play();
    if (p && p.catch) { p.catch(function () { /* autoplay refused: the user presses play */ }); }
  }
  audios.forEach(function (a, i) {
    a.addEventListener("play", function () {
      audios.forEach(function (o) { if (o !== a && !o.paused) { o.pause(); } });
      items.forEach(function (it) { it.classList.toggle("current", it === itemOf(a)); });
    });
    a.addEventListener("timeupdate", function () {
      if (a.duration && a.currentTime >= a.duration - __SLACK__) { markAudio(a); }
    });
    a.addEventListener("ended", function () {
      markAudio(a);
      if (auto.checked && i + 1 < audios.length) { playAt(i + 1); }
    });
  });
  document.querySelectorAll("button.ts").forEach(function (b) {
    b.addEventListener("click", function () {
      var a = b.closest(".col").querySelector("audio");
      a.currentTime = parseFloat(b.dataset.t);
      a.play();
    });
  });
  document.getElementById("play-all").addEventListener("click", function () {
    var first = audios.findIndex(function (a) { return !a.dataset.played; });
    playAt(first < 0 ? 0 : first);
  });
  if (LMS) {
    LMS.start().forEach(function (n) {
      var it = document.querySelector('article.item[data-item="' + n + '"]');
      if (it) {
        played[n] = true;
        it.querySelectorAll("audio").forEach(function (a) { a.dataset.played = "1"; });
      }
    });
    window.addEventListener("pagehide", function () { LMS.leave(); });
    window.addEventListener("beforeunload", function () { LMS.leave(); });
  }
  show();
  window.clipstudio = { played: playedItems, items: items.length, playAt: playAt };
})();
"""


# M3U8, CSV ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chapter:
    title: str
    clip: Clip


def chapters(playlist: Playlist) -> list[Chapter]:
    """One chapter per clip item, one per column of a comparison, in play order."""
    out = []
    for item in playlist.items:
        if not item.is_comparison:
            out.append(Chapter(f"{item.position}. {item.title}", item.clips[0]))
            continue
        n = len(item.clips)
        for k, clip in enumerate(item.clips, 1):
            who = clip.rep or clip.call_title
            out.append(Chapter(f"{item.position}. {item.title} ({k}/{n}: {who})", clip))
    return out


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def m3u8(playlist: Playlist) -> str:
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(playlist.title)}"]
    for ch in chapters(playlist):
        lines.append(f"#EXTINF:{round(ch.clip.duration_s)},{_one_line(ch.title)}")
        lines.append(str(Path(ch.clip.path).resolve()))
    return "\n".join(lines) + "\n"


def playlist_csv(lib: Library, playlist: Playlist) -> bytes:
    """One row per clip of each item, UTF-8 with a byte order mark, formula-safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in playlist.items:
        for k, view in enumerate(item_views(lib, item), 1):
            c = view.clip
            row = (item.position, item.section, item.kind, item.title, item.note, k, c.id,
                   c.title, c.call_title, c.rep, "yes" if c.a_player else "no", c.rating,
                   "; ".join(c.skills), c.start_s, c.end_s, c.duration_s, view.note,
                   "" if view.rep_talk_share is None else view.rep_talk_share,
                   len(view.rep_questions))
            writer.writerow([csv_safe(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


# M4A ------------------------------------------------------------------------------------

def _ffmeta(text: str) -> str:
    """A value escaped for an ffmetadata file (= ; # \\ and newlines)."""
    return re.sub(r"([=;#\\\n])", r"\\\1", _one_line(text))


def write_m4a(playlist: Playlist, out: Path) -> Path:
    """The playlist as one AAC file with a chapter per clip and a short separator (a soft
    tone in silence) between clips."""
    parts = chapters(playlist)
    for ch in parts:
        if not Path(ch.clip.path).is_file():
            raise MediaError(f"clip {ch.clip.id}'s file is missing; re-cut the clip",
                             path=ch.clip.path)
    stereo = any(ch.clip.stereo for ch in parts)
    layout = "stereo" if stereo else "mono"
    fmt_chain = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts={layout}"
    graph, labels, meta = [], [], [";FFMETADATA1", f"title={_ffmeta(playlist.title)}",
                                   "artist=ClipStudio", "genre=Training"]
    t_ms = 0
    for n, ch in enumerate(parts):
        dur = ch.clip.duration_s
        graph.append(f"[{n}:a:0]aresample={SAMPLE_RATE},{fmt_chain},atrim=end={dur:.3f},"
                     f"apad=whole_dur={dur:.3f}[c{n}]")
        labels.append(f"[c{n}]")
        start_ms = t_ms
        t_ms += round(dur * 1000)
        if n + 1 < len(parts):
            lead_ms = round((SEPARATOR_S - TONE_S) / 2 * 1000)
            graph.append(f"sine=frequency={TONE_HZ}:sample_rate={SAMPLE_RATE}:"
                         f"duration={TONE_S},volume=0.05,afade=t=in:d=0.04,"
                         f"afade=t=out:st={TONE_S - 0.08:.2f}:d=0.08,{fmt_chain},"
                         f"adelay={lead_ms}:all=1,apad=whole_dur={SEPARATOR_S}[s{n}]")
            labels.append(f"[s{n}]")
            t_ms += round(SEPARATOR_S * 1000)
        meta += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={start_ms}", f"END={t_ms}",
                 f"title={_ffmeta(ch.title)}"]
    graph.append(f"{''.join(labels)}concat=n={len(labels)}:v=0:a=1[out]")
    stamp = f"{os.getpid()}-{secrets.token_hex(4)}"
    meta_path = out.with_name(f".tmp-{stamp}.ffmeta.txt")
    tmp = out.with_name(f".tmp-{stamp}.m4a")
    try:
        meta_path.write_text("\n".join(meta) + "\n", encoding="utf-8")
        inputs = [arg for ch in parts for arg in ("-i", ch.clip.path)]
        run_ffmpeg(["-y", *inputs, "-f", "ffmetadata", "-i", str(meta_path),
                    "-filter_complex", ";".join(graph), "-map", "[out]",
                    "-map_metadata", str(len(parts)), "-map_chapters", str(len(parts)),
                    "-c:a", "aac", "-b:a", "96k" if stereo else "64k",
                    "-movflags", "+faststart", "-f", "ipod", str(tmp)],
                   path=str(out), what="ffmpeg could not build the playlist audio")
        found = read_chapters(tmp)
        if len(found) != len(parts):
            raise MediaError(f"the playlist audio has {len(found)} chapters instead of "
                             f"{len(parts)}", path=str(out))
        os.replace(tmp, out)
    finally:
        meta_path.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return out


_CHAPTER = re.compile(r"Chapter #\d+:\d+: start (-?[\d.]+), end (-?[\d.]+)")
_TITLE = re.compile(r"^\s+title\s*:\s?(.*)$")


def read_chapters(path: str | Path) -> list[tuple[float, float, str]]:
    """(start_s, end_s, title) of each chapter of a media file, from ``ffmpeg -i``."""
    err = run_ffmpeg(["-i", str(path), "-f", "null", "-t", "0", "-"], path=str(path),
                     what="ffmpeg could not read the chapters")
    out: list[tuple[float, float, str]] = []
    lines = err.split("Output #0")[0].splitlines()  # the input's chapters, not the copy's
    for n, line in enumerate(lines):
        m = _CHAPTER.search(line)
        if not m:
            continue
        title = ""
        for follow in lines[n + 1:n + 4]:
            t = _TITLE.match(follow)
            if t:
                title = t.group(1)
                break
        out.append((float(m.group(1)), float(m.group(2)), title))
    return out
