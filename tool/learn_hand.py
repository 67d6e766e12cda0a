"""Synthetic right-hand renders for ``tool/bench_learn.py --parts hand``, written as FreiHAND.

Each render shows the (stand-in) MANO right hand in a random plausible finger pose, a random
global orientation and shape, seen by a random camera under random lights over a random
background, the palm and each finger in its own colour (the phalanges of a finger in three shades
of it, the palm side of every part darker). The finger limits are written for the stand-in's rest
layout (fingers along -x, palm facing -y, thumb on the +z side, flexion about +z).

Layouts (the FreiHAND loader reads them unchanged): training renders as ``freihand_train_*.json``
with camera-frame MANO fits (each render listed ``repeats`` times), evaluation renders as
``freihand_eval_*.json`` with RootNet-style boxes and the ground truth files
``evaluation_xyz.json`` (21 joints) and ``evaluation_verts.json`` (778 vertices), camera frame, m,
so that FreiHAND's ``evaluate`` scores them locally.
"""

from __future__ import annotations

import json
import logging
import math
import os.path as osp
from typing import Any, Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from tool.learn_renders import IMG_SIZE, BodyRender, BodyRenderer, random_background, render_set
from tool.learn_sets import (
    Paths,
    RenderSettings,
    link_or_copy,
    manifest_key,
    mean_mesh,
    mean_parameters,
    render_sets,
    reused_manifest,
    write_jpeg,
    write_manifest,
)
from tool.make_fixtures import FixtureContext, coco_json, project, tight_bbox, to_list

logger = logging.getLogger(__name__)

# Joint axes of the 15 MANO pose triplets (rows: flexion, spread, twist; unit vectors of the rest
# frame). Fingers flex about +z, spread about the palm normal y and twist about their length x.
# The thumb (triplets 12-14) points along about (-0.68, 0, 0.73): it flexes about the axis
# perpendicular to it in the palm plane.
_FINGER_AXES = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
_THUMB_AXES = np.array([[0.73, 0.0, 0.68], [0.0, 1.0, 0.0], [-0.68, 0.0, 0.73]])
JOINT_AXES = np.stack([_FINGER_AXES] * 12 + [_THUMB_AXES] * 3)  # (15, 3, 3)
# Per triplet (index, middle, pinky, ring: base, middle, tip joint; thumb: base, middle, tip):
# (low, high) radians of the absolute rotation about each axis of JOINT_AXES.
_MCP = ((-0.3, 1.4), (-0.25, 0.25), (-0.1, 0.1))
_PIP = ((0.0, 1.6), (0.0, 0.0), (0.0, 0.0))
_DIP = ((0.0, 1.1), (0.0, 0.0), (0.0, 0.0))
POSE_LIMITS: tuple[tuple[tuple[float, float], ...], ...] = (
    *((_MCP, _PIP, _DIP) * 4),
    ((-0.3, 0.8), (-0.4, 0.5), (-0.2, 0.2)),  # thumb base: towards the palm, away from the index
    ((-0.1, 0.9), (-0.1, 0.1), (0.0, 0.0)),
    ((-0.1, 1.2), (0.0, 0.0), (0.0, 0.0)),
)  # fmt: skip

# MANO joint -> part (0 palm, 1 index, 2 middle, 3 pinky, 4 ring, 5 thumb) and segment (0-2).
_JOINT_PART = (0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5)
_PART_RGB = ((0.70, 0.62, 0.55), (0.95, 0.75, 0.15), (0.20, 0.70, 0.30), (0.60, 0.30, 0.80),
             (0.20, 0.45, 0.90), (0.90, 0.20, 0.20))  # fmt: skip
_SEGMENT_SHADE = (1.0, 0.8, 0.62)
_PALM_SIDE_SHADE = 0.55


# One render and its ground truth: the body's fields, with ``pose`` (48,) MANO axis-angle (root
# in the camera frame, then the layer's finger offsets), ``transl`` the MANO translation and
# ``mesh`` (778, 3), camera frame, m.
HandRender = BodyRender


def random_finger_pose(rng: np.random.Generator) -> np.ndarray:
    """(15, 3) absolute finger rotations (axis-angle, rest frame) drawn uniformly inside
    :data:`POSE_LIMITS` along :data:`JOINT_AXES`."""
    pose = np.zeros((15, 3))
    for joint, limits in enumerate(POSE_LIMITS):
        angles = [rng.uniform(low, high) if high > low else low for low, high in limits]
        pose[joint] = np.asarray(angles) @ JOINT_AXES[joint]
    return pose


