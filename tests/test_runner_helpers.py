"""Pure helpers of the runners: LR schedule, snapshot discovery, sharding, result merging, timer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from main.runtime import (
    ContiguousShardSampler,
    find_latest_snapshot,
    lr_for_epoch,
    merge_eval_results,
    snapshot_path,
    split_outputs,
)
from common.timer import Timer
from main.config import make_config

# The original's set_lr schedule, typed by hand: epoch -> lr.
BODY_LR = {0: 1e-4, 1: 1e-4, 2: 1e-4, 3: 1e-4, 4: 1e-5, 5: 1e-5, 6: 1e-6}
HAND_FACE_LR = {**{e: 1e-4 for e in range(10)}, 10: 1e-5, 11: 1e-5, 12: 1e-6}


@pytest.mark.parametrize(
    "part, table", [("body", BODY_LR), ("hand", HAND_FACE_LR), ("face", HAND_FACE_LR)]
)
def test_lr_schedule_per_part(part, table) -> None:
    cfg = make_config(part)
    assert set(table) == set(range(cfg.end_epoch))
    for epoch, lr in table.items():
        assert lr_for_epoch(cfg, epoch) == pytest.approx(lr, rel=1e-12), epoch


def test_snapshot_discovery_ignores_other_files(tmp_path) -> None:
    assert find_latest_snapshot(str(tmp_path)) is None
    for name in [
        "snapshot_2.pth.tar",
        "snapshot_10.pth.tar",
        "snapshot_9.pth.tar",
        "snapshot_best.pth.tar",
        "model.pth.tar",
        "snapshot_11.pth.tar.tmp",
    ]:
        (tmp_path / name).write_bytes(b"")
    path, epoch = find_latest_snapshot(str(tmp_path))
    assert epoch == 10 and path == snapshot_path(str(tmp_path), 10)
    assert snapshot_path("/x", 6) == "/x/snapshot_6.pth.tar"


@pytest.mark.parametrize("length, world", [(10, 3), (7, 2), (2, 4), (64, 8)])
def test_contiguous_shards_cover_dataset_in_order(length, world) -> None:
    order = []
    for rank in range(world):
        sampler = ContiguousShardSampler(length, rank, world)
        indices = list(sampler)
        assert len(sampler) == len(indices)
        order += indices
    assert order == list(range(length))


def test_merge_and_split() -> None:
    total: dict = {}
    merge_eval_results(total, {"mpjpe": [1.0, 2.0]})
    merge_eval_results(total, {"mpjpe": [3.0], "pa_mpjpe": [0.5]})
    assert total == {"mpjpe": [1.0, 2.0, 3.0], "pa_mpjpe": [0.5]}
    outs = split_outputs({"a": torch.arange(6.0).reshape(3, 2), "b": torch.zeros(3, 4, 4)})
    assert len(outs) == 3 and outs[2]["a"].tolist() == [4.0, 5.0]
    assert isinstance(outs[0]["b"], np.ndarray) and outs[0]["b"].shape == (4, 4)
    # Dtypes are kept (float64 meta data stays float64); bf16 becomes float32 for numpy.
    outs = split_outputs(
        {"t": torch.ones(2, 2, dtype=torch.float64), "h": torch.ones(2, 3).bfloat16()}
    )
    assert outs[0]["t"].dtype == np.float64 and outs[1]["h"].dtype == np.float32


def test_timer_warmup_rule(monkeypatch) -> None:
    clock = iter(float(t) for t in range(1000))
    monkeypatch.setattr("common.timer.time.time", lambda: next(clock))
    timer = Timer()
    results = []
    for _ in range(12):
        timer.tic()
        results.append(timer.toc())
    # Each interval is 1 s; the first 10 calls return the interval and leave the average at 0.
    assert results[:10] == [1.0] * 10
    assert timer.calls == 2 and timer.average_time == 1.0


def test_bf16_is_refused_on_a_cuda_device_without_it(monkeypatch) -> None:
    import torch

    from main.config import ConfigError
    from main.runtime import check_amp

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Tesla V100")
    with pytest.raises(ConfigError, match="Tesla V100 has no bfloat16 support"):
        check_amp("bf16", torch.device("cuda:0"))
    check_amp("none", torch.device("cuda:0"))  # float32 goes on
    check_amp("bf16", torch.device("cpu"))  # CPU autocast supports bfloat16
