"""The ``clipstudio`` command: a thin layer over :class:`clipstudio.library.Library`.

Exit status: 0 when everything worked, 1 when an ingest had failed files, 2 for a usage
error or a ClipStudioError (printed as one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import clips as clips_mod
from . import export as export_mod
from . import insights as insights_mod
from . import pictures as pictures_mod
from . import playlists as playlists_mod
from . import trackers as tracker_mod
from .clips import TAG_KINDS
from .errors import ClipStudioError, InputError
from .library import ENV_LIBRARY, Library
from .models import CLIP_FORMATS, OUTCOMES, RATINGS, Clip, Progress, Transcript
from .search import grouped
from .search import to_json as search_json
from .speakers import METHODS, ROLES
from .trackers import SIDES
from .transcribe import DEVICES, EMBEDDED_MODEL
from .transcripts import to_srt, to_vtt


def fmt_time(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60:d}:{s % 60:02d}"


def _add_library(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library", metavar="DIR",
                   help=f"library folder (default: ${ENV_LIBRARY}, else ./library)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clipstudio", description="A self-hosted call library for sales enablement."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="transcribe recordings into the library")
    p.add_argument("paths", nargs="+", metavar="PATH", help="recordings or folders (recursive)")
    _add_library(p)
    p.add_argument("--manifest", metavar="FILE.csv",
                   help="metadata per file: file,title,rep,account,call_date,outcome,consent,"
                        "a_player")
    p.add_argument("--model", metavar="NAME_OR_PATH",
                   help=f"faster-whisper size name or CTranslate2 folder (default: embedded "
                        f"{EMBEDDED_MODEL})")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--vocabulary", metavar='"Acme, ComfyUI"',
                   help="names to listen for; added to the library's saved vocabulary")
    p.add_argument("--diarization", choices=METHODS, default="auto",
                   help="how to tell speakers apart (auto: stereo channels for two-channel "
                        "files, else pyannote when configured, else the embedded voice model)")
    p.add_argument("--speakers", type=int, metavar="N", help="number of speakers, if known")
    p.add_argument("--transcript", metavar="FILE",
                   help="use this transcript (Zoom/Teams VTT, WebVTT, SRT, ClipStudio JSON) "
                        "instead of speech-to-text; one recording only")
    p.add_argument("--channels", metavar="LEFT,RIGHT",
                   help="roles of a stereo file's channels, saved for the library "
                        "(default rep,customer)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("calls", help="list the calls in the library")
    _add_library(p)
    p.add_argument("--rep")
    p.add_argument("--outcome", choices=OUTCOMES)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("transcript", help="print one call's transcript")
    p.add_argument("call_id", metavar="CALL_ID")
    _add_library(p)
    p.add_argument("--format", choices=("json", "txt", "vtt", "srt"), default="txt")

    p = sub.add_parser("search", help="find moments: every utterance that matches a query")
    p.add_argument("query", metavar="QUERY",
                   help='e.g. "too expensive", price* role:customer, salesforse~ NOT renewal')
    _add_library(p)
    p.add_argument("--role", choices=ROLES)
    p.add_argument("--rep")
    p.add_argument("--outcome", choices=OUTCOMES)
    p.add_argument("--tag", metavar="NAME",
                   help="only moments inside clips tagged with this skill or message")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("reindex", help="rebuild the search index from the database")
    _add_library(p)

    p = sub.add_parser("trackers", help="list trackers (saved searches run on every call)")
    _add_library(p)
    p.add_argument("--add", metavar="NAME", help="create a tracker (with --query, --side)")
    p.add_argument("--query", help='its search, e.g. \'"too expensive" OR "over budget"\'')
    p.add_argument("--side", choices=SIDES, default="any", help="who must say it")
    p.add_argument("--delete", type=int, metavar="TRACKER_ID")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("reps", help="list rep profiles, or change one")
    _add_library(p)
    p.add_argument("--name", help="the rep to create or change")
    p.add_argument("--team")
    p.add_argument("--a-player", choices=("yes", "no"))
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("speakers", help="list a call's speakers, or change one")
    p.add_argument("call_id", metavar="CALL_ID")
    _add_library(p)
    p.add_argument("--speaker", type=int, metavar="SPEAKER_ID", help="the speaker to change")
    p.add_argument("--name", help="rename the speaker")
    p.add_argument("--role", choices=ROLES, help="set the speaker's role")
    p.add_argument("--merge-into", type=int, metavar="SPEAKER_ID",
                   help="give all of this speaker's utterances to another and remove it")
    p.add_argument("--enroll", metavar="REP",
                   help="remember this speaker's voice as REP's, to recognise them elsewhere")
    p.add_argument("--json", action="store_true")
    _add_clip_parsers(sub)
    _add_insight_parsers(sub)
    _add_playlist_parsers(sub)
    return parser


def _seconds(text: str) -> float:
    """'75', '75.5', '1:15' or '1:01:15' -> seconds."""
    try:
        parts = [float(x) for x in text.strip().split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time (seconds or m:ss)") from None
    if not 1 <= len(parts) <= 3 or any(x < 0 for x in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time (seconds or m:ss)")
    total = 0.0
    for x in parts:
        total = total * 60 + x
    return total


def _add_cut_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--start", type=_seconds, metavar="S", help="start (seconds or m:ss)")
    p.add_argument("--end", type=_seconds, metavar="E", help="end (seconds or m:ss)")
    p.add_argument("--start-word", type=int, metavar="N",
                   help="or: the call word to start at (numbers from `transcript --format json`)")
    p.add_argument("--end-word", type=int, metavar="N", help="the call word to end at")
    p.add_argument("--format", choices=CLIP_FORMATS, help="audio format (default mp3)")
    p.add_argument("--stereo", action="store_true",
                   help="keep a stereo call's channels (default: balanced mono mix)")
    p.add_argument("--redact", metavar="WORD_INDEX_RANGES",
                   help='call words to bleep and mask, e.g. "112-118,240"')
    p.add_argument("--silence", action="store_true",
                   help="silence redacted words instead of bleeping them")


def _add_clip_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clip", help="cut a clip from a call (normalised, tagged, rated)")
    p.add_argument("call_id", metavar="CALL_ID")
    _add_library(p)
    _add_cut_options(p)
    p.add_argument("--title", metavar="T")
    p.add_argument("--skill", action="append", default=[], metavar="X",
                   help="skill tag (repeatable); see `clipstudio tags`")
    p.add_argument("--message", action="append", default=[], metavar="Y",
                   help="message tag (repeatable)")
    p.add_argument("--rating", choices=RATINGS, default="neutral")
    p.add_argument("--notes", default="", help="trainer notes")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("clips", help="list clips, filtered by tag, rating or rep")
    _add_library(p)
    p.add_argument("--skill", metavar="X")
    p.add_argument("--message", metavar="Y")
    p.add_argument("--rating", choices=RATINGS)
    p.add_argument("--rep", metavar="NAME")
    p.add_argument("--call", type=int, metavar="CALL_ID")
    p.add_argument("--query", metavar="Q",
                   help="clips whose title, notes or transcript match (search syntax)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("clip-edit", help="change a clip: title, tags, rating, notes, or re-cut")
    p.add_argument("clip_id", metavar="CLIP_ID")
    _add_library(p)
    _add_cut_options(p)
    p.add_argument("--title", metavar="T")
    p.add_argument("--skill", action="append", metavar="X",
                   help="replaces the clip's skills (repeatable)")
    p.add_argument("--message", action="append", metavar="Y",
                   help="replaces the clip's messages (repeatable)")
    p.add_argument("--rating", choices=RATINGS)
    p.add_argument("--notes")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("clip-copy", help="duplicate a clip")
    p.add_argument("clip_id", metavar="CLIP_ID")
    _add_library(p)
    p.add_argument("--title", metavar="T")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("clip-delete", help="delete a clip and its file")
    p.add_argument("clip_id", metavar="CLIP_ID")
    _add_library(p)
    p.add_argument("--force", action="store_true",
                   help="also when playlists use it (it leaves them)")

    p = sub.add_parser("tags", help="list, add, change or remove skills and messages")
    _add_library(p)
    p.add_argument("action", nargs="?", choices=("list", "add", "edit", "remove"),
                   default="list")
    p.add_argument("kind", nargs="?", choices=TAG_KINDS)
    p.add_argument("name", nargs="?", help="the tag's name (add, edit)")
    p.add_argument("--id", type=int, metavar="TAG_ID", help="the tag to edit or remove")
    p.add_argument("--description", default="")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("relink", help="point a call at a copy of its original recording")
    p.add_argument("call_id", metavar="CALL_ID")
    p.add_argument("path", metavar="FILE")
    _add_library(p)


class _Bars:
    """Two tqdm bars on stderr: the batch, and the file being worked on."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.batch = self.file = None
        self.current: str | None = None

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.batch is None:
            self.batch = tqdm(total=p.total, desc="batch", unit="file", position=0,
                              file=sys.stderr)
            self.file = tqdm(total=100, desc="", unit="%", position=1, file=sys.stderr,
                             bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}")
        if p.path != self.current:
            self.current = p.path
            self.file.reset(total=100)
        self.file.set_description_str(f"{Path(p.path).name[:40]} ({p.stage})")
        self.file.n = int(p.file_fraction * 100)
        self.file.refresh()
        self.batch.n = p.done + (1 if p.stage == "done" else 0)
        self.batch.refresh()

    def close(self) -> None:
        for bar in (self.file, self.batch):
            if bar is not None:
                bar.close()


