"""Each benchmark owns one marked block of bench/RESULTS.md and rewrites only that block."""

from __future__ import annotations

import os
import platform
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


def machine_info(**extra: str) -> dict[str, str]:
    """The machine a benchmark ran on (cores, CPU, RAM, Python, OS), plus ``extra``: the
    versions that matter to that benchmark."""
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0.0
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = float(line.split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "os": platform.platform(),
        **extra,
    }
