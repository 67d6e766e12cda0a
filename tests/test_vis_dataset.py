"""Contact sheets (tool/vis_dataset.py, common/utils/contact_sheet.py) on the fixture data sets.

The independent source is the picture itself: every fixture image shows the silhouettes of the
labelled meshes on a background that is a linear colour gradient plus noise. The test segments
each crop against that background (a robust plane fit per crop) and checks that the joints and
mesh vertices the sheet draws fall on the figure, flipped samples included.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torchvision.transforms as T

from common.utils.contact_sheet import (
    INVALID_RGB,
    LEFT_RGB,
    SheetCell,
    draw_cell,
    heatmap_to_crop,
    tile,
)
from common.utils.joint_targets import to_heatmap_space
from data.registry import get_dataset_class
from main.config import make_config
from tool import vis_dataset

# (parts, dataset, split, seeds): sets with random flips, forced flips (left hands), a crop
# transform (AGORA) and a test split with a fit mesh (PW3D).
CASES = (
    ("body", "Human36M", "train", (0, 1)),
    ("body", "AGORA", "train", (0, 1)),
    ("body", "PW3D", "test", (0,)),
    ("hand", "InterHand26M", "train", (0,)),
    ("hand", "MSCOCO", "train", (0,)),
    ("face", "FFHQ", "train", (0, 1)),
)
INSIDE = 0.9  # required fraction of drawn points on the (dilated) figure
DILATE = 7  # px, square kernel


def figure_mask(crop: np.ndarray, seed: int = 0, threshold: float = 18.0) -> np.ndarray:
    """(H, W) bool: pixels that are not the fixture background.

    The background of a fixture image is linear in x, y per channel plus noise; a crop is an
    affine warp of it with per-channel colour factors, so it is linear in crop px too. A RANSAC
    plane fit (3 random pixels per trial, scored on a pixel subset) then two least-squares refits
    on the inliers give the background; the warp's zero fill outside the image is not figure.
    """
    rng = np.random.default_rng(seed)
    h, w = crop.shape[:2]
    img = crop.astype(np.float64).reshape(-1, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    design = np.stack([xx.ravel() / w, yy.ravel() / h, np.ones(h * w)], 1)  # (N, 3)
    inside = img.max(1) > 0
    candidates = np.flatnonzero(inside)
    probe = rng.choice(candidates, size=min(4000, len(candidates)), replace=False)
    best, best_count = None, -1
    for _ in range(300):
        pick = rng.choice(candidates, size=3, replace=False)
        try:
            coef = np.linalg.solve(design[pick], img[pick])
        except np.linalg.LinAlgError:
            continue
        count = int((np.linalg.norm(design[probe] @ coef - img[probe], axis=1) < threshold).sum())
        if count > best_count:
            best, best_count = coef, count
    for _ in range(2):
        background = inside & (np.linalg.norm(design @ best - img, axis=1) < threshold)
        best = np.linalg.lstsq(design[background], img[background], rcond=None)[0]
    background = np.linalg.norm(design @ best - img, axis=1) < threshold
    return (inside & ~background).reshape(h, w)


def fraction_on_figure(mask: np.ndarray, points: np.ndarray) -> tuple[float, int]:
    """(fraction of the in-crop points on the dilated mask, number of in-crop points)."""
    dilated = cv2.dilate(mask.astype(np.uint8), np.ones((DILATE, DILATE), np.uint8)).astype(bool)
    xy = np.round(points).astype(np.int64)
    h, w = mask.shape
    keep = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    if not keep.any():
        return 0.0, 0
    return float(dilated[xy[keep, 1], xy[keep, 0]].mean()), int(keep.sum())


def _args(models: Path, data: Path, parts: str, name: str, split: str, *extra: str) -> list[str]:
    return [
        "--parts", parts, "--dataset", name, "--split", split, "--human_model_path", str(models),
        "--data_dir", str(data), *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def drawn(standin_model_dir, fixture_data_dir, tmp_path_factory) -> list[tuple]:
    """(case name, VisSample, figure mask of its crop) of every sample of every case."""
    out = tmp_path_factory.mktemp("sheets")
    samples = []
    for parts, name, split, seeds in CASES:
        for seed in seeds:
            argv = _args(standin_model_dir, fixture_data_dir, parts, name, split, "--seed",
                         str(seed), "--out", str(out / f"{parts}_{name}_{seed}.png"))  # fmt: skip
            _, got = vis_dataset.make_sheet(vis_dataset.parse_args(argv))
            case = f"{parts} {name} {split} seed {seed}"
            samples += [(case, s, figure_mask(s.crop)) for s in got]
    return samples


def test_joints_and_mesh_fall_on_the_figure(drawn) -> None:
    flipped_mesh = unflipped_mesh = 0
    for case, s, mask in drawn:
        assert 0.02 < mask.mean() < 0.8, f"{case} #{s.index}: segmentation failed"
        if s.joints is not None and s.joint_key == "joint_img":
            frac, count = fraction_on_figure(mask, s.joints[s.joint_ok])
            assert count >= 10, f"{case} #{s.index}: only {count} valid joints in the crop"
            assert frac >= INSIDE, f"{case} #{s.index} (flip {s.flipped}): joints {frac:.2f}"
        if s.mesh is not None:
            frac, count = fraction_on_figure(mask, s.mesh)
            assert count >= 0.5 * len(s.mesh), f"{case} #{s.index}: mesh mostly outside the crop"
            assert frac >= INSIDE, f"{case} #{s.index} (flip {s.flipped}): mesh {frac:.2f}"
            flipped_mesh += s.flipped
            unflipped_mesh += not s.flipped
    assert flipped_mesh >= 3 and unflipped_mesh >= 3  # both kinds were checked


def test_the_check_catches_a_missing_flip(drawn) -> None:
    """Mirroring the drawn mesh of a flipped sample about the crop's centre line (what a missed
    flip would draw for a centred figure) leaves it off the figure in most cells."""
    scores = []
    for _, s, mask in drawn:
        if s.flipped and s.mesh is not None:
            mirrored = s.mesh.copy()
            mirrored[:, 0] = s.crop.shape[1] - 1 - mirrored[:, 0]
            scores.append(fraction_on_figure(mask, mirrored)[0])
    assert len(scores) >= 3 and sum(score < INSIDE for score in scores) >= len(scores) / 2


def test_sample_is_the_loader_output(drawn, standin_model_dir, fixture_data_dir) -> None:
    """Recording changes nothing: the sheet's triple equals an unrecorded draw with that seed."""
    for case, s, _ in drawn:
        if not case.startswith("body Human36M"):
            continue
        seed = int(case.rsplit(" ", 1)[1])
        cfg = make_config("body", data_dir=str(fixture_data_dir),
                          human_model_path=str(standin_model_dir))  # fmt: skip
        dataset = get_dataset_class("Human36M")(cfg, T.ToTensor(), "train")
        vis_dataset.seed_all(vis_dataset.sample_seed(seed, s.index))
        plain = dataset[s.index]
        for got, want in zip(s.item, plain):
            assert list(got) == list(want)  # no key added
            for key in want:
                np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))
        joints = heatmap_to_crop(plain[1]["joint_img"], cfg.input_img_shape, cfg.output_hm_shape)
        np.testing.assert_array_equal(s.joints, joints)


