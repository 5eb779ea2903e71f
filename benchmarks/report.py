"""Results: per-figure checks, the printed table, and ``results.json``.

A figure holds its raw numbers, what it timed (in-process or a whole process)
and one or more checks; each check is a ratio that names its numerator and its
denominator (another measurement of the same run, a computed bound or a fixed
target), with the target it is held to (or none, when it only informs).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Comparison = Literal[">=", "<="]


@dataclass(slots=True)
class Check:
    """``ratio`` = ``numerator`` ÷ ``denominator``, held to ``target`` (None: informative)."""

    name: str
    numerator: str
    denominator: str
    ratio: float
    target: float | None = None
    comparison: Comparison = ">="

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        if self.comparison == ">=":
            return self.ratio >= self.target
        return self.ratio <= self.target

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = round(self.ratio, 4)
        data["passed"] = self.passed
        return data


@dataclass(slots=True)
class Figure:
    number: int
    title: str
    method: str
    #: In-process (``run_batch`` in the bench) or whole process (a child, spawn to exit).
    timed: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    date: str = field(
        default_factory=lambda: datetime.now().astimezone().isoformat(timespec="seconds")
    )

    @property
    def passed(self) -> bool | None:
        verdicts = [c.passed for c in self.checks if c.passed is not None]
        return all(verdicts) if verdicts else None

    def to_json(self, quick: bool) -> dict[str, Any]:
        return {
            "title": self.title,
            "date": self.date,
            "quick": quick,
            "method": self.method,
            "timed": self.timed,
            "raw": _rounded(self.raw),
            "checks": [c.to_json() for c in self.checks],
            "passed": self.passed,
            "notes": self.notes,
        }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None  # JSON has no NaN
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def machine() -> dict[str, Any]:
    """Where the numbers came from: they mean little without it."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 0
    memory = 0
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "memory_gib": round(memory / 2**30, 1),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
    }


def code_state(repo: Path) -> dict[str, Any]:
    """Which migo was measured: HEAD and any uncommitted change under ``migo_cli/``.

    Read-only git (``--no-optional-locks``: not even the index is refreshed).
    """

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "--no-optional-locks", "-C", str(repo), *args],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.rstrip("\n")  # porcelain lines may start with a space

    changed = [line[3:] for line in git("status", "--porcelain", "--", "migo_cli").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD") or None, "uncommitted": changed}


def write_results(
    path: Path, figures: list[Figure], *, quick: bool, argv: list[str], code: dict[str, Any]
) -> None:
    """Replace the figures run now, keep the others (each carries its own date and code)."""
    document: dict[str, Any] = {}
    if path.exists():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            document = {}
    stored = document.get("figures") if isinstance(document.get("figures"), dict) else {}
    assert isinstance(stored, dict)
    for figure in figures:
        stored[str(figure.number)] = {**figure.to_json(quick), "code": code}
    document = {
        "machine": machine(),
        "code": code,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks", *argv]),
        "figures": dict(sorted(stored.items(), key=lambda kv: int(kv[0]))),
    }
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(temporary, path)


def _verdict(passed: bool | None) -> str:
    return "-" if passed is None else "PASS" if passed else "FAIL"


def render_table(figures: list[Figure]) -> str:
    """A plain-text table: one line per check, the raw numbers under each figure."""
    lines: list[str] = []
    header = f"{'check':<46} {'ratio':>8}  {'target':>9}  {'result':<6}"
    rule = "-" * len(header)
    for figure in figures:
        lines += ["", f"[{figure.number}] {figure.title}", f"    timed: {figure.timed}"]
        lines += [rule, header, rule]
        for check in figure.checks:
            target = "" if check.target is None else f"{check.comparison} {check.target:g}"
            lines.append(
                f"{check.name:<46} {check.ratio:>8.3f}  {target:>9}  {_verdict(check.passed):<6}"
            )
            lines.append(f"    = {check.numerator} / {check.denominator}")
        for key, value in figure.raw.items():
            if isinstance(value, list | dict):
                continue
            shown = f"{value:,.3f}" if isinstance(value, float) else f"{value}"
            lines.append(f"    {key}: {shown}")
        lines += [f"    note: {note}" for note in figure.notes]
    return "\n".join(lines)
