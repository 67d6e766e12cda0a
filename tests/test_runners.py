"""End-to-end runs of the user commands on CPU with stand-ins and fixtures.

One short body training run is shared by the tests of this module (2 iterations, batch 2).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from main.runner import Trainer, TrainingDiverged
from main import test as test_script
from main import train as train_script
from main.config import make_config
from tests.test_checkpoint import BODY_HEAD_KEYS as BODY_HEAD_KEY_TABLE
from tests.test_checkpoint import parse_keys

ROOT = Path(__file__).resolve().parents[1]

# The original's snapshots: 318 backbone keys + 17 head keys, all with the DataParallel prefix.
BODY_HEAD_KEYS = [name for name, _ in parse_keys(BODY_HEAD_KEY_TABLE)]


def _body_args(models: Path, data: Path, out: Path) -> list[str]:
    return [
        "--parts", "body", "--gpu", "cpu", "--human_model_path", str(models),
        "--data_dir", str(data), "--output_dir", str(out), "--trainset_3d", "Human36M",
        "--trainset_2d", "none", "--testset", "PW3D", "--num_thread", "0",
    ]  # fmt: skip


def _train_args(models: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return _body_args(models, data, out) + [
        "--no_imagenet", "--train_batch_size", "2", "--max_itr_per_epoch", "2", "--seed", "0",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def body_run(tmp_path_factory, standin_model_dir, fixture_data_dir) -> Path:
    """Output folder of one 1-epoch, 2-iteration body training run (snapshot_0)."""
    out = tmp_path_factory.mktemp("body_run")
    train_script.main(_train_args(standin_model_dir, fixture_data_dir, out, "--end_epoch", "1"))
    return out


def test_train_writes_reference_snapshot_and_log(body_run: Path) -> None:
    path = body_run / "model_dump" / "snapshot_0.pth.tar"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert {"epoch", "network", "optimizer"} <= set(ckpt) and ckpt["epoch"] == 0
    keys = list(ckpt["network"])
    assert len(keys) == 335
    assert keys[-17:] == BODY_HEAD_KEYS
    assert all(k.startswith("module.backbone.") for k in keys[:318])
    assert not any("smpl_layer" in k for k in keys)
    assert len(ckpt["optimizer"]["state"]) == 173
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    log = (body_run / "log" / "train_logs.txt").read_text()
    assert "Epoch 0/1 itr 0/2: lr: 0.0001" in log and "loss_smpl_joint_cam:" in log
    assert "Write snapshot into" in log
    assert not list((body_run / "model_dump").glob("*.tmp*"))


def test_test_command_prints_metrics(body_run, standin_model_dir, fixture_data_dir, capsys) -> None:
    result = test_script.main(
        _body_args(standin_model_dir, fixture_data_dir, body_run) + ["--test_epoch", "0"]
    )
    printed = capsys.readouterr().out
    for name in ("MPJPE", "PA MPJPE", "MPVPE", "PA MPVPE"):
        assert f"{name}: " in printed
    assert len(result["mpjpe"]) > 0
    assert all(value == value for value in result["mpjpe"])  # no NaN
    assert "Load checkpoint from" in (body_run / "log" / "test_logs.txt").read_text()


def test_missing_test_snapshot_is_named(body_run, standin_model_dir, fixture_data_dir) -> None:
    with pytest.raises(FileNotFoundError, match="snapshot_5.pth.tar"):
        test_script.main(
            _body_args(standin_model_dir, fixture_data_dir, body_run) + ["--test_epoch", "5"]
        )


def test_continue_restores_optimizer_and_epoch(body_run, standin_model_dir, fixture_data_dir):
    cfg = make_config(
        "body", human_model_path=str(standin_model_dir), data_dir=str(fixture_data_dir),
        output_dir=str(body_run), trainset_2d=(), testset="PW3D", num_thread=0,
        no_imagenet=True, continue_train=True, train_batch_size=2, end_epoch=2,
    )  # fmt: skip
    trainer = Trainer(cfg)
    trainer._make_model()
    assert trainer.start_epoch == 1
    saved = torch.load(
        body_run / "model_dump" / "snapshot_0.pth.tar", map_location="cpu", weights_only=True
    )["optimizer"]
    state = trainer.optimizer.state_dict()["state"]
    assert len(state) == 173
    for index in (0, 100, 172):
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(state[index][name], saved["state"][index][name])
    network = trainer.model.state_dict()
    weights = torch.load(
        body_run / "model_dump" / "snapshot_0.pth.tar", map_location="cpu", weights_only=True
    )["network"]
    assert torch.equal(network["rotation_net.cam_out.0.weight"],
                       weights["module.rotation_net.cam_out.0.weight"])  # fmt: skip


def test_nan_loss_stops_and_keeps_snapshot(
    tmp_path, body_run, standin_model_dir, fixture_data_dir, monkeypatch
) -> None:
    out = tmp_path / "nan_run"
    (out / "model_dump").mkdir(parents=True)
    previous = (body_run / "model_dump" / "snapshot_0.pth.tar").read_bytes()
    (out / "model_dump" / "snapshot_0.pth.tar").write_bytes(previous)

    from main.model import Model

    original_forward = Model.forward

    def nan_forward(self, inputs, targets, meta_info, mode):
        out = original_forward(self, inputs, targets, meta_info, mode)
        if mode == "train":
            out["smpl_pose"] = out["smpl_pose"] * float("nan")
        return out

    monkeypatch.setattr(Model, "forward", nan_forward)
    with pytest.raises(TrainingDiverged, match=r"epoch 1 itr 0: smpl_pose;"):
        train_script.main(
            _train_args(standin_model_dir, fixture_data_dir, out, "--continue", "--end_epoch", "2")
        )
    assert (out / "model_dump" / "snapshot_0.pth.tar").read_bytes() == previous
    assert not (out / "model_dump" / "snapshot_1.pth.tar").exists()


def _torchrun(script: str, args: list[str], log: Path) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "main" / script), *args]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log.write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_ddp_two_cpu_processes(tmp_path, body_run, standin_model_dir, fixture_data_dir, capsys):
    out = tmp_path / "ddp"
    args = [a for a in _train_args(standin_model_dir, fixture_data_dir, out, "--end_epoch", "1")]
    gpu = args.index("--gpu")
    del args[gpu : gpu + 2]  # torchrun: the local rank picks the device
    args[args.index("--max_itr_per_epoch") + 1] = "1"
    args[args.index("--train_batch_size") + 1] = "1"  # per process: the same effective batch
    _torchrun("train.py", args, tmp_path / "ddp_train.txt")
    ddp = torch.load(out / "model_dump" / "snapshot_0.pth.tar", map_location="cpu",
                     weights_only=True)  # fmt: skip
    single = torch.load(body_run / "model_dump" / "snapshot_0.pth.tar", map_location="cpu",
                        weights_only=True)  # fmt: skip
    assert list(ddp["network"]) == list(single["network"])
    assert len(ddp["optimizer"]["state"]) == len(single["optimizer"]["state"])

    # Test the single-process snapshot both ways: the printed metrics must agree.
    test_args = _body_args(standin_model_dir, fixture_data_dir, body_run)
    test_args[test_args.index("--gpu") : test_args.index("--gpu") + 2] = []
    ddp_printed = _torchrun("test.py", test_args + ["--test_epoch", "0"], tmp_path / "ddp_test.txt")
    test_script.main(
        _body_args(standin_model_dir, fixture_data_dir, body_run) + ["--test_epoch", "0"]
    )
    single_printed = capsys.readouterr().out
    metric_lines = [
        line for line in single_printed.splitlines() if "MPJPE" in line or "MPVPE" in line
    ]
    assert len(metric_lines) == 4
    for line in metric_lines:
        assert line in ddp_printed
