"""Pictures of a conversation, as PNG bytes (Pillow; no Streamlit).

* The **talk picture** (from the seed article): the whole transcript as tiny text squeezed
  into one image, the rep's words in red and the customer's in black, one paragraph per
  turn. How much of the image is red is how much of the call the rep talked. For a rep's
  last N calls the pictures stand side by side, all at the same text size.
* The **timeline strip**: rep and customer turns as blocks over time, tracker hits as
  coloured marks, clips as spans below, a minute scale and a legend.

Text is drawn without anti-aliasing, so every glyph pixel is exactly the rep's or the
customer's colour and the picture can be measured.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from .errors import InputError
from .insights import PARTIES, stretches, write_atomic
from .models import Transcript
from .trackers import TrackerHit, call_hits, trackers

if TYPE_CHECKING:
    from .library import Library

REP_RGB = (204, 0, 0)  # "red for sales people talking"
CUSTOMER_RGB = (0, 0, 0)  # "black for customers"
OTHER_RGB = (150, 150, 150)  # no role known
BACKGROUND_RGB = (255, 255, 255)
CAPTION_RGB = (40, 80, 140)
AXIS_RGB = (110, 110, 110)
ROLE_RGB = {"rep": REP_RGB, "customer": CUSTOMER_RGB}
TRACKER_PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189),
                   (23, 190, 207), (140, 86, 75), (227, 119, 194), (188, 189, 34))
CLIP_RGB = {"good": (30, 130, 76), "poor": (170, 80, 0), "neutral": (90, 110, 140)}

FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "DejaVuSans.ttf",
)
MIN_FONT_PX = 4
MAX_FONT_PX = 14
MARGIN_PX = 6


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at ``size`` pixels when installed, else Pillow's own font."""
    for path in FONT_PATHS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def save_png(data: bytes, path: str | Path) -> Path:
    """Write PNG bytes atomically (temporary file, then rename)."""
    return write_atomic(path, data)


