"""Call metadata: from a manifest CSV a trainer fills in, else from the file itself.

Manifest columns (a header row is required; only ``file`` is mandatory, every other column
may be left out or left blank):

==========  ===========================================================
file        the recording's file name, matched case-insensitively
title       call title (default: made from the file name)
rep         the sales rep's name
account     the customer account
call_date   ``YYYY-MM-DD`` (default: a date in the file name, else its mtime)
outcome     won, lost, open or unknown (default unknown)
consent     yes/no: the call's participants agreed to recording
a_player    yes/no: the rep is an A-player (stored on the rep)
==========  ===========================================================

A bad manifest is rejected whole, before anything is ingested, with its line number.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from pathlib import Path

from .errors import InputError
from .models import OUTCOMES, CallMeta

MANIFEST_COLUMNS = ("file", "title", "rep", "account", "call_date", "outcome", "consent",
                    "a_player")
_TRUE = {"yes", "y", "true", "1", "x"}
_FALSE = {"no", "n", "false", "0"}
_DATE_IN_NAME = re.compile(r"(20\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)")


def parse_bool(value: str | None, *, column: str, where: str) -> bool | None:
    v = (value or "").strip().lower()
    if not v:
        return None
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise InputError(f"{where}: {column} must be yes or no, not {value!r}")


def parse_outcome(value: str | None, *, where: str = "outcome") -> str:
    v = (value or "").strip().lower() or "unknown"
    if v not in OUTCOMES:
        raise InputError(f"{where}: outcome must be one of {', '.join(OUTCOMES)}, not {value!r}")
    return v


def parse_date(value: str | None, *, where: str = "call_date") -> str | None:
    v = (value or "").strip()
    if not v:
        return None
    try:
        return date.fromisoformat(v).isoformat()
    except ValueError:
        raise InputError(f"{where}: call_date must be YYYY-MM-DD, not {value!r}") from None


def load_manifest(path: Path) -> dict[str, CallMeta]:
    """Read a manifest CSV into {lower-cased file name: CallMeta}."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "file" not in header:
        raise InputError(f"manifest {path} needs a header row with a 'file' column "
                         f"(columns: {', '.join(MANIFEST_COLUMNS)})")
    unknown = [h for h in header if h not in MANIFEST_COLUMNS]
    if unknown:
        raise InputError(f"manifest {path}: unknown column(s) {', '.join(unknown)} "
                         f"(columns: {', '.join(MANIFEST_COLUMNS)})")
    entries: dict[str, CallMeta] = {}
    for line_no, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        where = f"manifest {Path(path).name} line {line_no}"
        name = row.get("file", "")
        if not name:
            raise InputError(f"{where}: the file column is empty")
        key = Path(name).name.lower()
        if key in entries:
            raise InputError(f"{where}: {name} is listed twice")
        entries[key] = CallMeta(
            title=row.get("title") or title_from_name(Path(name)),
            rep=row.get("rep") or None,
            account=row.get("account") or None,
            call_date=parse_date(row.get("call_date"), where=where),
            outcome=parse_outcome(row.get("outcome"), where=where),
            consent=parse_bool(row.get("consent"), column="consent", where=where),
            a_player=parse_bool(row.get("a_player"), column="a_player", where=where),
        )
    return entries


def title_from_name(path: Path) -> str:
    """'2026-03-02_acme-discovery_call.mp3' -> 'Acme discovery call'."""
    stem = _DATE_IN_NAME.sub(" ", path.stem)
    words = re.sub(r"[_\-.]+", " ", stem).split()
    title = " ".join(words)
    return (title[:1].upper() + title[1:]) if title else path.name


def date_from_file(path: Path) -> str:
    """A date in the file name wins; otherwise the file's modification date."""
    m = _DATE_IN_NAME.search(path.stem)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime).date().isoformat()


def meta_for(path: Path, manifest: dict[str, CallMeta] | None) -> CallMeta:
    entry = (manifest or {}).get(path.name.lower())
    if entry is None:
        return CallMeta(title=title_from_name(path), call_date=date_from_file(path))
    if entry.call_date is None:
        return CallMeta(**{**entry.__dict__, "call_date": date_from_file(path)})
    return entry
