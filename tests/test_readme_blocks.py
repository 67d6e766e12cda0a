"""The README's quick start and demo commands run as written, on a fresh copy of the repository.

Every bash block of the sections "Quick start" and "Demo on your own image or video" is run line
by line from the copy's root, in a shell, with ``python`` being this interpreter; each must exit
0 and leave the files its ``# ->`` comment names. Blocks whose first line is ``# needs ...``
(licensed model files, released snapshots, detector weights, your own photos) are not run. The
quick start runs once per session (about 3 minutes on 2 cores) and the demo commands use what it
wrote, as a newcomer following the README would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme_text import NOT_RUN_MARK, ROOT, Command, readme_blocks

QUICK_START, DEMO = "Quick start", "Demo on your own image or video"
QUICK_BLOCKS = readme_blocks((QUICK_START,))
DEMO_BLOCKS = readme_blocks((DEMO,))
DEMO_COMMANDS = [c for b in DEMO_BLOCKS if b.not_run_reason is None for c in b.commands]
SKIPPED_ROOTS = {".git", "output", ".pytest_cache", ".wheels", ".gl"}


def repository_files() -> list[str]:
    """Root-relative paths of the checkout's files: tracked and untracked-but-not-ignored ones
    (no outputs, data sets, licensed model files or snapshots)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout.decode().split("\0")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        listed = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    keep = []
    for rel in listed:
        parts = Path(rel).parts
        if not parts or parts[0] in SKIPPED_ROOTS or "__pycache__" in parts:
            continue
        if parts[0] == "data" and len(parts) > 2 and not rel.endswith(".py"):
            continue  # data set files next to the loaders
        if "human_model_files" in parts and not rel.endswith(".gitkeep"):
            continue  # licensed files
        if (ROOT / rel).is_file():
            keep.append(rel)
    return keep


def run_command(command: Command, checkout: Path, bin_dir: Path, timeout: int) -> str:
    """Run one README line in a shell from the checkout's root; check exit code and files;
    return what it printed."""
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        ["bash", "-c", command.line], cwd=checkout, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
    assert proc.returncode == 0, f"README line failed ({proc.returncode}): {command.line}\n{tail}"
    missing = [path for path in command.expected if not (checkout / path).is_file()]
    assert not missing, f"README line {command.line!r} did not write {missing}\n{tail}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def quick_started(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh copy of the repository after the README's quick start block; (checkout, bin)."""
    base = tmp_path_factory.mktemp("readme")
    checkout, bin_dir = base / "Pose2Pose", base / "bin"
    for rel in repository_files():
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, checkout / rel)
    (checkout / "output").mkdir(exist_ok=True)
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)  # the README's `python` is this interpreter
    before = set(repository_files_in(checkout))
    for block in QUICK_BLOCKS:
        for command in block.commands:
            run_command(command, checkout, bin_dir, timeout=1200)
    # the quick start writes only under output/quickstart/
    assert set(repository_files_in(checkout)) == before
    return checkout, bin_dir


def repository_files_in(checkout: Path) -> list[str]:
    """Files of ``checkout`` outside ``output/`` (caches left out)."""
    return [
        str(p.relative_to(checkout)) for p in checkout.rglob("*")
        if p.is_file() and p.relative_to(checkout).parts[0] != "output"
        and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    ]  # fmt: skip


def test_readme_sections_have_runnable_blocks():
    # Marking every block as not runnable would silence the tests below.
    assert [b for b in QUICK_BLOCKS if b.not_run_reason is None], "no runnable quick start block"
    assert len(DEMO_COMMANDS) >= 3, "the demo section should keep its quick-start demo commands"
    for block in QUICK_BLOCKS + DEMO_BLOCKS:
        assert block.commands, f"empty bash block in {block.section!r}"
        if block.not_run_reason is not None:
            assert len(block.not_run_reason) > len(NOT_RUN_MARK) + 3, block.not_run_reason
    # the demo commands name what they write, so the test can check it
    assert all(c.expected for c in DEMO_COMMANDS), [c.line for c in DEMO_COMMANDS if not c.expected]


def test_quick_start_writes_what_the_readme_says(quick_started):
    checkout, _ = quick_started
    commands = [c for b in QUICK_BLOCKS if b.not_run_reason is None for c in b.commands]
    assert any(c.expected for c in commands)
    for command in commands:  # run_command checked them right after the run; still there
        for path in command.expected:
            assert (checkout / path).stat().st_size > 0, path


@pytest.mark.parametrize(
    "command", DEMO_COMMANDS, ids=[c.line.split("#")[0].strip() for c in DEMO_COMMANDS]
)
def test_readme_demo_command_runs(quick_started, command):
    checkout, bin_dir = quick_started
    for path in command.expected:  # files of an earlier command must not satisfy this one
        (checkout / path).unlink(missing_ok=True)
    printed = run_command(command, checkout, bin_dir, timeout=600)
    # the README says the demos take the quick start's stand-in models and that the log says so
    assert "the snapshot is the quick start's" in printed
    assert os.path.realpath(checkout / "output" / "quickstart" / "human_model_files") in printed


def test_block_parser_and_runner_catch_mistakes(tmp_path):
    from tests.readme_text import bash_blocks

    text = (
        "intro\n```bash\n# needs the real model files\npython a.py\n```\n"
        "```bash\npython b.py --x 1 \\\n    --y 2   # -> out/b.txt out/c.txt\n```\n"
    )
    skipped, run = bash_blocks("S", text)
    assert skipped.not_run_reason == "# needs the real model files"
    assert run.not_run_reason is None
    joined = "python b.py --x 1      --y 2   # -> out/b.txt out/c.txt"  # continuation joined
    assert [c.line for c in run.commands] == [joined]
    assert run.commands[0].expected == ["out/b.txt", "out/c.txt"]
    # a failing line and a missing promised file are both reported
    with pytest.raises(AssertionError, match="failed"):
        run_command(Command("S", "exit 3"), tmp_path, tmp_path, timeout=30)
    with pytest.raises(AssertionError, match="did not write"):
        run_command(Command("S", "true", ["out/b.txt"]), tmp_path, tmp_path, timeout=30)
    (tmp_path / "out").mkdir()
    run_command(Command("S", "echo hi > out/b.txt", ["out/b.txt"]), tmp_path, tmp_path, timeout=30)
