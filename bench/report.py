"""Each benchmark owns one marked block of bench/RESULTS.md and rewrites only that block."""

from __future__ import annotations

import os
from pathlib import Path


def write_section(path: Path, name: str, text: str) -> None:
    """Replace the block between ``<!-- name:begin -->`` and ``<!-- name:end -->`` (or append
    it), leaving the other benchmarks' figures as they are; written atomically."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        current = head + block + rest.split(end, 1)[1]
    else:
        current = (current.rstrip("\n") + "\n\n" if current.strip() else "") + block + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(current, encoding="utf-8")
    os.replace(tmp, path)