def cmd_ingest(lib: Library, args: argparse.Namespace) -> int:
    if args.channels:
        roles = [r.strip() for r in args.channels.split(",")]
        if len(roles) != 2:
            raise InputError("--channels takes two roles, e.g. rep,customer")
        lib.set_channel_roles(*roles)
    bars = _Bars(enabled=not args.json)
    try:
        report = lib.ingest(
            args.paths,
            manifest=args.manifest,
            model=args.model,
            device=args.device,
            vocabulary=args.vocabulary,
            diarization=args.diarization,
            num_speakers=args.speakers,
            transcript=args.transcript,
            on_progress=bars,
        )
    finally:
        bars.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for f in report.ingested:
            print(f"ingested  {f.path}  -> call {f.call_id} ({fmt_time(f.duration_s)})")
        for f in report.skipped:
            print(f"skipped   {f.path}  ({f.reason}: call {f.call_id})")
        for f in report.failed:
            print(f"FAILED    {f.path}  {f.error}")
        print(f"{len(report.ingested)} ingested, {len(report.skipped)} skipped, "
              f"{len(report.failed)} failed")
    return 0 if report.ok else 1


def cmd_calls(lib: Library, args: argparse.Namespace) -> int:
    calls = lib.calls(rep=args.rep, outcome=args.outcome)
    if args.json:
        print(json.dumps([
            {
                "call_id": c.id, "title": c.title, "rep": c.rep, "a_player": c.a_player,
                "account": c.account, "call_date": c.call_date, "outcome": c.outcome,
                "consent": c.consent, "duration_s": c.duration_s, "channels": c.channels,
                "status": c.status, "diarization": c.diarization,
                "source_name": c.source_name,
            }
            for c in calls
        ], indent=2))
        return 0
    if not calls:
        print(f"no calls in {lib.root} yet: run `clipstudio ingest PATH`")
        return 0
    print(f"{'ID':>4}  {'DATE':10}  {'LENGTH':>7}  {'OUTCOME':7}  {'REP':18}  TITLE")
    for c in calls:
        rep = (c.rep or "-") + (" *" if c.a_player else "")
        print(f"{c.id:>4}  {c.call_date or '-':10}  {fmt_time(c.duration_s):>7}  "
              f"{c.outcome:7}  {rep[:18]:18}  {c.title}")
    return 0


