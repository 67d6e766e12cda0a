"""What a run log records at start: the resolved configuration, package versions, git commit."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os.path as osp
import subprocess

from main.config import ROOT_DIR, Config

# (import name, name in the log) of the packages whose version changes results.
PACKAGES = (
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("numpy", "numpy"),
    ("smplx", "smplx"),
    ("cv2", "opencv"),
    ("kornia", "kornia"),
)


def package_versions() -> dict[str, str]:
    """``{name: version}`` of :data:`PACKAGES`; 'not installed' for missing ones."""
    versions = {}
    for module_name, label in PACKAGES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            versions[label] = "not installed"
            continue
        versions[label] = str(getattr(module, "__version__", "unknown"))
    return versions


def git_commit(root: str = ROOT_DIR) -> str:
    """The checked-out commit of ``root`` (with ' (modified)' when the tree has changes), or
    'not a git checkout'."""
    if not osp.exists(osp.join(root, ".git")):
        return "not a git checkout"
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return "not a git checkout"
        status = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "not a git checkout"
    modified = " (modified)" if status.returncode == 0 and status.stdout.strip() else ""
    return commit.stdout.strip() + modified


def log_run_header(log: logging.Logger, cfg: Config) -> None:
    """Log the resolved configuration (every field), the package versions and the git commit."""
    log.info("git commit: %s", git_commit())
    log.info(
        "packages: %s", ", ".join(f"{k} {v}" for k, v in package_versions().items())
    )
    values = dataclasses.asdict(cfg)
    values["fixes"] = sorted(values["fixes"])
    log.info("configuration: %s", ", ".join(f"{k}={values[k]!r}" for k in sorted(values)))


__all__ = ["PACKAGES", "git_commit", "log_run_header", "package_versions"]
