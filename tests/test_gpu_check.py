"""tool/gpu_check.py: the CPU smoke run of every path, and the report surviving failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from argparse import Namespace

import pytest

from tool.gpu_check import run_sections
from tool.gpu_report import FAIL, PASS, SKIP, Report, Section
from tool.gpu_sections import SECTIONS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cpu_smoke_runs_every_section(tmp_path) -> None:
    env = {**os.environ, "PYOPENGL_PLATFORM": "osmesa"}
    proc = subprocess.run(
        [sys.executable, "tool/gpu_check.py", "--cpu_smoke", "--budget_s", "1200",
         "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    statuses = {s["name"]: (s["status"], s["summary"]) for s in report["sections"]}
    assert proc.returncode == 0, (statuses, proc.stderr[-2000:])
    assert list(statuses) == [name for name, _ in SECTIONS]
    assert statuses["peak memory"][0] == SKIP  # needs CUDA
    for name in ("cuda vs cpu", "train.py and test.py", "torchrun", "train step", "render"):
        assert statuses[name][0] == PASS, (name, statuses[name])
    steps = next(s for s in report["sections"] if s["name"] == "train step")
    assert {"fp32", "fp32 jitter 1e-6", "bf16+channels_last"} <= set(steps["data"])
    assert steps["data"]["fp32"]["images_s"] > 0
    md = (tmp_path / "gpu_check.md").read_text()
    assert "CPU smoke run" in md and "## render: pass" in md


def test_a_failing_section_is_reported_and_later_ones_still_run(tmp_path) -> None:
    def broken(ctx) -> Section:
        raise RuntimeError("CUDA error: an illegal memory access")

    def fine(ctx) -> Section:
        return Section("", PASS, "fine")

    report = Report(str(tmp_path), "t", {})
    run_sections(report, [("a", broken), ("b", fine)], Namespace(), budget_s=100)
    on_disk = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [(s["name"], s["status"]) for s in on_disk["sections"]] == [("a", FAIL), ("b", PASS)]
    assert "illegal memory access" in on_disk["sections"][0]["summary"]
    assert report.failed == ["a"]


def test_sections_past_the_time_budget_are_skipped_not_lost(tmp_path) -> None:
    report = Report(str(tmp_path), "t", {})
    report.start -= 10  # ten seconds already spent
    run_sections(report, [("late", lambda ctx: Section("", PASS, "ran"))], Namespace(), budget_s=5)
    text = (tmp_path / "gpu_check.md").read_text()
    assert "## late: skipped" in text and "time budget" in text


def test_without_cuda_a_gpu_run_is_refused_clearly(tmp_path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the refusal applies to machines without one")
    proc = subprocess.run(
        [sys.executable, "tool/gpu_check.py", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "no CUDA device; use --cpu_smoke" in proc.stderr
