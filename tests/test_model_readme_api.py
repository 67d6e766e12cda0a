"""The README's "Python API" code block runs as written and prints the documented shapes."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_api_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Python API\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Python API' section"
    block = re.search(r"^```python\n(.*?)^```", section.group(1), flags=re.MULTILINE | re.DOTALL)
    assert block, "the README's '## Python API' section has no ```python code block"
    return block.group(1)


def test_readme_python_api_block_runs(capsys):
    code = compile(python_api_block(), "README.md:Python API", "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - running the README block is the test
    printed = capsys.readouterr().out
    # "key (shape)" lines; other lines (e.g. smplx's warning about 10 shape coefficients) skipped
    shapes = dict(re.findall(r"^(\w+) +(\([\d, ]*\))$", printed, flags=re.MULTILINE))
    assert shapes == {
        "cam_trans": "(2, 3)",
        "img": "(2, 3, 256, 192)",
        "joint_img": "(2, 25, 3)",
        "smpl_mesh_cam": "(2, 6890, 3)",
        "smpl_joint_proj": "(2, 33, 2)",
        "smpl_pose": "(2, 72)",
        "smpl_shape": "(2, 10)",
    }
