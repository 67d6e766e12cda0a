"""Reading README.md for the tests: its ``## `` sections and the commands of its bash blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_RUN_MARK = "# needs "  # first line of a bash block that needs files a test cannot have


@dataclass
class Command:
    """One shell command of a README block, run from the repository root."""

    section: str
    line: str
    expected: list[str] = field(default_factory=list)  # files (root-relative) named after '# ->'


@dataclass
class Block:
    section: str
    commands: list[Command]
    not_run_reason: str | None  # the block's '# needs ...' line, or None when it is run


def sections(text: str) -> dict[str, str]:
    """``## `` heading -> the text up to the next ``## `` heading (sub-sections included)."""
    parts = re.split(r"^## +(.+)\n", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def bash_blocks(section_name: str, body: str) -> list[Block]:
    """The ```bash blocks of a section, as commands (backslash continuations joined)."""
    blocks = []
    for raw in re.findall(r"^```bash\n(.*?)^```", body, flags=re.MULTILINE | re.DOTALL):
        lines = raw.replace("\\\n", " ").splitlines()
        first = lines[0].strip() if lines else ""
        reason = first if first.startswith(NOT_RUN_MARK) else None
        commands = []
        for line in lines:
            code, _, comment = line.partition("#")
            if not code.strip():
                continue
            expected = comment.split("->", 1)[1].split() if "->" in comment else []
            commands.append(Command(section_name, line.strip(), expected))
        blocks.append(Block(section_name, commands, reason))
    return blocks


def readme_blocks(prefixes: tuple[str, ...]) -> list[Block]:
    """Every bash block of the README sections whose heading starts with one of ``prefixes``."""
    found = {name: body for name, body in sections(README.read_text(encoding="utf-8")).items()
             if name.startswith(prefixes)}  # fmt: skip
    assert len(found) == len(prefixes), f"README.md lacks a section of {prefixes}: {list(found)}"
    return [block for name, body in found.items() for block in bash_blocks(name, body)]
