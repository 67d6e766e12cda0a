"""--tensorboard: event files written by the writer and by a short run, read back with
tensorboard's own event reader."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from main import test as test_script
from main import train as train_script
from main.config import make_config
from main.tensorboard_log import TensorBoardLog, metric_mean, open_tensorboard

ROOT = Path(__file__).resolve().parents[1]


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_writer_round_trip(tmp_path: Path) -> None:
    log = TensorBoardLog(str(tmp_path / "tb"))
    losses = [{"joint_img": torch.tensor(0.5), "mano_pose": torch.tensor(2.25)},
              {"joint_img": torch.tensor(0.25), "mano_pose": torch.tensor(1.5)}]  # fmt: skip
    log.train_iteration(10, losses[0], 1e-4, samples=48, seconds=0.5)
    log.train_iteration(11, losses[1], 1e-5, samples=48, seconds=0.0)  # no speed logged
    means = log.test_metrics({"mpjpe": [[10.0, None, 20.0], [30.0]], "names": ["a", "b"]}, 6)
    log.close()
    got = _scalars(tmp_path / "tb")
    assert set(got) == {"train/loss_joint_img", "train/loss_mano_pose", "train/loss_total",
                        "train/lr", "train/samples_per_s", "test/mpjpe"}  # fmt: skip
    assert got["train/loss_joint_img"] == [(10, 0.5), (11, 0.25)]
    assert got["train/loss_total"] == [(10, 2.75), (11, 1.75)]
    assert [s for s, _ in got["train/lr"]] == [10, 11]
    np.testing.assert_allclose([v for _, v in got["train/lr"]], [1e-4, 1e-5], rtol=1e-6)
    assert got["train/samples_per_s"] == [(10, 96.0)]
    assert means == {"mpjpe": 20.0} and got["test/mpjpe"] == [(6, 20.0)]


def test_metric_mean() -> None:
    assert metric_mean([1.0, None, 3.0]) == 2.0
    assert metric_mean([np.array([1.0, np.nan]), np.array([2.0, 3.0])]) == 2.0
    assert metric_mean([None, None]) is None and metric_mean(["x"]) is None
    assert metric_mean(5.0) is None


def test_off_imports_nothing(tmp_path: Path) -> None:
    """Without the flag: no writer, and torch.utils.tensorboard is never imported."""
    code = (
        "import sys; import main.runner, main.tester; from main.config import make_config; "
        "from main.tensorboard_log import open_tensorboard; "
        f"cfg = make_config('body', output_dir={str(tmp_path)!r}); "
        "assert open_tensorboard(cfg, 'train') is None; "
        "assert 'torch.utils.tensorboard' not in sys.modules, 'imported'; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert not (tmp_path / "tensorboard").exists()
    assert open_tensorboard(make_config("body", tensorboard=True, output_dir=str(tmp_path)),
                            "test") is not None  # fmt: skip


def _logged_losses(text: str) -> list[dict[str, float]]:
    """Each iteration line of train_logs.txt as {name: value} (lr and loss_* tokens)."""
    rows = []
    for line in text.splitlines():
        tokens = line.split()
        if "itr" in tokens:
            rows.append({a.rstrip(":"): float(b) for a, b in zip(tokens, tokens[1:])
                         if a == "lr:" or a.startswith("loss_")})  # fmt: skip
    return rows


def test_training_and_test_runs(tmp_path: Path, standin_model_dir, fixture_data_dir) -> None:
    common = ["--parts", "body", "--gpu", "cpu", "--human_model_path", str(standin_model_dir),
              "--data_dir", str(fixture_data_dir), "--output_dir", str(tmp_path),
              "--trainset_3d", "Human36M", "--trainset_2d", "none", "--testset", "PW3D",
              "--num_thread", "0", "--tensorboard"]  # fmt: skip
    train_script.main([*common, "--no_imagenet", "--train_batch_size", "1",
                       "--max_itr_per_epoch", "2", "--end_epoch", "1", "--seed", "0"])  # fmt: skip
    rows = _logged_losses((tmp_path / "log" / "train_logs.txt").read_text())
    assert len(rows) == 2
    got = _scalars(tmp_path / "tensorboard" / "train")
    names = [k for k in rows[0] if k.startswith("loss_")]
    assert len(names) >= 5
    assert set(got) == {f"train/{n}" for n in names} | {"train/loss_total", "train/lr",
                                                          "train/samples_per_s"}  # fmt: skip
    for name in names:
        assert [s for s, _ in got[f"train/{name}"]] == [0, 1]
        # The text log rounds to 4 decimals.
        np.testing.assert_allclose([v for _, v in got[f"train/{name}"]],
                                   [r[name] for r in rows], atol=5e-5)  # fmt: skip
    np.testing.assert_allclose([v for _, v in got["train/lr"]], [r["lr"] for r in rows])
    speeds = [v for _, v in got["train/samples_per_s"]]
    assert len(speeds) == 2 and all(math.isfinite(v) and v > 0 for v in speeds)

    result = test_script.main([*common, "--test_epoch", "0", "--test_batch_size", "2"])
    tested = _scalars(tmp_path / "tensorboard" / "test")
    expected = {f"test/{k}": float(np.mean(np.concatenate([np.ravel(v) for v in values])))
                for k, values in result.items() if values}  # fmt: skip
    assert expected and set(tested) == set(expected)
    for tag, value in expected.items():
        assert tested[tag][0][0] == 0  # the snapshot's epoch
        assert tested[tag][0][1] == pytest.approx(value, rel=1e-6)