def hand_part_colors(lbs_weights: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(V, 3) float RGB vertex colours: the colour of the finger (or palm) of the joint with the
    largest skinning weight, shaded by phalanx, darker on the palm side (template y below the
    joint's mean y).

    Args:
        lbs_weights: (V, 16) MANO skinning weights; template: (V, 3) rest vertices, m.
    """
    joint = np.argmax(lbs_weights, axis=1)  # (V,)
    part = np.asarray(_JOINT_PART)[joint]
    segment = np.where(joint == 0, 0, (joint - 1) % 3)
    colors = np.asarray(_PART_RGB)[part] * np.asarray(_SEGMENT_SHADE)[segment][:, None]
    centre_y = np.zeros(lbs_weights.shape[1])
    for j in np.unique(joint):
        centre_y[j] = template[joint == j, 1].mean()
    colors[template[:, 1] < centre_y[joint]] *= _PALM_SIDE_SHADE
    return colors


class HandRenderer(BodyRenderer):
    """Random renders of the right MANO layer on one reused off-screen context (close it)."""

    pose_key = "hand_pose"  # offsets from the layer's mean pose

    def __init__(self, mano: Any, img_size: Sequence[int] = IMG_SIZE) -> None:
        layer = mano.layer("right")
        template = layer.v_template.detach().numpy().astype(np.float64)
        colors = hand_part_colors(layer.lbs_weights.detach().numpy(), template)
        self._open(layer, np.asarray(mano.face["right"]), colors, img_size)
        self.hand_mean = layer.hand_mean.detach().numpy().astype(np.float64).reshape(15, 3)

    def sample(self, rng: np.random.Generator) -> HandRender:  # type: ignore[override]
        """A random hand, camera, light and background; the hand's box side is 40-70% of the
        image side."""
        quat = rng.normal(size=4)
        root = Rotation.from_quat(quat / np.linalg.norm(quat)).as_rotvec()  # uniform rotation
        fingers = random_finger_pose(rng) - self.hand_mean  # the layer adds its mean pose
        pose = np.concatenate([root, fingers.reshape(-1)])
        betas = np.clip(rng.normal(0, 0.8, size=10), -2, 2)
        focal = np.full(2, rng.uniform(400, 600))
        princpt = np.array([self.width, self.height]) / 2 + rng.uniform(-5, 5, size=2)
        rest = self.mesh(pose, betas, np.zeros(3))
        lo, hi = rest.min(0), rest.max(0)
        side = rng.uniform(0.4, 0.7) * min(self.width, self.height)
        depth = focal[0] * max(hi[0] - lo[0], hi[1] - lo[1]) / side
        centre_px = np.array([self.width, self.height]) / 2 + rng.uniform(-15, 15, size=2)
        target = np.append((centre_px - princpt) / focal * depth, depth)
        transl = target - (lo + hi) / 2  # the rest mesh's box centre moves to ``target``
        drawn = np.ptp(project(rest + transl, focal, princpt), axis=0).max()
        transl = target * drawn / side - (lo + hi) / 2  # one correction along the same ray
        mesh = rest + transl
        bkg = random_background(rng, self.height, self.width)
        img, mask = self._draw(mesh, focal, princpt, bkg, rng)
        return HandRender(img, pose, betas, transl, focal, princpt, mesh, mask)


def hand_render_set(mano: Any, num: int, seed: int) -> list[HandRender]:
    """``num`` renders from ``np.random.default_rng(seed)`` (deterministic for one GL driver)."""
    return render_set(mano, num, seed, HandRenderer)


# ---- FreiHAND writers ----------------------------------------------------------------------


def _image_entry(image_id: int, file_name: str, db_idx: int) -> dict[str, Any]:
    height, width = IMG_SIZE
    return {"id": image_id, "file_name": file_name, "width": width, "height": height,
            "db_idx": db_idx}  # fmt: skip


def _cam_param(r: HandRender) -> dict[str, list]:
    return {"focal": to_list(r.focal), "princpt": to_list(r.princpt)}


def write_freihand_train(
    ctx: FixtureContext, renders: Sequence[HandRender], repeats: int = 1
) -> int:
    """Training renders as ``freihand_train_{coco,data}.json`` (images ``training/rgb/``);
    returns the number of listed samples.

    Render ``i`` has ``db_idx`` i; the COCO file lists it ``repeats`` times (image and annotation
    ids ``rep * len(renders) + i``, the same file and ``db_idx``), so that one epoch can hold
    more samples than there are renders. The MANO fits are in the camera frame (m).
    """
    images, annotations, data = [], [], {}
    for i, r in enumerate(renders):
        file_name = f"training/rgb/{i:08d}.jpg"
        write_jpeg(ctx, r.image, "FreiHAND", "data", file_name)
        bbox = tight_bbox(project(r.mesh, r.focal, r.princpt))
        data[str(i)] = {
            "cam_param": _cam_param(r),
            "mano_param": {
                "pose": to_list(r.pose),
                "shape": to_list(r.betas),
                "trans": to_list(r.transl),
            },
        }
        for rep in range(repeats):
            entry = rep * len(renders) + i
            images.append(_image_entry(entry, file_name, i))
            annotations.append({"id": entry, "image_id": entry, "bbox": bbox})
    ctx.write_json(coco_json(images, annotations), "FreiHAND", "data", "freihand_train_coco.json")
    ctx.write_json(data, "FreiHAND", "data", "freihand_train_data.json")
    return len(renders) * repeats


def write_freihand_eval(
    ctx: FixtureContext,
    renders: Sequence[HandRender],
    regressor: np.ndarray,
    images_from: Sequence[str] | None = None,
) -> int:
    """Renders as FreiHAND's evaluation split with its local ground truth; returns the number.

    Writes ``freihand_eval_{coco,data}.json`` (images ``evaluation/rgb/``, ``db_idx`` = render
    index), the RootNet box file (the tight box of the projected mesh made square and enlarged
    1.25x, and the root joint, m) and ``evaluation_{xyz,verts}.json``: ``regressor`` (21, 778) x
    mesh and the mesh, camera frame, m. ``images_from``: existing JPEG files of the same renders,
    hard-linked instead of encoded again.
    """
    from tool.fixtures_hand_face import enlarged_square_box

    images, annotations, data, rootnet, xyz, verts = [], [], {}, [], [], []
    for i, r in enumerate(renders):
        file_name = f"evaluation/rgb/{i:08d}.jpg"
        if images_from is None:
            write_jpeg(ctx, r.image, "FreiHAND", "data", file_name)
        else:
            link_or_copy(images_from[i], ctx.path("FreiHAND", "data", file_name))
            ctx.written.append(ctx.path("FreiHAND", "data", file_name))
        bbox = tight_bbox(project(r.mesh, r.focal, r.princpt))
        images.append(_image_entry(i, file_name, i))
        annotations.append({"id": i, "image_id": i, "bbox": bbox})
        data[str(i)] = {"cam_param": _cam_param(r)}
        joints = regressor @ r.mesh  # (21, 3) m
        rootnet.append({"image_id": i, "bbox": enlarged_square_box(bbox),
                        "root_cam": to_list(joints[0])})  # fmt: skip
        xyz.append(to_list(joints))
        verts.append(to_list(r.mesh))
    ctx.write_json(coco_json(images, annotations), "FreiHAND", "data", "freihand_eval_coco.json")
    ctx.write_json(data, "FreiHAND", "data", "freihand_eval_data.json")
    ctx.write_json(rootnet, "FreiHAND", "rootnet_output", "bbox_root_freihand_output.json")
    ctx.write_json(xyz, "FreiHAND", "data", "evaluation_xyz.json")
    ctx.write_json(verts, "FreiHAND", "data", "evaluation_verts.json")
    return len(renders)


def prepare_hand_renders(paths: Paths, s: RenderSettings) -> dict[str, Any]:
    """Render and write the FreiHAND sets, or reuse them if ``renders.json`` has the same
    settings. Returns the manifest (as :func:`tool.learn_sets.prepare_renders`; ``mean_pose``
    has 48 values, the MANO root and the layer's finger offsets)."""
    from common.utils.human_models import get_mano

    key = manifest_key(paths, s, parts="hand")
    reused = reused_manifest(paths, key)
    if reused is not None:
        return reused
    mano = get_mano(paths.models)
    train, heldout = render_sets(hand_render_set, mano, s)
    regressor = mano.joint_regressor.astype(np.float64)
    ctx = FixtureContext(paths.data, paths.models)
    repeats = max(1, math.ceil(s.listed / len(train)))
    write_freihand_train(ctx, train, repeats)
    write_freihand_eval(ctx, heldout, regressor)
    num_eval = min(s.train_eval, len(train))
    by_index = {int(osp.splitext(osp.basename(p))[0]): p for p in ctx.written
                if osp.basename(osp.dirname(osp.dirname(p))) == "training"}  # fmt: skip
    eval_ctx = FixtureContext(paths.data_train_eval, paths.models)
    write_freihand_eval(
        eval_ctx, train[:num_eval], regressor, [by_index[i] for i in range(num_eval)]
    )
    return write_manifest(paths, key, repeats, *mean_parameters(train))


# ---- evaluation ----------------------------------------------------------------------------

# FreiHAND summary keys and labels (errors in mm, F-scores in %). The unaligned errors compare
# the prediction in the crop's virtual camera (the mean pose: at the MANO origin) with the
# ground truth in the render's camera, so only the aligned ones measure the pose.
HAND_METRICS = (("pa_mpjpe", "PA-MPJPE"), ("pa_mpvpe", "PA-MPVPE"), ("f5_al", "F@5mm %"),
                ("f15_al", "F@15mm %"), ("mpjpe", "MPJPE unaligned"),
                ("mpvpe", "MPVPE unaligned"))  # fmt: skip
_SUMMARY = {"pa_mpjpe": ("xyz_al_mean3d", 10.0), "pa_mpvpe": ("mesh_al_mean3d", 10.0),
            "f5_al": ("f_al_score_5", 100.0), "f15_al": ("f_al_score_15", 100.0),
            "mpjpe": ("xyz_mean3d", 10.0), "mpvpe": ("mesh_mean3d", 10.0)}  # fmt: skip


def hand_summary(result: dict[str, list]) -> dict[str, float]:
    """The :data:`HAND_METRICS` of FreiHAND ``evaluate`` results (official formulas: per-point
    means over the samples, then over the points; mm and %)."""
    from data.FreiHAND.FreiHAND import freihand_summary

    if "xyz_al_err" not in result:
        raise ValueError("FreiHAND evaluate returned no errors: the evaluation ground truth "
                         "files are missing from the data folder")  # fmt: skip
    scores = freihand_summary(result)  # means in cm, F-scores as fractions
    return {key: scores[name] * scale for key, (name, scale) in _SUMMARY.items()}


def evaluate_hand_mean_pose(
    paths: Paths, manifest: dict[str, Any], data_dir: str
) -> dict[str, float]:
    """FreiHAND ``evaluate`` of the mean MANO parameters predicted for every sample."""
    import torchvision.transforms as T

    from common.utils.human_models import get_mano
    from data.FreiHAND.FreiHAND import FreiHAND
    from main.config import make_config

    cfg = make_config("hand", human_model_path=paths.models, data_dir=data_dir, testset="FreiHAND")
    dataset = FreiHAND(cfg, T.ToTensor(), "test")
    mesh = mean_mesh(get_mano(paths.models).layer("right"), "hand_pose", manifest)
    return hand_summary(dataset.evaluate([{"mano_mesh_cam": mesh}] * len(dataset), 0))


def first_heldout_hand(data_dir: str) -> tuple[str, list[float]]:
    """Image path and RootNet box ``[x, y, w, h]`` (px) of the first held-out render."""
    root = osp.join(data_dir, "FreiHAND")
    with open(osp.join(root, "data", "freihand_eval_coco.json")) as f:
        image = json.load(f)["images"][0]
    with open(osp.join(root, "rootnet_output", "bbox_root_freihand_output.json")) as f:
        box = next(rec["bbox"] for rec in json.load(f) if rec["image_id"] == image["id"])
    return osp.join(root, "data", image["file_name"]), box


__all__ = [
    "HAND_METRICS",
    "HandRender",
    "HandRenderer",
    "JOINT_AXES",
    "POSE_LIMITS",
    "evaluate_hand_mean_pose",
    "first_heldout_hand",
    "hand_part_colors",
    "hand_render_set",
    "hand_summary",
    "prepare_hand_renders",
    "random_finger_pose",
    "write_freihand_eval",
    "write_freihand_train",
]
