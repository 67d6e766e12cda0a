"""tool/bench_learn.py: synthetic renders in real data set formats, and a tiny overfit run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torchvision.transforms as T

from common.utils.human_models import get_smpl
from tool.learn_renders import POSE_LIMITS, BodyRenderer, random_pose
from tool.learn_sets import mean_parameters
from tool.make_fixtures import project


@pytest.fixture(scope="module")
def renders(standin_model_dir: Path):
    renderer = BodyRenderer(get_smpl(str(standin_model_dir)))
    try:
        rng = np.random.default_rng(5)
        return [renderer.sample(rng) for _ in range(3)]
    finally:
        renderer.close()


def test_pose_within_limits():
    rng = np.random.default_rng(0)
    poses = np.stack([random_pose(rng) for _ in range(200)]).reshape(200, 23, 3)
    for joint, limits in POSE_LIMITS.items():
        for axis, (low, high) in enumerate(limits):
            values = poses[:, joint, axis]
            assert values.min() >= low and values.max() <= high
            if high > low:  # the draw covers the range
                assert values.max() - values.min() > 0.8 * (high - low)


def test_render_shows_the_labelled_mesh(renders):
    for r in renders:
        # The rasterised body covers the box of the projected vertices (independent numpy
        # projection), to within a pixel of antialiasing-free rasterisation.
        x, y = project(r.mesh, r.focal, r.princpt).T
        rows, cols = np.nonzero(r.mask)
        assert abs(cols.min() - x.min()) < 1.5 and abs(cols.max() + 1 - x.max()) < 1.5
        assert abs(rows.min() - y.min()) < 1.5 and abs(rows.max() + 1 - y.max()) < 1.5
        # Several part colours are visible on the body, and the body is not the background.
        body = r.image[r.mask].astype(int)
        assert len(np.unique(body // 32, axis=0)) >= 6
        assert 0.05 < r.mask.mean() < 0.6


def test_mean_parameters(renders):
    pose, shape = mean_parameters(renders)
    assert pose.shape == (72,) and shape.shape == (10,)
    np.testing.assert_allclose(pose[3:], np.mean([r.pose[3:] for r in renders], 0))
    np.testing.assert_allclose(shape, np.mean([r.betas for r in renders], 0))


def test_tiny_overfit_run(tmp_path: Path, standin_model_dir: Path):
    """Training on 8 renders for 60 iterations lowers their PA-MPJPE by at least 30%.

    From the random backbone at the quick preset's learning rate (1e-3) and batch (2); the run is
    deterministic for one machine (the seed, the renders and the order are fixed)."""
    from data.Human36M.Human36M import Human36M
    from data.PW3D.PW3D import PW3D
    from main.config import make_config
    from tool.bench_learn import PRESETS, run_bench

    s = replace(PRESETS["quick"], train_renders=8, heldout_renders=2, train_eval=8, listed=160,
                iterations=60, epochs=1, num_thread=0,
                human_model_path=str(standin_model_dir))  # fmt: skip
    report = run_bench(str(tmp_path), s, demo=False)

    # The renders went through the real loaders: 8 renders listed 20 times for training, the
    # training renders and the held-out renders as 3DPW test sets.
    cfg = make_config(
        "body", human_model_path=str(standin_model_dir), data_dir=str(tmp_path / "data")
    )
    assert len(Human36M(cfg, T.ToTensor(), "train")) == 160
    assert len(PW3D(cfg, T.ToTensor(), "test")) == 2
    eval_cfg = replace(cfg, data_dir=str(tmp_path / "data_train_eval"))
    train_eval = PW3D(eval_cfg, T.ToTensor(), "test")
    assert len(train_eval) == 8
    # A perfect prediction scores zero through the same evaluate.
    target = train_eval[0][1]["smpl_mesh_cam"]
    perfect = train_eval.evaluate([{"smpl_mesh_cam": target, "smpl_mesh_cam_target": target}], 0)
    assert max(v[0] for v in perfect.values()) < 1e-3

    res = report["results"]
    assert report["training"]["iterations"] == 60
    for set_key in ("train", "heldout"):
        for pred in ("untrained", "mean pose", "trained"):
            assert all(np.isfinite(v) and v > 0 for v in res[set_key][pred].values())
    untrained, trained = res["train"]["untrained"]["pa_mpjpe"], res["train"]["trained"]["pa_mpjpe"]
    assert trained <= 0.7 * untrained, (untrained, trained)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["results"] == res
    assert "| training renders | trained |" in (tmp_path / "results.md").read_text()


def test_listed_samples_must_hold_the_iterations():
    from tool.bench_learn import PRESETS, check_listed

    s = replace(PRESETS["quick"], train_renders=8, listed=40, batch_size=4, iterations=20, epochs=1)
    with pytest.raises(ValueError, match="--listed"):
        check_listed(s)  # 40 samples = 10 batches < 20 iterations in one epoch
    check_listed(replace(s, epochs=2))  # 10 per epoch fit