def _fmt(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


# Talk picture ---------------------------------------------------------------------------


def paragraphs(transcript: Transcript) -> list[tuple[tuple[int, int, int], str]]:
    """(colour, text) per turn: consecutive utterances of one role joined, in time order."""
    out: list[tuple[tuple[int, int, int], str]] = []
    last_role: object = object()
    for u in sorted(transcript.utterances, key=lambda u: (u.start_s, u.index)):
        text = " ".join(u.text.split())
        if not text:
            continue
        role = u.role if u.role in PARTIES else None
        if out and role == last_role:
            out[-1] = (out[-1][0], out[-1][1] + " " + text)
        else:
            out.append((ROLE_RGB.get(role or "", OTHER_RGB), text))
        last_role = role
    return out


@dataclass(frozen=True)
class _Line:
    colour: tuple[int, int, int]
    text: str


def _wrap(paras: Sequence[tuple[tuple[int, int, int], str]], fnt, width_px: float) -> list[_Line]:
    lines: list[_Line] = []
    space = fnt.getlength(" ")
    for colour, text in paras:
        line: list[str] = []
        used = 0.0
        for word in text.split():
            w = fnt.getlength(word)
            if line and used + space + w > width_px:
                lines.append(_Line(colour, " ".join(line)))
                line, used = [], 0.0
            used += (space if line else 0.0) + w
            line.append(word)
        if line:
            lines.append(_Line(colour, " ".join(line)))
    return lines


def _line_px(size: int) -> int:
    return size + max(1, size // 4)


def _fit_size(all_paras: Sequence[Sequence], width: int, height: int) -> int:
    """The largest text size at which every transcript fits its panel (else the smallest)."""
    for size in range(MAX_FONT_PX, MIN_FONT_PX - 1, -1):
        fnt = font(size)
        if all(len(_wrap(p, fnt, width - 2 * MARGIN_PX)) * _line_px(size)
               <= height - 2 * MARGIN_PX for p in all_paras):
            return size
    return MIN_FONT_PX


def _render_panel(paras, size: int, width: int, height: int) -> Image.Image:
    """Draw the paragraphs at ``size``; a transcript too long even at the smallest size is
    drawn taller, then squeezed to the panel and snapped back to the pure colours."""
    fnt = font(size)
    lines = _wrap(paras, fnt, width - 2 * MARGIN_PX)
    needed = len(lines) * _line_px(size) + 2 * MARGIN_PX
    canvas_h = max(height, needed)
    img = Image.new("RGB", (width, canvas_h), BACKGROUND_RGB)
    draw = ImageDraw.Draw(img)
    draw.fontmode = "1"  # no anti-aliasing: glyph pixels are exactly the party's colour
    y = MARGIN_PX
    for line in lines:
        draw.text((MARGIN_PX, y), line.text, fill=line.colour, font=fnt)
        y += _line_px(size)
    if canvas_h == height:
        return img
    squeezed = img.resize((width, height), Image.Resampling.BOX)
    palette = Image.new("P", (1, 1))
    colours = [BACKGROUND_RGB, REP_RGB, CUSTOMER_RGB, OTHER_RGB]
    palette.putpalette([c for rgb in colours for c in rgb] + [0] * (768 - 3 * len(colours)))
    return squeezed.quantize(palette=palette, dither=Image.Dither.NONE).convert("RGB")


def talk_picture(transcript: Transcript, width: int = 480, height: int = 640) -> bytes:
    """The seed's picture of one call: its transcript squeezed into ``width`` x ``height``
    pixels, rep red, customer black (grey where no role is known). PNG bytes."""
    _check_size(width, height)
    paras = paragraphs(transcript)
    size = _fit_size([paras], width, height)
    return _png(_render_panel(paras, size, width, height))


def rep_talk_picture(transcripts: Sequence[Transcript], width: int = 300, height: int = 560,
                     captions: Sequence[str] | None = None) -> bytes:
    """Several calls' talk pictures side by side (a rep's last N calls), at one text size so
    longer calls look longer, each captioned with its date and title. PNG bytes."""
    _check_size(width, height)
    if not transcripts:
        raise InputError("no calls to draw")
    all_paras = [paragraphs(t) for t in transcripts]
    size = _fit_size(all_paras, width, height)
    cap_font = font(11)
    cap_h = 34
    gap = 10
    out = Image.new("RGB", (len(transcripts) * (width + gap) - gap, height + cap_h),
                    BACKGROUND_RGB)
    draw = ImageDraw.Draw(out)
    for i, (t, paras) in enumerate(zip(transcripts, all_paras, strict=True)):
        x = i * (width + gap)
        caption = captions[i] if captions else f"{t.call.call_date or 'no date'} · {t.call.title}"
        for j, text in enumerate(_clip_text(caption, cap_font, width - 4, 2)):
            draw.text((x + 2, 2 + 14 * j), text, fill=CAPTION_RGB, font=cap_font)
        out.paste(_render_panel(paras, size, width, height), (x, cap_h))
        draw.rectangle([x, cap_h, x + width - 1, cap_h + height - 1], outline=(225, 225, 225))
    return _png(out)


def _clip_text(text: str, fnt, width_px: float, max_lines: int) -> list[str]:
    lines = [line.text for line in _wrap([(CAPTION_RGB, text)], fnt, width_px)]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".,") + "…"
    return lines


def _check_size(width: int, height: int) -> None:
    if not (80 <= width <= 4000 and 80 <= height <= 8000):
        raise InputError(f"picture size must be 80-4000 x 80-8000 pixels, not {width}x{height}")


# Timeline strip -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipMark:
    id: int
    title: str
    start_s: float
    end_s: float
    rating: str


def call_clips(lib: Library, call_id: int) -> list[ClipMark]:
    """The clips cut from a call (read only; none when the library has no clips table)."""
    if "clips" not in lib.db.table_names():
        return []
    return [ClipMark(r["id"], r["title"], float(r["start_s"]), float(r["end_s"]),
                     r["rating"] or "neutral")
            for r in lib.db.query("SELECT id, title, start_s, end_s, rating FROM clips "
                                  "WHERE call_id = ? ORDER BY start_s, id", [int(call_id)])]


# the strip's rows, top to bottom (pixels)
GUTTER_PX = 78
MARKS_Y = (4, 18)
REP_Y = (22, 46)
CUSTOMER_Y = (50, 74)
CLIPS_Y = (80, 92)
AXIS_Y = 98


def tracker_colours(names: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    return {n: TRACKER_PALETTE[i % len(TRACKER_PALETTE)] for i, n in enumerate(names)}


def timeline_picture(transcript: Transcript, hits: Sequence[TrackerHit] = (),
                     clips: Sequence[ClipMark] = (), width: int = 1200,
                     tracker_names: Sequence[str] | None = None) -> bytes:
    """One call as a strip: rep turns (red) and customer turns (black) over time, tracker
    hits as coloured marks above, clips as spans below, a time scale and a legend."""
    _check_size(width, 120)
    duration = max(transcript.call.duration_s, 1.0)
    names = list(tracker_names) if tracker_names is not None else []
    for h in hits:
        if h.tracker not in names:
            names.append(h.tracker)
    colours = tracker_colours(names)
    shown = [n for n in names if any(h.tracker == n for h in hits)]
    small = font(11)
    legend_rows = 1 + (len(shown) + 3) // 4
    height = AXIS_Y + 22 + 16 * legend_rows
    img = Image.new("RGB", (width, height), BACKGROUND_RGB)
    draw = ImageDraw.Draw(img)
    right = width - 12
    span = right - GUTTER_PX

    def x_at(t: float) -> float:
        return GUTTER_PX + span * min(max(t, 0.0), duration) / duration

    for label, (y0, y1) in (("Rep", REP_Y), ("Customer", CUSTOMER_Y), ("Clips", CLIPS_Y)):
        draw.text((4, (y0 + y1) / 2), label, fill=AXIS_RGB, font=small, anchor="lm")
        draw.rectangle([GUTTER_PX, y0, right, y1], fill=(246, 246, 246))
    turns, backchannels = stretches(transcript.utterances)
    if turns:
        for t in (*turns, *backchannels):
            y0, y1 = REP_Y if t.role == "rep" else CUSTOMER_Y
            x0, x1 = x_at(t.start_s), x_at(t.end_s)
            draw.rectangle([x0, y0, max(x1, x0 + 1), y1], fill=ROLE_RGB[t.role])
    else:  # no roles: all speech in grey across both rows
        for u in transcript.utterances:
            x0, x1 = x_at(u.start_s), x_at(u.end_s)
            draw.rectangle([x0, REP_Y[0], max(x1, x0 + 1), CUSTOMER_Y[1]], fill=OTHER_RGB)
    for h in hits:
        x = x_at(h.start_s)
        c = colours[h.tracker]
        draw.polygon([(x - 5, MARKS_Y[0]), (x + 5, MARKS_Y[0]), (x, MARKS_Y[1])], fill=c)
        draw.line([(x, MARKS_Y[1]), (x, CUSTOMER_Y[1])], fill=c, width=1)
    for clip in clips:
        x0, x1 = x_at(clip.start_s), x_at(clip.end_s)
        draw.rectangle([x0, CLIPS_Y[0], max(x1, x0 + 2), CLIPS_Y[1]],
                       fill=CLIP_RGB.get(clip.rating, CLIP_RGB["neutral"]))
    # time scale: a tick every minute (every 10 or 30 s for short calls, 5 min for long)
    step = next(s for s in (10, 30, 60, 120, 300, 600, 1800) if duration / s <= 12)
    draw.line([(GUTTER_PX, AXIS_Y), (right, AXIS_Y)], fill=AXIS_RGB)
    t = 0.0
    while t <= duration + 1e-6:
        x = x_at(t)
        draw.line([(x, AXIS_Y), (x, AXIS_Y + 4)], fill=AXIS_RGB)
        draw.text((x, AXIS_Y + 6), _fmt(t), fill=AXIS_RGB, font=small, anchor="mt")
        t += step
    # legend
    y = AXIS_Y + 22
    items = [(REP_RGB, "rep"), (CUSTOMER_RGB, "customer")]
    for rating, colour in CLIP_RGB.items():
        n = sum(c.rating == rating for c in clips)
        if n:
            items.append((colour, f"{rating} clip{'s' if n != 1 else ''} ({n})"))
    items += [(colours[n], f"{n} ({sum(h.tracker == n for h in hits)})") for n in shown]
    x = GUTTER_PX
    for colour, text in items:
        w = 16 + small.getlength(text) + 14
        if x + w > right:
            x, y = GUTTER_PX, y + 16
        draw.rectangle([x, y + 2, x + 10, y + 12], fill=colour)
        draw.text((x + 14, y + 7), text, fill=AXIS_RGB, font=small, anchor="lm")
        x += w
    return _png(img.crop((0, 0, width, min(height, y + 18))))


def call_timeline(lib: Library, call_id: int | str, width: int = 1200) -> bytes:
    """The timeline strip of a stored call, with its tracker hits and clips."""
    transcript = lib.transcript(call_id)
    return timeline_picture(transcript, call_hits(lib, transcript.call.id),
                            call_clips(lib, transcript.call.id), width,
                            [t.name for t in trackers(lib)])


def call_talk_picture(lib: Library, call_id: int | str, width: int = 480,
                      height: int = 640) -> bytes:
    return talk_picture(lib.transcript(call_id), width, height)


def rep_last_calls_picture(lib: Library, rep: str, last: int = 5, width: int = 300,
                           height: int = 560) -> bytes:
    """The talk pictures of a rep's ``last`` calls, oldest on the left."""
    if last < 1:
        raise InputError("--last must be 1 or more")
    calls = lib.calls(rep=rep)[:last]
    if not calls:
        raise InputError(f"rep {rep!r} has no calls in this library")
    return rep_talk_picture([lib.transcript(c.id) for c in reversed(calls)], width, height)
