"""The face metric (not in the reference): landmark error of the projected FLAME joints on the
MSCOCO-WholeBody face test samples, in original-image px and normalised by sqrt(w h) of the
processed face box; and the model's ``flame_joint_proj`` output it reads.

Expected values are computed here from the fixture JSON with plain NumPy.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision.transforms as T

from common.utils.human_models import get_flame
from data.MSCOCO.MSCOCO import MSCOCO
from main.config import make_config
from main.model import get_model
from tests.test_mscoco import coco_face_in_flame_order, expected_affine, expected_bbox

IN_H, IN_W, HM_H, HM_W = 256, 192, 8, 6


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir):
    return make_config(
        "face", data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def testset(cfg):
    return MSCOCO(cfg, T.ToTensor(), "test")


@pytest.fixture(scope="module")
def faces(fixture_data_dir):
    """(landmarks (73, 2) px, validity (73,), processed box) of each face test sample."""
    db = json.loads((fixture_data_dir / "MSCOCO" / "annotations" / "coco_wholebody_val_v1.0.json")
                    .read_text())  # fmt: skip
    images = {img["id"]: img for img in db["images"]}
    out = []
    for ann in db["annotations"]:
        img = images[ann["image_id"]]
        box = expected_bbox(ann["face_box"], img["width"], img["height"], IN_W / IN_H)
        if box is not None:
            xy, valid = coco_face_in_flame_order(ann["face_kpts"])
            out.append((xy, valid, box, img["width"]))
    return out


def projection_of(xy, box, width):
    """Heatmap-cell projections (73, 2) whose image position is ``xy`` (px)."""
    A = expected_affine(box, width, (IN_H, IN_W))
    patch = xy @ A[:, :2].T + A[:, 2]
    return np.stack([patch[:, 0] / IN_W * HM_W, patch[:, 1] / IN_H * HM_H], 1)


def evaluate_all(testset, projections):
    return testset.evaluate([{"flame_joint_proj": p.astype(np.float32)} for p in projections], 0)


def test_perfect_landmarks_give_zero(testset, faces) -> None:
    assert len(testset) == len(faces) >= 2
    result = evaluate_all(testset, [projection_of(xy, box, w) for xy, _, box, w in faces])
    assert set(result) == {"face_err_px", "face_nme"}
    assert max(result["face_err_px"]) < 2e-3 and max(result["face_nme"]) < 2e-5


def test_known_shift(testset, faces) -> None:
    dx, dy = 0.1, -0.25  # heatmap cells
    projections = [projection_of(xy, box, w) + [dx, dy] for xy, _, box, w in faces]
    result = evaluate_all(testset, projections)
    for (xy, valid, box, _), err, nme in zip(faces, result["face_err_px"], result["face_nme"]):
        # One heatmap cell is box_w / 6 px in x and box_h / 8 px in y of the original image.
        expected = np.hypot(dx * box[2] / HM_W, dy * box[3] / HM_H)
        assert err == pytest.approx(expected, rel=1e-4)
        assert nme == pytest.approx(expected / np.sqrt(box[2] * box[3]), rel=1e-4)


def test_per_landmark_errors_and_invalid_ones_ignored(testset, faces) -> None:
    rng = np.random.default_rng(3)
    projections, expected = [], []
    for xy, valid, box, width in faces:
        moved = xy + rng.normal(0, 3, size=xy.shape)
        moved[valid == 0] += 500  # invalid landmarks (and joints 0-4) do not count
        projections.append(projection_of(moved, box, width))
        expected.append(np.linalg.norm(moved - xy, axis=1)[valid > 0].mean())
    assert any((valid[5:] == 0).any() for _, valid, _, _ in faces)
    result = evaluate_all(testset, projections)
    np.testing.assert_allclose(result["face_err_px"], expected, rtol=1e-4)


def test_no_valid_landmark_and_printing(testset, capsys) -> None:
    annot = dict(testset.datalist[0], joint_valid=np.zeros((73, 1), np.float32))
    assert testset.face_landmark_errors(np.zeros((73, 2)), annot) == (None, None)
    testset.print_eval_result({"face_err_px": [2.0, None, 4.0], "face_nme": [0.01, None, 0.03]})
    assert capsys.readouterr().out == (
        "Face landmark error (2 faces): 3.00 px, normalised by sqrt(box w*h): 0.0200\n"
    )


def test_model_outputs_projected_flame_joints(cfg, standin_model_dir) -> None:
    torch.manual_seed(0)
    model = get_model(cfg, "test").eval()
    img = torch.rand(2, 3, IN_H, IN_W, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model({"img": img}, {}, {}, "test")
        flame = get_flame(str(standin_model_dir)).layer()(
            global_orient=out["flame_root_pose"], jaw_pose=out["flame_jaw_pose"],
            betas=out["flame_shape"], expression=out["flame_expr"],
            neck_pose=torch.zeros(2, 3), leye_pose=torch.zeros(2, 3), reye_pose=torch.zeros(2, 3),
        )  # fmt: skip
    joints = (flame.joints + out["cam_trans"][:, None]).numpy().astype(np.float64)  # (2, 73, 3)
    # Pinhole of the crop camera: focal 5000 px, principal point at the crop centre.
    x = joints[..., 0] / joints[..., 2] * 5000 + IN_W / 2
    y = joints[..., 1] / joints[..., 2] * 5000 + IN_H / 2
    expected = np.stack([x / IN_W * HM_W, y / IN_H * HM_H], -1)
    assert out["flame_joint_proj"].shape == (2, 73, 2)
    np.testing.assert_allclose(out["flame_joint_proj"].numpy(), expected, rtol=1e-4, atol=1e-4)