def transcript_json(t: Transcript) -> dict:
    """The transcript as JSON; each word's ``index`` is what clip ranges and redactions use
    (words are numbered through the call in transcript order)."""
    counter = iter(range(1 << 30))
    return {
        "call_id": t.call.id,
        "title": t.call.title,
        "duration_s": t.call.duration_s,
        "utterances": [
            {
                "speaker": u.speaker,
                "role": u.role,
                "start_s": u.start_s,
                "end_s": u.end_s,
                "text": u.text,
                "words": [
                    {"index": next(counter), "text": w.text, "start_s": w.start_s,
                     "end_s": w.end_s, "probability": w.probability}
                    for w in u.words
                ],
            }
            for u in t.utterances
        ],
    }


def cmd_transcript(lib: Library, args: argparse.Namespace) -> int:
    t = lib.transcript(args.call_id)
    if args.format == "json":
        print(json.dumps(transcript_json(t), indent=2))
        return 0
    if args.format in ("vtt", "srt"):
        print((to_vtt if args.format == "vtt" else to_srt)(t.utterances), end="")
        return 0
    print(f"# {t.call.title} (call {t.call.id}, {fmt_time(t.call.duration_s)})")
    for u in t.utterances:
        who = f" {u.speaker}:" if u.speaker else ""
        print(f"[{fmt_time(u.start_s)}]{who} {u.text}")
    return 0


def cmd_speakers(lib: Library, args: argparse.Namespace) -> int:
    call = lib.call(args.call_id)
    changes = (args.name, args.role, args.merge_into, args.enroll)
    if any(c is not None for c in changes):
        if args.speaker is None:
            raise InputError("say which speaker to change with --speaker SPEAKER_ID")
        if args.name is not None or args.role is not None:
            lib.update_speaker(call.id, args.speaker, name=args.name, role=args.role)
        if args.enroll:
            lib.enroll_voiceprint(args.enroll, call.id, args.speaker)
        if args.merge_into is not None:
            lib.merge_speakers(call.id, args.speaker, args.merge_into)
    speakers = lib.speakers(call.id)
    if args.json:
        print(json.dumps([
            {"speaker_id": s.id, "label": s.label, "name": s.name, "role": s.role,
             "channel": s.channel, "display": s.display, "talk_s": s.talk_s}
            for s in speakers
        ], indent=2))
        return 0
    total = sum(s.talk_s for s in speakers) or 1.0
    print(f"{'ID':>5}  {'SPEAKER':24}  {'ROLE':8}  {'TALK':>6}  SHARE")
    for s in speakers:
        print(f"{s.id:>5}  {s.display[:24]:24}  {s.role or '-':8}  {fmt_time(s.talk_s):>6}  "
              f"{100 * s.talk_s / total:4.0f}%")
    return 0


def cmd_search(lib: Library, args: argparse.Namespace) -> int:
    result = lib.search(args.query, role=args.role, rep=args.rep, outcome=args.outcome,
                        tag=args.tag, limit=args.limit)
    if args.json:
        print(json.dumps(search_json(result), indent=2))
        return 0
    print(f"{result.total} match{'es' if result.total != 1 else ''} for {args.query!r}"
          + (f" (showing {len(result.hits)})" if len(result.hits) < result.total else ""))
    for group in grouped(result):
        print(f"\ncall {group.call_id} · {group.title} · {group.count} hit"
              f"{'s' if group.count != 1 else ''}")
        for h in group.hits:
            who = f"{h.speaker} ({h.role})" if h.role else (h.speaker or "?")
            print(f"  [{fmt_time(h.start_s)}] {who}: {h.text}")
    return 0