def test_sheet_file_is_reproducible(standin_model_dir, fixture_data_dir, tmp_path) -> None:
    paths = [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"]
    for path, seed in zip(paths, ("3", "3", "4")):
        vis_dataset.main(_args(standin_model_dir, fixture_data_dir, "body", "Human36M", "train",
                               "--seed", seed, "--out", str(path)))  # fmt: skip
    a, b, c = (cv2.imread(str(p)) for p in paths)
    assert np.array_equal(a, b)
    assert a.shape == c.shape and not np.array_equal(a, c)  # other augmentations


def test_bad_index_names_it(standin_model_dir, fixture_data_dir, tmp_path) -> None:
    argv = _args(standin_model_dir, fixture_data_dir, "body", "Human36M", "train", "--index",
                 "0", "99", "--out", str(tmp_path / "x.png"))  # fmt: skip
    with pytest.raises(SystemExit, match="--index 99: Human36M has 3 samples"):
        vis_dataset.main(argv)


def test_heatmap_to_crop_inverts_the_heatmap_mapping() -> None:
    cfg = make_config("hand")
    rng = np.random.default_rng(0)
    crop_px = np.concatenate([rng.uniform(0, 256, (9, 2)), rng.uniform(-0.1, 0.1, (9, 1))], 1)
    cells = to_heatmap_space(crop_px, cfg)
    back = heatmap_to_crop(cells, cfg.input_img_shape, cfg.output_hm_shape)
    np.testing.assert_allclose(back, crop_px[:, :2], atol=1e-9)


def test_cell_marks_valid_and_invalid_joints_and_tiles() -> None:
    crop = np.full((40, 30, 3), 255, dtype=np.uint8)
    joints = np.array([[8.0, 10.0], [20.0, 30.0]])
    cell = SheetCell(crop, joints, np.array([True, False]), ("L_Hip", "R_Hip"), None, ("a",))
    img = draw_cell(cell, (("L_Hip", "R_Hip"),))
    body = img[-40:]
    assert tuple(body[10, 8]) == LEFT_RGB  # valid: a dot in the side colour
    assert tuple(body[30, 20]) == INVALID_RGB  # invalid: the centre of a grey cross
    assert tuple(body[20, 14]) == (255, 255, 255)  # no bone to an invalid joint
    sheet = tile([img] * 5, columns=3)
    assert sheet.shape == (2 * (img.shape[0] + 4) + 4, 3 * (img.shape[1] + 4) + 4, 3)
