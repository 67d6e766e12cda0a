"""Smoke tests of ``tool/bench_train.py`` and ``tool/bench_infer.py`` (not timed tests).

Each bench runs once with the tiniest settings (ResNet-18, batch 1-2, one iteration) on the
stand-in human models; the tests check the printed table: its columns, the promised rows, and
that the derived columns agree with the measured ones.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import torch

from main.config import make_config
from main.runner import Trainer
from tool import bench_data, bench_infer, bench_train, bench_train_steps
from tool.bench_common import NO_CUDA, BenchError, format_table, parse_positive_ints

TRAIN_COLUMNS = ["part", "device", "measure", "batch", "img/s", "it/s", "x fp32", "warm-up s",
                 "loss@1 vs fp32", "loss@1", "loss@1 vs fp32"]  # fmt: skip
INFER_COLUMNS = ["part", "device", "measure", "batch", "crops/s", "ms/crop",
                 "onnxruntime crops/s", "ort/torch"]  # fmt: skip


def _table(printed: str, columns: list[str]) -> dict[str, list[str]]:
    """Printed table rows keyed by '<device> <measure> [<batch>]' (cells split on 2+ spaces)."""
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
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert bench_train.main(argv) == 0
    return buffer.getvalue()


def test_train_table_has_steps_loop_and_loaders(train_output: str) -> None:
    rows = _table(train_output, TRAIN_COLUMNS)
    fp32, bf16 = rows["cpu step fp32 1"], rows["cpu step bf16 1"]
    assert fp32[6] == "1.00" and fp32[7] == "0.0" and fp32[8] == fp32[10] == "0.00%"
    # The ratio and the loss difference are recomputed from the printed rates and losses.
    assert float(bf16[6]) == pytest.approx(float(bf16[5]) / float(fp32[5]), rel=0.02, abs=0.01)
    rel = abs(float(bf16[9]) - float(fp32[9])) / abs(float(fp32[9]))
    assert float(bf16[10].split("%")[0]) == pytest.approx(100 * rel, abs=0.01)
    # Step 1 runs the same weights on the same batch: bf16 changes only the arithmetic.
    assert bf16[8] == bf16[10] and float(bf16[8].split("%")[0]) < 5
    # The jittered fp32 differs from fp32 only by rounding-level weight changes.
    jitter = rows[f"cpu step {bench_train_steps.FP32_JITTER.name} 1"]
    assert float(jitter[8].split("%")[0]) < 0.01
    loop = rows["cpu loop: 1 workers + step fp32 1"]
    assert float(loop[5]) > 0
    assert float(loop[6]) == pytest.approx(float(loop[5]) / float(fp32[5]), rel=0.02, abs=0.01)
    for name in ("Human36M", "MSCOCO", "MPII"):
        loader = rows[f"cpu loader {name} (1 process, 1 thread) 1"]
        assert float(loader[4]) > 0  # batch 1: samples/s = batches/s
        assert float(loader[4]) == pytest.approx(float(loader[5]), abs=0.006)
    for row in (fp32, bf16):
        assert float(row[4]) == pytest.approx(float(row[5]), abs=0.006)  # batch 1: img/s = it/s
    if not torch.cuda.is_available():
        assert rows["cuda step fp32"][3] == NO_CUDA
        assert rows["cuda loop: 1 workers + step fp32"][3] == NO_CUDA
    assert "start: CPU: " in train_output and "load average" in train_output.split("end:")[1]


@pytest.fixture(scope="module")
def infer_output(standin_model_dir: Path) -> str:
    argv = [
        "--parts", "body", "--human_model_path", str(standin_model_dir), "--resnet_type", "18",
        "--batch_sizes", "1,2", "--warmup", "0", "--iters", "1",
    ]  # fmt: skip
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert bench_infer.main(argv) == 0
    return buffer.getvalue()


def test_infer_table_has_batches_onnx_column_and_demo(infer_output: str) -> None:
    rows = _table(infer_output, INFER_COLUMNS)
    onnx_module, reason = bench_infer.onnx_backend(no_onnx=False)
    for batch in (1, 2):
        row = rows[f"cpu test-mode forward {batch}"]
        assert float(row[5]) == pytest.approx(1000 / float(row[4]), rel=0.02)
        if onnx_module is None:
            assert row[6:] == ["-", "-"]
        else:
            assert float(row[7]) == pytest.approx(float(row[6]) / float(row[4]), rel=0.02)
        if not torch.cuda.is_available():
            assert rows[f"cuda test-mode forward {batch}"][4] == NO_CUDA
    demo = next(cells for key, cells in rows.items() if key.startswith("cpu demo: 1 crop"))
    assert "no render" in demo[2] and demo[3] == "1"
    latency = float(demo[5]) / 1000
    match = re.search(r"body demo latency ([0-9.]+) s: target < 0.5 s on 2 CPU cores (met|NOT met)",
                      infer_output)  # fmt: skip
    assert match and float(match.group(1)) == pytest.approx(latency, abs=6e-4)
    assert match.group(2) == ("met" if float(match.group(1)) < 0.5 else "NOT met")
    if onnx_module is None:
        assert f"onnxruntime: {reason}" in infer_output
    else:
        assert "onnxruntime: CPU execution provider" in infer_output
        assert "body: ONNX export took" in infer_output


def _rows_after(printed: str, header_start: str) -> tuple[list[str], list[list[str]]]:
    """Header cells and rows of the printed table whose header starts with ``header_start``."""
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return re.split(r"\s{2,}", lines[start].strip()), rows


def test_data_bench_tables(standin_model_dir: Path, fixture_data_dir: Path) -> None:
    argv = [
        "--datasets", "FFHQ,MPII", "--human_model_path", str(standin_model_dir),
        "--data_dir", str(fixture_data_dir), "--seconds", "0.02", "--repeats", "1",
        "--decode_files", "3",
    ]  # fmt: skip
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        bench_data.main(argv)
    printed = buffer.getvalue()
    header, rows = _rows_after(printed, "dataset  ")
    assert header[-3:] == ["rest ms (baseline)", "rest ms (fast)", "rest speed-up"]
    assert [(r[0], r[1]) for r in rows] == [("FFHQ", "face"), ("MPII", "body")]
    for row in rows:
        baseline, fast = float(row[5]), float(row[6])
        assert baseline > 0 and fast > 0 and float(row[2]) > 0 and float(row[3]) > 0
        assert float(row[7]) == pytest.approx(baseline / fast, rel=0.1, abs=0.1)
    header, rows = _rows_after(printed, "dataset (image check)")
    assert header == ["dataset (image check)", "samples/s (no check)", "samples/s (checked)",
                      "ratio", "check ms", "check % of a sample"]  # fmt: skip
    assert [r[0] for r in rows] == ["FFHQ", "MPII"]
    for row in rows:
        assert float(row[3]) == pytest.approx(float(row[2]) / float(row[1]), rel=0.05, abs=0.01)
        share = float(row[4]) / 1000 * float(row[2]) * 100  # check s x samples/s, in %
        assert float(row[4]) > 0 and float(row[5]) == pytest.approx(share, rel=0.1, abs=0.02)
    header, rows = _rows_after(printed, "frame  ")
    assert header == ["frame", "size", "patch", "patch ms (baseline)", "patch ms (fast)",
                      "speed-up"]  # fmt: skip
    assert [r[1] for r in rows] == ["1000x1002", "640x480", "1280x720", "1024x1024"]
    for row in rows:
        assert float(row[5]) == pytest.approx(float(row[3]) / float(row[4]), rel=0.1, abs=0.1)
    header, rows = _rows_after(printed, "frame      files")
    assert header == ["frame", "files", "KiB/file", "samples/s (default)",
                      "samples/s (fast_decode)", "speed-up", "reductions", "PSNR dB (mean)",
                      "PSNR dB (min)"]  # fmt: skip
    assert [(r[0], r[1]) for r in rows] == [("1000x1000", "3"), ("1920x1080", "3")]
    for row in rows:
        assert float(row[2]) > 10  # textured frames, not flat colour
        default, fast = float(row[3]), float(row[4])
        assert float(row[5]) == pytest.approx(fast / default, rel=0.02, abs=0.01)
        counts = dict(cell.split(": ") for cell in row[6].split(", "))
        assert set(counts) <= {"1/1", "1/2", "1/4", "1/8"} and sum(map(int, counts.values())) >= 3
        if row[7] != "-":  # some sample decoded reduced: its crop is close to the full one
            assert float(row[8]) >= 30.0 and float(row[7]) >= float(row[8])
    for bad in (["--datasets", "Nope"], ["--tables", "decode,nope"], ["--decode_files", "0"]):
        with pytest.raises(SystemExit):
            bench_data.main(bad)


# ---- pure helpers ----------------------------------------------------------------------------


def test_parse_settings_puts_fp32_first_and_combines_flags() -> None:
    settings = bench_train_steps.parse_settings("bf16,channels_last+bf16,compile")
    assert [s.name for s in settings][2:] == ["bf16", "channels_last+bf16", "compile"]
    assert settings[:2] == [bench_train_steps.FP32, bench_train_steps.FP32_JITTER]
    assert settings[1].jitter > 0 and settings[1].amp == "none"
    combo = settings[3]
    assert (combo.amp, combo.channels_last, combo.compile) == ("bf16", True, False)
    assert settings[0] == bench_train_steps.Setting("fp32", "none", False, False)
    names = [s.name for s in bench_train_steps.parse_settings("fp32,compile,bf16+compile", True)]
    assert names == ["fp32", bench_train_steps.FP32_JITTER.name]
    for bad in ("fp16", "bf16+bf16", "bf16+fp32"):
        with pytest.raises(BenchError, match="--settings"):
            bench_train_steps.parse_settings(bad)


def test_jitter_setting_changes_the_weights_at_the_rounding_level(standin_model_dir, tmp_path):
    cfg = make_config("body", human_model_path=str(standin_model_dir), resnet_type=18,
                      no_imagenet=True, output_dir=str(tmp_path))  # fmt: skip
    trainer = bench_train_steps.make_trainer(cfg, bench_train_steps.FP32, 0)
    assert type(trainer) is Trainer  # the runner's own model, optimizer and train step
    plain = trainer.model.state_dict()
    jittered = bench_train_steps.make_trainer(cfg, bench_train_steps.FP32_JITTER, 0).model.state_dict()
    changed = 0
    for key, value in plain.items():
        if value.is_floating_point() and value.abs().sum() > 0 and "running" not in key:
            rel = ((jittered[key] - value).abs() / value.abs().clamp_min(1e-30)).max()
            assert rel < 1e-5, key  # about 1e-6 N(0, 1), never more than a few 1e-6
            changed += bool(rel > 0)
    assert changed > 10  # every trained tensor moved


def test_measure_steps_interleaves_the_trainers_train_step() -> None:
    """Each setting runs ``Trainer.train_step`` warm-up + timed times, one setting after the
    other in every iteration; a failing non-fp32 setting is reported and dropped."""
    calls: list[str] = []

    class FakeTrainer:
        def __init__(self, name: str, losses: list[float]) -> None:
            self.name, self.losses = name, iter(losses)
            self.runtime = type("R", (), {"device": torch.device("cpu")})()

        def train_step(self, batch, where):
            calls.append(self.name)
            if self.name == "bf16" and calls.count("bf16") == 3:
                raise RuntimeError("bf16 broke\nsecond line")
            return {}, torch.tensor(next(self.losses))

    settings = bench_train_steps.parse_settings("bf16")
    names = [s.name for s in settings]
    trainers = {n: FakeTrainer(n, [1.0 + i, 2.0 + i, 3.0 + i]) for i, n in enumerate(names)}
    results = bench_train_steps.measure_steps(trainers, settings, None, warmup=1, iters=2)
    assert calls == names * 3  # bf16 fails in the third iteration, after the others ran
    fp32 = results["fp32"]
    assert (fp32.first_loss, fp32.loss, len(fp32.times)) == (1.0, 3.0, 2) and fp32.warmup_s > 0
    assert results["bf16"].error == "failed: RuntimeError: bf16 broke"


def test_format_table_aligns_columns_and_spans_notes() -> None:
    text = format_table(["a", "bb", "c"], [["xxx", "1", "2"], ["y", "a long note"]])
    assert text.splitlines() == [
        "a    bb  c",
        "---  --  -",
        "xxx  1   2",
        "y    a long note",
    ]


def test_parse_positive_ints_and_bad_arguments(capsys) -> None:
    assert parse_positive_ints("1, 8,8,32", "--batch_sizes") == [1, 8, 32]
    for bad in ("0", "a", ""):
        with pytest.raises(BenchError, match="--batch_sizes"):
            parse_positive_ints(bad, "--batch_sizes")
    with pytest.raises(SystemExit):
        bench_train.main(["--parts", "elbow"])
    assert "--parts: expected a comma-separated list of body, hand, face" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench_infer.main(["--parts", "body,hand", "--snapshot", "x.pth.tar"])
    assert "--snapshot: give exactly one part" in capsys.readouterr().err


def test_detector_rows_time_the_untrained_keypoint_rcnn() -> None:
    rows = bench_infer.detector_rows(["cpu", "cuda"], 0, 1, image_hw=(48, 64), min_size=64)
    cpu, cuda = rows
    assert cpu[:2] == ["detector", "cpu"] and cpu[3] == "1"
    assert "UNTRAINED weights, 64x48 image, 2 people" in cpu[2]
    rate, ms = float(cpu[4]), float(cpu[5])  # rate printed with 2 decimals, ms with 1
    assert rate > 0 and 1000 / (rate + 0.005) - 0.05 <= ms <= 1000 / max(rate - 0.005, 1e-9) + 0.05
    if not torch.cuda.is_available():
        assert cuda[1:] == ["cuda", cpu[2], "1", NO_CUDA]