def cmd_reindex(lib: Library, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    with tqdm(total=100, desc="reindex", unit="%", file=sys.stderr) as bar:
        def progress(f: float) -> None:
            bar.n = int(f * 100)
            bar.refresh()

        count = lib.reindex(on_progress=progress)
    print(f"indexed {count} utterances")
    return 0


def cmd_trackers(lib: Library, args: argparse.Namespace) -> int:
    if args.add:
        if not args.query:
            raise InputError("--add needs --query")
        tracker_mod.save_tracker(lib, args.add, args.query, args.side)
    if args.delete is not None:
        tracker_mod.delete_tracker(lib, args.delete)
    found = tracker_mod.trackers(lib)
    per_call = tracker_mod.counts(lib)
    totals = {t.name: sum(c.get(t.name, 0) for c in per_call.values()) for t in found}
    if args.json:
        print(json.dumps([{"tracker_id": t.id, "name": t.name, "query": t.query,
                           "side": t.side, "hits": totals[t.name]} for t in found], indent=2))
        return 0
    for t in found:
        print(f"{t.id:>3}  {t.name:20}  said by {t.side:8}  {totals[t.name]:>4} hits  {t.query}")
    return 0


def cmd_reps(lib: Library, args: argparse.Namespace) -> int:
    if args.name:
        lib.update_rep(args.name, team=args.team,
                       a_player=None if args.a_player is None else args.a_player == "yes")
    elif args.team or args.a_player:
        raise InputError("say which rep to change with --name NAME")
    reps = lib.reps()
    if args.json:
        print(json.dumps([{**r, "a_player": bool(r["a_player"]),
                           "voiceprint": bool(r["voiceprint"])} for r in reps], indent=2))
        return 0
    print(f"{'REP':24}  {'TEAM':16}  {'A-PLAYER':8}  {'CALLS':>5}  VOICEPRINT")
    for r in reps:
        print(f"{r['name'][:24]:24}  {(r['team'] or '-')[:16]:16}  "
              f"{'yes' if r['a_player'] else 'no':8}  {r['calls']:>5}  "
              f"{'yes' if r['voiceprint'] else 'no'}")
    return 0


def _print_clip(lib: Library, clip: Clip, as_json: bool) -> None:
    if as_json:
        print(json.dumps(clips_mod.clip_json(lib, clip), indent=2))
        return
    print(f"clip {clip.id}: {clip.title}")
    print(f"  {fmt_time(clip.start_s)}-{fmt_time(clip.end_s)} of call {clip.call_id} "
          f"({clip.duration_s:.1f} s, {clip.format}) -> {clip.path}")
    for line in clips_mod.clip_transcript(lib, clip):
        who = f"{line.speaker} ({line.role})" if line.role else (line.speaker or "?")
        print(f"  [{line.start_s:5.1f}] {who}: {line.text}")


def _cut_args(args: argparse.Namespace) -> dict:
    return dict(start_s=args.start, end_s=args.end, start_word=args.start_word,
                end_word=args.end_word, redact=args.redact, bleep=not args.silence)


def cmd_clip(lib: Library, args: argparse.Namespace) -> int:
    clip = clips_mod.make_clip(lib, args.call_id, title=args.title, skills=args.skill,
                               messages=args.message, rating=args.rating, notes=args.notes,
                               fmt_name=args.format or "mp3", stereo=args.stereo,
                               **_cut_args(args))
    _print_clip(lib, clip, args.json)
    return 0


def cmd_clips(lib: Library, args: argparse.Namespace) -> int:
    found = clips_mod.list_clips(lib, skill=args.skill, message=args.message,
                                 rating=args.rating, rep=args.rep, call_id=args.call,
                                 query=args.query)
    if args.json:
        print(json.dumps([clips_mod.clip_json(lib, c) for c in found], indent=2))
        return 0
    if not found:
        print("no clips")
    for c in found:
        tags = ", ".join(c.skills + c.messages) or "-"
        print(f"{c.id:>4}  {c.rating:7}  {c.duration_s:5.1f}s  {(c.rep or '-')[:16]:16}"
              f"{'*' if c.a_player else ' '} {c.title[:50]}  [{tags}]")
    return 0


def cmd_clip_edit(lib: Library, args: argparse.Namespace) -> int:
    recut = any(v is not None for v in (args.start, args.end, args.start_word, args.end_word,
                                         args.format, args.redact)) or args.stereo
    clip = clips_mod.get_clip(lib, args.clip_id)
    if recut:
        clip = clips_mod.recut_clip(lib, clip.id, fmt_name=args.format,
                                    stereo=True if args.stereo else None, **_cut_args(args))
    clip = clips_mod.update_clip(lib, clip.id, title=args.title, notes=args.notes,
                                 rating=args.rating, skills=args.skill, messages=args.message)
    _print_clip(lib, clip, args.json)
    return 0


def cmd_clip_copy(lib: Library, args: argparse.Namespace) -> int:
    _print_clip(lib, clips_mod.duplicate_clip(lib, args.clip_id, title=args.title), args.json)
    return 0


def cmd_clip_delete(lib: Library, args: argparse.Namespace) -> int:
    clips_mod.delete_clip(lib, args.clip_id, force=args.force)
    print(f"deleted clip {args.clip_id}")
    return 0


def cmd_tags(lib: Library, args: argparse.Namespace) -> int:
    if args.action in ("add", "edit"):
        if not args.kind or not args.name:
            raise InputError(f"usage: clipstudio tags {args.action} skill|message NAME "
                             "[--description D]" + (" --id TAG_ID" if args.action == "edit"
                                                    else ""))
        if args.action == "edit" and args.id is None:
            raise InputError("say which tag to edit with --id TAG_ID")
        clips_mod.save_tag(lib, args.kind, args.name, args.description,
                           tag_id=args.id if args.action == "edit" else None)
    elif args.action == "remove":
        if args.id is None:
            raise InputError("say which tag to remove with --id TAG_ID")
        clips_mod.delete_tag(lib, args.id)
    found = clips_mod.tags(lib, args.kind)
    if args.json:
        print(json.dumps([{"tag_id": t.id, "kind": t.kind, "name": t.name,
                           "description": t.description, "clips": t.clips} for t in found],
                         indent=2))
        return 0
    for t in found:
        print(f"{t.id:>4}  {t.kind:7}  {t.name:32}  {t.clips:>3} clips  {t.description}")
    return 0


def cmd_relink(lib: Library, args: argparse.Namespace) -> int:
    call = lib.relink_media(args.call_id, args.path)
    print(f"call {call.id} now uses {call.media_path}")
    return 0


COMMANDS = {"ingest": cmd_ingest, "calls": cmd_calls, "transcript": cmd_transcript,
            "speakers": cmd_speakers, "reps": cmd_reps, "search": cmd_search,
            "reindex": cmd_reindex, "trackers": cmd_trackers}
COMMANDS.update({"clip": cmd_clip, "clips": cmd_clips, "clip-edit": cmd_clip_edit,
                 "clip-copy": cmd_clip_copy, "clip-delete": cmd_clip_delete,
                 "tags": cmd_tags, "relink": cmd_relink})


# Insights: stats, coaching candidates, pictures, exports ----------------------------------


def _add_insight_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="talk ratio, monologues, questions... of a call, a rep "
                                     "(averaged over their calls) or every rep")
    p.add_argument("call_id", nargs="?", metavar="CALL_ID", help="one call")
    _add_library(p)
    p.add_argument("--rep", metavar="NAME", help="a rep's figures, averaged over their calls")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only calls on or after this date")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only calls on or before this date")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("candidates", help="calls worth a coaching session, by the trainer's "
                                          "checklist (most criteria met first)")
    _add_library(p)
    p.add_argument("--rep", metavar="NAME", help="only this rep's calls (self-coaching)")
    p.add_argument("--all", action="store_true",
                   help="every call with the criteria it meets, not only the candidates")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("picture", help="a call's talk picture or timeline strip, or a rep's "
                                       "last calls side by side, as PNG")
    p.add_argument("call_id", nargs="?", metavar="CALL_ID")
    _add_library(p)
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("--kind", choices=("talk", "timeline"), default="talk")
    p.add_argument("--rep", metavar="NAME", help="the talk pictures of a rep's last calls")
    p.add_argument("--last", type=int, default=5, metavar="N", help="with --rep (default 5)")

    p = sub.add_parser("export", help="export data from the library")
    what = p.add_subparsers(dest="export_what", required=True, metavar="WHAT")
    v = what.add_parser("voc", help="voice of customer: customer utterances with call "
                                    "metadata and timestamps, as CSV or JSON")
    _add_library(v)
    v.add_argument("--out", required=True, metavar="FILE.csv",
                   help="where to write (.csv or .json, or say --format)")
    v.add_argument("--format", choices=insights_mod.VOC_FORMATS,
                   help="default: from the file name")
    v.add_argument("--tracker", metavar="NAME", help="only utterances this tracker fired on")
    v.add_argument("--query", metavar="Q", help="only utterances matching this search")
    v.add_argument("--since", metavar="YYYY-MM-DD")
    v.add_argument("--until", metavar="YYYY-MM-DD")
    v.add_argument("--outcome", choices=OUTCOMES)
    v.add_argument("--rep", metavar="NAME")


