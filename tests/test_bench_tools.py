"""Smoke tests of ``tool/bench_train.py`` and ``tool/bench_infer.py`` (not timed tests).

Each bench runs once with the tiniest settings (ResNet-18, batch 1-2, one iteration) on the
stand-in human models; the tests check the printed table: its columns, the promised rows, and
that the derived columns agree with the measured ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from tool import bench_infer, bench_train
from tool.bench_common import NO_CUDA, BenchError, format_table, parse_positive_ints

TRAIN_COLUMNS = ["part", "device", "measure", "batch", "img/s", "it/s", "x fp32", "warm-up s",
                 "loss@1", "loss vs fp32"]  # fmt: skip
INFER_COLUMNS = ["part", "device", "measure", "batch", "crops/s", "ms/crop",
                 "onnxruntime crops/s", "ort/torch"]  # fmt: skip


def _table(printed: str, columns: list[str]) -> dict[str, list[str]]:
    """Rows of the printed table keyed by '<device> <measure> <batch>' (cells split on 2+ spaces)."""
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("part  "))
    assert re.split(r"\s{2,}", lines[start].strip()) == columns
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith(("body", "hand", "face")):
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[f"{cells[1]} {cells[2]}" + (f" {cells[3]}" if len(cells) > 4 else "")] = cells
    return rows


@pytest.fixture(scope="module")
def train_output(standin_model_dir: Path) -> str:
    argv = [
        "--parts", "body", "--human_model_path", str(standin_model_dir), "--resnet_type", "18",
        "--settings", "fp32,bf16", "--no_compile", "--batch_size", "1", "--warmup", "0",
        "--iters", "1", "--loader_samples", "2", "--workers", "1",
    ]  # fmt: skip
    import sys

    from _pytest.capture import CaptureFixture  # noqa: F401  (documentation of the capture)

    capture = pytest.MonkeyPatch()
    del capture
    from io import StringIO
    from contextlib import redirect_stdout

    buffer = StringIO()
    with redirect_stdout(buffer):
        assert bench_train.main(argv) == 0
    sys.stdout.flush()
    return buffer.getvalue()


def test_train_table_has_steps_loop_and_loaders(train_output: str) -> None:
    rows = _table(train_output, TRAIN_COLUMNS)
    fp32, bf16 = rows["cpu step fp32 1"], rows["cpu step bf16 1"]
    assert fp32[6] == "1.00" and fp32[9] == "0.00%"
    # The ratio and the loss difference are recomputed from the printed rates and losses.
    assert float(bf16[6]) == pytest.approx(float(bf16[5]) / float(fp32[5]), abs=0.02)
    rel = abs(float(bf16[8]) - float(fp32[8])) / abs(float(fp32[8]))
    assert float(bf16[9].split("%")[0]) == pytest.approx(100 * rel, abs=0.01)
    loop = rows["cpu loop: 1 workers + step fp32 1"]
    assert float(loop[5]) > 0 and float(loop[6]) == pytest.approx(
        float(loop[5]) / float(fp32[5]), abs=0.02
    )
    for name in ("Human36M", "MSCOCO", "MPII"):
        loader = rows[f"cpu loader {name} (1 process, 1 thread) 1"]
        assert float(loader[4]) > 0 and float(loader[4]) == pytest.approx(float(loader[5]), rel=0.01)
    for row in (fp32, bf16):
        assert float(row[4]) == pytest.approx(float(row[5]), rel=0.02)  # batch 1: img/s = it/s
    if not torch.cuda.is_available():
        assert rows["cuda step fp32"][3] == NO_CUDA
        assert rows["cuda loop: 1 workers + step fp32"][3] == NO_CUDA
    assert "start: CPU: " in train_output and "load average" in train_output.split("end:")[1]
