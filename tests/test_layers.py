"""The folders are the layers: ``common/`` (the library) imports nothing from ``main/``,
``data/``, ``demo/`` or ``tool/`` — not at module level, not inside functions, not for type
checking."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPPER_LAYERS = {"main", "data", "demo", "tool"}


def imported_packages(source: str, module: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in ``source``; relative imports are resolved
    against ``module`` (dotted name of the file, e.g. ``common.utils.vis``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, (node.module or "").split(".")[0]))
            else:
                package = module.split(".")[: -node.level]
                found.append((node.lineno, package[0] if package else "<outside>"))
    return sorted(found)


def test_the_walker_sees_every_import_form() -> None:
    source = (
        "import main.config\nfrom data.dataset import X\nimport numpy as np\n"
        "def f():\n    from tool import y\nif TYPE_CHECKING:\n    import demo.body\n"
        "from . import sibling\nfrom ... import beyond\n"
    )
    got = [pkg for _, pkg in imported_packages(source, "common.utils.vis")]
    assert got == ["main", "data", "numpy", "tool", "demo", "common", "<outside>"]


def test_common_imports_no_upper_layer() -> None:
    files = sorted((ROOT / "common").rglob("*.py"))
    assert len(files) > 10
    offending = []
    for path in files:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for line, package in imported_packages(path.read_text(), module):
            if package in UPPER_LAYERS or package == "<outside>":
                offending.append(f"{path.relative_to(ROOT)}:{line} imports {package}")
    assert not offending, "common/ must not import main, data, demo or tool:\n" + "\n".join(
        offending
    )
