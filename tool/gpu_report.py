"""The report of ``tool/gpu_check.py``: sections written to Markdown and JSON as they finish.

Both files are rewritten atomically after every section, so a run cut short by a time limit
still leaves every finished section readable.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

PASS, FAIL, INFO, SKIP = "pass", "FAIL", "info", "skipped"


@dataclass
class Section:
    """One check: a status, a one-line summary, and an optional table."""

    name: str
    status: str  # PASS, FAIL, INFO or SKIP
    summary: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)  # numbers for the JSON report


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    """Sections in the order they ran, kept on disk as ``<stem>.md`` and ``<stem>.json``."""

    def __init__(self, out_dir: str, title: str, facts: dict[str, str]) -> None:
        os.makedirs(out_dir, exist_ok=True)
        self.md_path = os.path.join(out_dir, "gpu_check.md")
        self.json_path = os.path.join(out_dir, "gpu_check.json")
        self.title = title
        self.facts = facts
        self.sections: list[Section] = []
        self.start = time.time()
        self.write()

    def add(self, section: Section) -> Section:
        self.sections.append(section)
        self.write()
        return section

    @property
    def failed(self) -> list[str]:
        return [s.name for s in self.sections if s.status == FAIL]

    def write(self) -> None:
        parts = [f"# {self.title}", ""]
        parts += [f"- {key}: {value}" for key, value in self.facts.items()]
        parts.append(f"- elapsed: {time.time() - self.start:.0f} s")
        for s in self.sections:
            parts += ["", f"## {s.name}: {s.status} ({s.seconds:.1f} s)", "", s.summary]
            if s.rows:
                parts += ["", markdown_table(s.header, s.rows)]
        _atomic_write(self.md_path, "\n".join(parts) + "\n")
        payload = {
            "title": self.title,
            "facts": self.facts,
            "elapsed_s": time.time() - self.start,
            "sections": [asdict(s) for s in self.sections],
        }
        _atomic_write(self.json_path, json.dumps(payload, indent=1, default=str) + "\n")
