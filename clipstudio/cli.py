"""The ``clipstudio`` command: a thin layer over :class:`clipstudio.library.Library`.

Exit status: 0 when everything worked, 1 when an ingest had failed files, 2 for a usage
error or a ClipStudioError (printed as one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import trackers as tracker_mod
from .errors import ClipStudioError, InputError
from .library import ENV_LIBRARY, Library
from .models import OUTCOMES, Progress, Transcript
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
    return parser


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
                    {"text": w.text, "start_s": w.start_s, "end_s": w.end_s,
                     "probability": w.probability}
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
                        limit=args.limit)
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


COMMANDS = {"ingest": cmd_ingest, "calls": cmd_calls, "transcript": cmd_transcript,
            "speakers": cmd_speakers, "reps": cmd_reps, "search": cmd_search,
            "reindex": cmd_reindex, "trackers": cmd_trackers}


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


if __name__ == "__main__":
    sys.exit(main())