def _print_figures(row: insights_mod.CallStats | insights_mod.GroupStats) -> None:
    for key in insights_mod.STAT_KEYS:
        ref = "; ".join(f"{r.label.lower()} {_ref_range(r)}"
                        for r in insights_mod.references(key))
        print(f"  {insights_mod.LABELS[key]:24}  "
              f"{insights_mod.fmt_stat(key, getattr(row, key)):>10}"
              + (f"   ({ref})" if ref else ""))
    hits = ", ".join(f"{k} {v:g}" for k, v in row.tracker_hits.items()) or "none"
    print(f"  {'Tracker hits':24}  {hits}")


def _ref_range(r: insights_mod.Reference) -> str:
    def one(v: float) -> str:
        return insights_mod.fmt_stat(r.key, v)

    if r.low is not None and r.high is not None:
        return one(r.low) if r.low == r.high else f"{one(r.low)}-{one(r.high)}"
    return f"over {one(r.low)}" if r.low is not None else f"under {one(r.high)}"


def cmd_stats(lib: Library, args: argparse.Namespace) -> int:
    if args.call_id is not None and args.rep:
        raise InputError("give a CALL_ID or --rep NAME, not both")
    if args.call_id is not None:
        if args.since or args.until:
            raise InputError("--since and --until go with --rep or the team table")
        s = insights_mod.call_stats(lib, args.call_id)
        if args.json:
            print(json.dumps(s.to_json(), indent=2))
            return 0
        print(f"{s.title} (call {s.call_id}, {s.rep or 'no rep'}, {s.call_date or 'no date'}, "
              f"{fmt_time(s.duration_s)})")
        if not s.known:
            print(f"  talk figures unknown: {s.unknown_reason}")
        _print_figures(s)
        return 0
    if args.rep:
        g = insights_mod.rep_stats(lib, args.rep, args.since, args.until)
        if args.json:
            per_call = insights_mod.library_stats(lib, [lib.call(i) for i in g.call_ids])
            print(json.dumps({**g.to_json(), "per_call": [s.to_json() for s in per_call]},
                             indent=2))
            return 0
        span = f"{g.date_from or 'the start'} to {g.date_to or 'today'}"
        print(f"{g.label}: {g.calls} call{'s' if g.calls != 1 else ''} ({span}), "
              "per-call figures averaged"
              + (f"; {g.calls_unknown} without speaker roles left out" if g.calls_unknown
                 else ""))
        _print_figures(g)
        return 0
    rows = insights_mod.team_stats(lib, args.since, args.until)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return 0
    print(f"{'REP':20} {'CALLS':>5} {'TALK':>5} {'MONOLOGUE':>9} {'STORY':>7} {'SWITCH':>8} "
          f"{'PATIENCE':>8} {'QUESTIONS':>9} {'WPM':>8}")
    for r in rows:
        f = insights_mod.fmt_stat
        print(f"{r.label[:20]:20} {r.calls:>5} {f('rep_talk_ratio', r.rep_talk_ratio):>5} "
              f"{f('longest_rep_monologue_s', r.longest_rep_monologue_s):>9} "
              f"{f('longest_customer_story_s', r.longest_customer_story_s):>7} "
              f"{f('interactivity_per_min', r.interactivity_per_min):>8} "
              f"{f('patience_s', r.patience_s):>8} {f('rep_questions', r.rep_questions):>9} "
              f"{f('rep_wpm', r.rep_wpm):>8}")
    return 0


