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

from .errors import ClipStudioError
from .library import ENV_LIBRARY, Library
from .models import OUTCOMES, Progress, Transcript
from .transcribe import DEVICES, EMBEDDED_MODEL


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
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("calls", help="list the calls in the library")
    _add_library(p)
    p.add_argument("--rep")
    p.add_argument("--outcome", choices=OUTCOMES)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("transcript", help="print one call's transcript")
    p.add_argument("call_id", metavar="CALL_ID")
    _add_library(p)
    p.add_argument("--format", choices=("json", "txt"), default="txt")
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
    bars = _Bars(enabled=not args.json)
    try:
        report = lib.ingest(
            args.paths,
            manifest=args.manifest,
            model=args.model,
            device=args.device,
            vocabulary=args.vocabulary,
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
                "status": c.status, "source_name": c.source_name,
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
    print(f"# {t.call.title} (call {t.call.id}, {fmt_time(t.call.duration_s)})")
    for u in t.utterances:
        who = f" {u.speaker}:" if u.speaker else ""
        print(f"[{fmt_time(u.start_s)}]{who} {u.text}")
    return 0


COMMANDS = {"ingest": cmd_ingest, "calls": cmd_calls, "transcript": cmd_transcript}


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
