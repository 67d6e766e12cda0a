"""Exact resume with --seed, mid-epoch snapshots, finished runs, corrupt snapshots, no ImageNet
download when the snapshot has the backbone, and the run header of the log.

Tiny body runs on the fixtures: batch 1, 2 iterations per epoch, 2 epochs.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from main.config import make_config
from main.resume import (
    EpochOrderSampler,
    SeededSamples,
    capture_rng_states,
    restore_rng_states,
)
from main.runner import Trainer


def _train(models: Path, data: Path, out: Path, workers: int, **overrides) -> None:
    """A ResNet-18 body run (fast on CPU): batch 1, 2 iterations per epoch, seed 3."""
    settings = dict(
        human_model_path=str(models), data_dir=str(data), output_dir=str(out),
        trainset_3d=("Human36M",), trainset_2d=(), testset="PW3D", num_thread=workers,
        no_imagenet=True, train_batch_size=1, max_itr_per_epoch=2, seed=3, resnet_type=18,
    )  # fmt: skip
    cfg = make_config("body", **{**settings, **overrides})
    Trainer(cfg).train()


def _load(out: Path, name: str) -> dict:
    return torch.load(out / "model_dump" / name, map_location="cpu", weights_only=True)


def _assert_same_training_state(a: dict, b: dict) -> None:
    assert a["epoch"] == b["epoch"]
    assert list(a["network"]) == list(b["network"])
    differing = [k for k in a["network"] if not torch.equal(a["network"][k], b["network"][k])]
    assert differing == []
    state_a, state_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sorted(state_a) == sorted(state_b)
    for index in state_a:
        for name, value in state_a[index].items():
            assert torch.equal(value, state_b[index][name]), (index, name)


class _Stop(Exception):
    """Stands for a preempted node."""


@pytest.fixture(scope="module")
def one_go(tmp_path_factory, standin_model_dir, fixture_data_dir) -> Path:
    """Two epochs in one run, no loader workers."""
    out = tmp_path_factory.mktemp("one_go")
    _train(standin_model_dir, fixture_data_dir, out, 0, end_epoch=2)
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_at_epoch_boundary_and_mid_epoch_is_bit_exact(
    one_go, tmp_path, standin_model_dir, fixture_data_dir, monkeypatch, workers
) -> None:
    out = tmp_path / "resumed"
    def run(**overrides) -> None:
        _train(standin_model_dir, fixture_data_dir, out, workers, **overrides)

    # Stopped at the epoch boundary. With 2 workers: a run of its own, equal to the 0-worker
    # one-go run; with 0 workers the one-go run's first snapshot stands for it (same run).
    if workers:
        run(end_epoch=1)
        _assert_same_training_state(
            _load(out, "snapshot_0.pth.tar"), _load(one_go, "snapshot_0.pth.tar")
        )
    else:
        _copy_dump(one_go, out)
        (out / "model_dump" / "snapshot_1.pth.tar").unlink()
    assert "rng_states" in _load(out, "snapshot_0.pth.tar")

    original_step = Trainer.train_step

    def preempted_step(self, batch, where):
        if where == "epoch 1 itr 1":
            raise _Stop(where)
        return original_step(self, batch, where)

    monkeypatch.setattr(Trainer, "train_step", preempted_step)
    with pytest.raises(_Stop):  # resumed at the boundary, stopped inside epoch 1
        run(end_epoch=2, continue_train=True, save_every=1)
    mid = _load(out, "snapshot_1_itr1.pth.tar")
    assert mid["epoch"] == 1 and mid["iteration"] == 1
    assert not (out / "model_dump" / "snapshot_1.pth.tar").exists()
    monkeypatch.setattr(Trainer, "train_step", original_step)

    run(end_epoch=2, continue_train=True, save_every=1)
    log = (out / "log" / "train_logs.txt").read_text()
    assert "Resume epoch 1 at iteration 1" in log
    assert "Epoch 1/2 itr 1/3" in log.split("Resume epoch 1 at iteration 1")[-1]
    _assert_same_training_state(
        _load(out, "snapshot_1.pth.tar"), _load(one_go, "snapshot_1.pth.tar")
    )
    assert not (out / "model_dump" / "snapshot_1_itr1.pth.tar").exists()  # superseded


def test_epoch_order_depends_on_seed_and_epoch_only() -> None:
    sampler = EpochOrderSampler(10, seed=5)
    sampler.set_position(3)
    full = list(sampler)
    assert sorted(i for _, i in full) == list(range(10)) and {e for e, _ in full} == {3}
    sampler.set_position(3, start=4)
    assert list(sampler) == full[4:] and len(sampler) == 6
    other = EpochOrderSampler(10, seed=5)
    other.set_position(4)
    assert [i for _, i in other] != [i for _, i in full]
    ranks = []
    for rank in range(3):
        shard = EpochOrderSampler(10, seed=5, rank=rank, world_size=3)
        shard.set_position(3)
        ranks.append([i for _, i in shard])
    assert [len(r) for r in ranks] == [3, 3, 3]
    assert sorted(sum(ranks, [])) == sorted(i for _, i in full[:9])


def test_seeded_samples_and_rng_states_round_trip() -> None:
    class Draws:
        def __len__(self) -> int:
            return 4

        def __getitem__(self, index: int) -> tuple[float, float]:
            return float(np.random.randn()), random.random()

    samples = SeededSamples(Draws(), seed=1)
    assert samples[(2, 1)] == samples[(2, 1)]
    assert samples[(2, 1)] != samples[(3, 1)] and samples[(2, 1)] != samples[(2, 0)]
    np.random.randn()  # a cached Gaussian in the state
    states = capture_rng_states()
    expected = (np.random.randn(4).tolist(), random.random(), torch.rand(3))
    restore_rng_states(states)
    again = (np.random.randn(4).tolist(), random.random(), torch.rand(3))
    assert expected[:2] == again[:2] and torch.equal(expected[2], again[2])


def _copy_dump(src: Path, dst: Path) -> Path:
    (dst / "model_dump").mkdir(parents=True)
    for path in (src / "model_dump").glob("snapshot_*.pth.tar"):
        (dst / "model_dump" / path.name).write_bytes(path.read_bytes())
    return dst / "model_dump"


def test_run_log_names_configuration_versions_commit_and_bad_samples(one_go) -> None:
    log = (one_go / "log" / "train_logs.txt").read_text()
    assert "git commit: " in log
    assert f"packages: torch {torch.__version__}, torchvision " in log and "opencv " in log
    configuration = next(line for line in log.splitlines() if "configuration: " in line)
    for setting in ("seed=3", "resnet_type=18", "end_epoch=2", "max_bad_share=0.01"):
        assert setting in configuration
    assert "Epoch 0: 0 training sample(s) had a bad image" in log
    assert "Epoch 1: 0 training sample(s) had a bad image" in log


def test_continue_on_finished_run_does_nothing(one_go, standin_model_dir, fixture_data_dir):
    before = _load(one_go, "snapshot_1.pth.tar")
    _train(standin_model_dir, fixture_data_dir, one_go, 0, end_epoch=2, continue_train=True)
    log = (one_go / "log" / "train_logs.txt").read_text()
    assert "Nothing to do: the snapshot already finished epoch 1 and --end_epoch is 2" in log
    assert sorted(p.name for p in (one_go / "model_dump").iterdir()) == [
        "snapshot_0.pth.tar", "snapshot_1.pth.tar",
    ]  # fmt: skip
    _assert_same_training_state(_load(one_go, "snapshot_1.pth.tar"), before)


def test_corrupt_newest_and_stale_temporary_then_exact_resume(
    one_go, tmp_path, standin_model_dir, fixture_data_dir, monkeypatch
) -> None:
    """The newest snapshot is truncated, a killed writer left a temporary file, ImageNet cannot
    be fetched: --continue renames the corrupt one, removes the temporary, fetches nothing
    (the snapshot has the backbone) and trains epoch 1 again, bit for bit."""
    dump = _copy_dump(one_go, tmp_path)
    newest = dump / "snapshot_1.pth.tar"
    newest.write_bytes(newest.read_bytes()[:5000])
    stale = dump / "snapshot_1.pth.tar.tmp.nohost-here.999999"
    stale.write_bytes(b"partial")
    import socket

    dead = dump / f"snapshot_1.pth.tar.tmp.{socket.gethostname()}.999999999"
    dead.write_bytes(b"partial")

    def no_download(*args, **kwargs):
        raise RuntimeError("download attempted")

    monkeypatch.setattr("main.model.fetch_imagenet_state_dict", no_download)
    _train(standin_model_dir, fixture_data_dir, tmp_path, 0, end_epoch=2, continue_train=True,
           no_imagenet=False)  # fmt: skip
    assert (dump / "snapshot_1.pth.tar.corrupt").exists() and not dead.exists()
    assert stale.exists()  # another host's writer: not ours to judge
    log = (tmp_path / "log" / "train_logs.txt").read_text()
    assert "holds every backbone weight; ImageNet ones not fetched" in log
    _assert_same_training_state(
        _load(tmp_path, "snapshot_1.pth.tar"), _load(one_go, "snapshot_1.pth.tar")
    )

    # --non_strict loads a partial snapshot: it still needs the ImageNet weights.
    with pytest.raises(RuntimeError, match="download attempted"):
        _train(standin_model_dir, fixture_data_dir, tmp_path, 0, end_epoch=3,
               continue_train=True, no_imagenet=False, non_strict=True)  # fmt: skip


def test_snapshot_without_random_states_resumes_with_warning(
    one_go, tmp_path, standin_model_dir, fixture_data_dir
) -> None:
    dump = _copy_dump(one_go, tmp_path)
    (dump / "snapshot_1.pth.tar").unlink()
    old = _load(tmp_path, "snapshot_0.pth.tar")
    released = {key: old[key] for key in ("epoch", "network", "optimizer")}
    torch.save(released, dump / "snapshot_0.pth.tar")
    _train(standin_model_dir, fixture_data_dir, tmp_path, 0, end_epoch=2, continue_train=True)
    log = (tmp_path / "log" / "train_logs.txt").read_text()
    assert "snapshot_0.pth.tar holds no random states (a released or older snapshot)" in log
    # Sample order and augmentation come from (seed, epoch): still the uninterrupted result.
    _assert_same_training_state(
        _load(tmp_path, "snapshot_1.pth.tar"), _load(one_go, "snapshot_1.pth.tar")
    )


def test_test_mode_model_fetches_no_imagenet_weights(standin_model_dir, monkeypatch) -> None:
    from main.model import get_model

    def no_download(*args):
        raise _Stop("download attempted")

    monkeypatch.setattr("main.model.fetch_imagenet_state_dict", no_download)
    cfg = make_config("body", human_model_path=str(standin_model_dir), resnet_type=18)
    get_model(cfg, "test")
    with pytest.raises(_Stop):  # the patched fetch is the one training calls
        get_model(cfg, "train")


def test_training_set_gets_bad_sample_limits(standin_model_dir, fixture_data_dir) -> None:
    from main.runtime import build_trainset

    cfg = make_config(
        "body", human_model_path=str(standin_model_dir), data_dir=str(fixture_data_dir),
        trainset_3d=("Human36M",), trainset_2d=(), max_bad_share=0.25, strict_data=True,
    )  # fmt: skip
    trainset = build_trainset(cfg, None)
    assert trainset.bad_samples.max_bad_share == 0.25 and trainset.bad_samples.strict
    assert all(db.bad_samples is None for db in trainset.dbs)


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"end_epoch": 0}, "--end_epoch: expected a positive integer"),
        ({"max_itr_per_epoch": 0}, "--max_itr_per_epoch: expected a positive integer"),
        ({"save_every": 0}, "--save_every: expected a positive integer"),
        ({"max_bad_share": 1.5}, r"--max_bad_share: expected a share in \[0, 1\]"),
    ],
)
def test_runs_that_do_nothing_are_config_errors(setting, message) -> None:
    from main.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_config("body", **setting)


def test_newest_snapshot_order_with_mid_epoch_files(tmp_path) -> None:
    from common.snapshot_files import newest_intact_snapshot, remove_mid_epoch_snapshots

    def write(name: str) -> None:
        torch.save({"epoch": 0, "network": {}}, tmp_path / name)

    write("snapshot_0.pth.tar")
    write("snapshot_1_itr20.pth.tar")
    write("snapshot_1_itr5.pth.tar")
    assert newest_intact_snapshot(str(tmp_path)) == (str(tmp_path / "snapshot_1_itr20.pth.tar"), 1)
    write("snapshot_1.pth.tar")  # the finished epoch is newer than its mid-epoch snapshots
    assert newest_intact_snapshot(str(tmp_path)) == (str(tmp_path / "snapshot_1.pth.tar"), 1)
    write("snapshot_0_itr3.pth.tar")
    removed = remove_mid_epoch_snapshots(str(tmp_path), 1)
    assert sorted(Path(p).name for p in removed) == [
        "snapshot_1_itr20.pth.tar", "snapshot_1_itr5.pth.tar",
    ]  # fmt: skip
    assert (tmp_path / "snapshot_0_itr3.pth.tar").exists()