def cmd_candidates(lib: Library, args: argparse.Namespace) -> int:
    config = insights_mod.coaching_config(lib)
    found = insights_mod.candidates(lib, config, rep=args.rep, include_all=args.all)
    if args.json:
        print(json.dumps({"config": config.to_json(),
                          "candidates": [c.to_json() for c in found]}, indent=2))
        return 0
    print(f"calls meeting at least {config.effective_min_met} of these "
          f"{len(config.enabled)} criteria:")
    for c in config.enabled:
        print(f"  - {c.label}")
    if not found:
        print("no calls match")
    for c in found:
        print(f"\n{c.met}/{c.enabled}  call {c.call_id} · {c.title} · {c.rep or '-'} · "
              f"{c.call_date or '-'} · {c.outcome}")
        for m in c.matches:
            print(f"     [{fmt_time(m.at_s)}] {m.label}: {m.detail}")
    return 0


def cmd_picture(lib: Library, args: argparse.Namespace) -> int:
    if (args.call_id is None) == (not args.rep):
        raise InputError("give a CALL_ID, or --rep NAME for a rep's last calls")
    if args.rep:
        if args.kind != "talk":
            raise InputError("--rep draws talk pictures; the timeline is per call")
        data = pictures_mod.rep_last_calls_picture(lib, args.rep, args.last)
    elif args.kind == "timeline":
        data = pictures_mod.call_timeline(lib, args.call_id)
    else:
        data = pictures_mod.call_talk_picture(lib, args.call_id)
    path = pictures_mod.save_png(data, args.out)
    print(f"wrote {path} ({len(data) // 1024 + 1} KB)")
    return 0


def cmd_export_voc(lib: Library, args: argparse.Namespace) -> int:
    path, count = insights_mod.export_voc(
        lib, args.out, args.format, tracker=args.tracker, query=args.query,
        since=args.since, until=args.until, outcome=args.outcome, rep=args.rep)
    print(f"wrote {count} customer utterance{'s' if count != 1 else ''} to {path}")
    return 0


EXPORTS = {"voc": cmd_export_voc}  # `clipstudio export WHAT`: add more kinds here


def cmd_export(lib: Library, args: argparse.Namespace) -> int:
    return EXPORTS[args.export_what](lib, args)


COMMANDS.update({"stats": cmd_stats, "candidates": cmd_candidates, "picture": cmd_picture,
                 "export": cmd_export})


# Playlists: build, compare, learners' progress, export ----------------------------------


