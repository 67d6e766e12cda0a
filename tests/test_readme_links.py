"""Every relative link and repository path that README.md and docs/ name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.readme_text import README, ROOT, bash_blocks, sections

DOCS = sorted((ROOT / "docs").glob("*.md"))
# A repository path as the README writes it: a top folder of the checkout, then a path.
PATH = re.compile(
    r"^(?:main|common|data|demo|tool|tests|assets|docs)/[\w./-]*$|^requirements[\w-]*\.txt$"
)
SCRIPT_SUFFIXES = (".py", ".txt", ".sh", ".json", ".png", ".jpg", ".md")


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#+ +(.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return {slug(h) for h in headings}


def relative_links(path: Path) -> list[str]:
    """Targets of the Markdown links and images of ``path`` that point into the repository."""
    text = path.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not re.match(r"^[a-z]+://|^mailto:", t)]


def named_paths(text: str) -> set[str]:
    """Repository paths in inline code and in the commands of bash blocks (placeholders such as
    ``<part>`` and the files a command writes, after ``# ->``, left out)."""
    found = {t for t in re.findall(r"`([^`\s]+)`", text) if PATH.match(t)}
    for name, body in sections(text).items():
        for block in bash_blocks(name, body):
            for command in block.commands:
                if re.search(r"(^|[\s(])cd ", command.line):
                    continue  # paths relative to another folder
                for token in command.line.split("#")[0].split():
                    if PATH.match(token) and token.endswith(SCRIPT_SUFFIXES):
                        found.add(token)
    return {p for p in found if "<" not in p and "{" not in p}


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_exist(doc):
    assert relative_links(README), "README.md links nothing: the parser is broken"
    for target in relative_links(doc):
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part) if file_part else doc
        assert linked.exists(), f"{doc.name} links {target!r}: {linked} does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{doc.name} links {target!r}: no such heading"


def test_paths_named_in_readme_exist():
    paths = named_paths(README.read_text(encoding="utf-8"))
    assert "tool/quickstart.py" in paths and "requirements.txt" in paths  # the parser finds them
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"README.md names files that do not exist: {missing}"


def test_docs_are_linked_from_readme():
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README)}
    assert DOCS, "docs/ has no pages"
    orphans = [d.name for d in DOCS if d.resolve() not in linked]
    assert not orphans, f"docs pages not linked from README.md: {orphans}"


def test_slug_matches_github():
    assert slug("`--fix` names") == "--fix-names"
    assert slug("Model, training, snapshots, demos") == "model-training-snapshots-demos"