def _add_playlist_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("playlist", help="onboarding playlists: sections of clips with notes, "
                                        "side-by-side comparisons, learners' progress")
    act = p.add_subparsers(dest="playlist_action", required=True, metavar="ACTION")

    a = act.add_parser("create", help="create a playlist")
    a.add_argument("title", metavar="TITLE")
    a.add_argument("--description", default="")
    a.add_argument("--audience", default="", metavar="WHO", help='e.g. "new AEs, week 1"')

    a = act.add_parser("list", help="list the playlists")

    a = act.add_parser("show", help="a playlist's sections, items and comparisons")
    a.add_argument("playlist_id", metavar="PLAYLIST_ID")

    a = act.add_parser("edit", help="change a playlist's title, description or audience")
    a.add_argument("playlist_id", metavar="PLAYLIST_ID")
    a.add_argument("--title")
    a.add_argument("--description")
    a.add_argument("--audience", metavar="WHO")

    a = act.add_parser("delete", help="delete a playlist (the clips stay)")
    a.add_argument("playlist_id", metavar="PLAYLIST_ID")

    a = act.add_parser("add", help="add clips (several at once) with a trainer's note")
    a.add_argument("playlist_id", metavar="PLAYLIST_ID")
    a.add_argument("clip_ids", nargs="+", metavar="CLIP_ID")
    a.add_argument("--section", metavar="NAME",
                   help="section to add to (default: the last one); a new name starts one")
    a.add_argument("--note", default="", metavar="TEXT", help="what to listen for")

    a = act.add_parser("compare", help="add a comparison of 2 to 4 clips, shown side by side")
    a.add_argument("playlist_id", metavar="PLAYLIST_ID")
    a.add_argument("clip_ids", nargs="+", metavar="CLIP_ID")
    a.add_argument("--title", metavar="T", help="default: the shared skill and the reps")
    a.add_argument("--note", default="", metavar="TEXT")
    a.add_argument("--clip-note", action="append", default=[], metavar="TEXT",
                   help="what to notice in each clip, in order (repeatable)")
    a.add_argument("--section", metavar="NAME")

    a = act.add_parser("move", help="move an item to a position, or one place up or down")
    a.add_argument("item_id", metavar="ITEM_ID", help="from `clipstudio playlist show`")
    where = a.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", type=int, metavar="POSITION", help="1 is the first item")
    where.add_argument("--up", action="store_true")
    where.add_argument("--down", action="store_true")

    a = act.add_parser("item", help="change an item's note, section, title or column notes")
    a.add_argument("item_id", metavar="ITEM_ID")
    a.add_argument("--note", metavar="TEXT")
    a.add_argument("--section", metavar="NAME")
    a.add_argument("--title", metavar="T", help="a comparison's title")
    a.add_argument("--clip-note", action="append", metavar="TEXT",
                   help="a comparison's column notes, one per clip, in order")

    a = act.add_parser("remove", help="take an item out of its playlist")
    a.add_argument("item_id", metavar="ITEM_ID")

    a = act.add_parser("suggest", help="comparisons worth making for a skill: an A-player's "
                                       "or good handling beside a poor one")
    a.add_argument("skill", metavar="SKILL")

    a = act.add_parser("progress", help="learners' progress on a playlist; with --learner, "
                                        "record one learner's")
    a.add_argument("playlist_id", metavar="PLAYLIST_ID")
    a.add_argument("--learner", metavar="NAME")
    a.add_argument("--item", metavar="ITEM_ID", help="with --learner: the item to record")
    a.add_argument("--played", action="store_true")
    a.add_argument("--done", action="store_true")
    a.add_argument("--reflection", metavar="TEXT")

    for a in act.choices.values():
        _add_library(a)
        a.add_argument("--json", action="store_true", help="print JSON")

    export = sub.choices["export"]
    what = next(x for x in export._actions if isinstance(x, argparse._SubParsersAction))
    e = what.add_parser("playlist", help="a playlist as an offline HTML package, a SCORM 1.2 "
                                         "package, M3U8, one M4A with chapters, JSON or CSV")
    e.add_argument("playlist_id", metavar="PLAYLIST_ID")
    _add_library(e)
    e.add_argument("--format", required=True, choices=export_mod.EXPORT_FORMATS)
    e.add_argument("--out", required=True, metavar="PATH")


def _playlist_line(item: playlists_mod.PlaylistItem) -> str:
    return (f"  {item.position:>2}. [item {item.id}] "
            f"{'COMPARE ' if item.is_comparison else ''}{item.title}  "
            f"({fmt_time(item.duration_s)})")


def _print_playlist(lib: Library, playlist: playlists_mod.Playlist) -> None:
    print(f"playlist {playlist.id}: {playlist.title}")
    about = " · ".join(x for x in (playlist.audience, f"{len(playlist.items)} items",
                                   fmt_time(playlist.duration_s)) if x)
    print(f"  {about}")
    if playlist.description:
        print(f"  {playlist.description}")
    if not playlist.items:
        print("  (no items yet: `clipstudio playlist add "
              f"{playlist.id} CLIP_ID... --section NAME --note TEXT`)")
    for section in playlist.sections:
        print(f"\n  == {section.name or '(no section)'} ==")
        for item in section.items:
            print(_playlist_line(item))
            if item.note:
                print(f"        note: {item.note}")
            if item.is_comparison:
                for k, view in enumerate(playlists_mod.item_views(lib, item), 1):
                    c = view.clip
                    share = ("?" if view.rep_talk_share is None
                             else f"{view.rep_talk_share:.0%}")
                    print(f"        {k}) clip {c.id} · {c.rep or '-'}"
                          f"{' ★' if c.a_player else ''} · {c.rating} · "
                          f"{c.duration_s:.1f} s · rep talks {share} · "
                          f"{len(view.rep_questions)} rep questions")
                    if view.note:
                        print(f"           notice: {view.note}")
            else:
                c = item.clips[0]
                print(f"        clip {c.id} · {c.rep or '-'}{' ★' if c.a_player else ''} · "
                      f"{c.rating} · {c.call_title}")


def cmd_playlist(lib: Library, args: argparse.Namespace) -> int:
    P = playlists_mod
    act = args.playlist_action
    out: str | None = None
    if act == "create":
        pl = P.create_playlist(lib, args.title, description=args.description,
                               audience=args.audience)
        if args.json:
            print(json.dumps({"playlist_id": pl.id, "title": pl.title}))
        else:
            print(f"created playlist {pl.id}: {pl.title}")
        return 0
    if act == "list":
        found = P.list_playlists(lib)
        if args.json:
            print(json.dumps([{"playlist_id": p.id, "title": p.title, "audience": p.audience,
                               "items": p.items, "comparisons": p.comparisons,
                               "updated_at": p.updated_at} for p in found], indent=2))
            return 0
        if not found:
            print("no playlists")
        for p in found:
            print(f"{p.id:>4}  {p.title[:40]:40}  {p.items:>3} items  {p.audience}")
        return 0
    if act == "suggest":
        found = P.suggest_comparisons(lib, args.skill)
        if args.json:
            print(json.dumps([{"skill": s.skill, "clip_ids": list(s.clip_ids),
                               "reason": s.reason} for s in found], indent=2))
            return 0
        if not found:
            print(f"no pairs for {args.skill!r}: tag clips with it, rating the good ones "
                  "good (or marking their reps A-players) and the weak ones poor")
        for s in found:
            print(f"clips {s.model.id} + {s.poor.id}: {s.reason}")
        return 0
    if act == "progress":
        return _playlist_progress(lib, args)
    if act in ("move", "item", "remove"):
        pid = P.get_item(lib, args.item_id).playlist_id
        if act == "move":
            P.move_item(lib, args.item_id, to=args.to,
                        step=None if args.to is not None else (-1 if args.up else 1))
        elif act == "item":
            P.update_item(lib, args.item_id, note=args.note, section=args.section,
                          title=args.title, clip_notes=args.clip_note)
        else:
            P.remove_item(lib, args.item_id)
            out = f"removed item {args.item_id}"
    elif act == "delete":
        pl = P.get_playlist(lib, args.playlist_id)
        P.delete_playlist(lib, pl.id)
        print(json.dumps({"deleted": pl.id}) if args.json
              else f"deleted playlist {pl.id}: {pl.title}")
        return 0
    else:
        pid = P.get_playlist(lib, args.playlist_id).id
        if act == "edit":
            P.update_playlist(lib, pid, title=args.title, description=args.description,
                              audience=args.audience)
        elif act == "add":
            res = P.add_items(lib, pid, args.clip_ids, section=args.section, note=args.note)
            out = (f"added {len(res.added)} clip{'s' if len(res.added) != 1 else ''}"
                   + (f"; skipped clip {', '.join(map(str, res.skipped_clip_ids))} (already "
                      "in the playlist)" if res.skipped_clip_ids else ""))
        elif act == "compare":
            item = P.add_comparison(lib, pid, args.clip_ids, title=args.title, note=args.note,
                                    clip_notes=args.clip_note, section=args.section)
            out = f"added comparison item {item.id}: {item.title}"
    playlist = P.get_playlist(lib, pid)
    if args.json:
        print(json.dumps(P.playlist_json(lib, playlist), indent=2, ensure_ascii=False))
        return 0
    if out:
        print(out)
    _print_playlist(lib, playlist)
    return 0


def _playlist_progress(lib: Library, args: argparse.Namespace) -> int:
    P = playlists_mod
    if args.learner:
        if args.item is not None:
            if P.get_item(lib, args.item).playlist_id != P.get_playlist(lib,
                                                                      args.playlist_id).id:
                raise InputError(f"item {args.item} is not in playlist {args.playlist_id}")
            P.record_progress(lib, args.learner, args.item,
                              played=True if args.played else None,
                              done=True if args.done else None, reflection=args.reflection)
        elif args.played or args.done or args.reflection is not None:
            raise InputError("say which item with --item ITEM_ID")
        prog = P.learner_progress(lib, args.playlist_id, args.learner)
        if args.json:
            print(json.dumps({"learner": prog.learner, "playlist_id": prog.playlist_id,
                              "done": prog.done, "played": prog.played, "total": prog.total,
                              "items": [{"item_id": i.item_id, "position": i.position,
                                         "title": i.title, "played": i.played,
                                         "done": i.done, "reflection": i.reflection}
                                        for i in prog.items]}, indent=2))
            return 0
        print(f"{prog.learner}: {prog.done} of {prog.total} done, {prog.played} played")
        for i in prog.items:
            mark = "x" if i.done else ("~" if i.played else " ")
            print(f"  [{mark}] {i.position:>2}. {i.title}")
            if i.reflection:
                print(f"        reflection: {i.reflection}")
        return 0
    if args.item is not None or args.played or args.done or args.reflection is not None:
        raise InputError("say whose progress to record with --learner NAME")
    rows = P.progress_report(lib, args.playlist_id)
    if args.json:
        print(json.dumps([{"learner": r.learner, "done": r.done, "played": r.played,
                           "total": r.total, "reflections": r.reflections,
                           "last_activity": r.last_activity} for r in rows], indent=2))
        return 0
    if not rows:
        print("nobody has started this playlist yet")
    for r in rows:
        print(f"{r.learner[:30]:30}  {r.done:>3}/{r.total} done  {r.played:>3} played  "
              f"{r.reflections:>3} reflections  last {r.last_activity or '-'}")
    return 0


def cmd_export_playlist(lib: Library, args: argparse.Namespace) -> int:
    path = export_mod.export_playlist(lib, args.playlist_id, args.format, args.out)
    print(f"wrote {path} ({path.stat().st_size // 1024 + 1} KB)")
    return 0


EXPORTS.update({"playlist": cmd_export_playlist})
COMMANDS.update({"playlist": cmd_playlist})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lib = Library(args.library)
        return COMMANDS[args.command](lib, args)
    except ClipStudioError as exc:
        print(f"clipstudio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("clipstudio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `clipstudio clips | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
