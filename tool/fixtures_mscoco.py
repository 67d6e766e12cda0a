"""Fixture writer of MSCOCO / COCO-WholeBody (body, hand and face branches).

Registered (as :data:`WRITERS`) in :data:`tool.make_fixtures.FIXTURE_WRITERS`; the mesh helpers
are those of :mod:`tool.fixtures_hand_face`.
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from common.utils.human_models import SMPL, get_flame, get_mano
from common.utils.keypoints import COCO_BODY_JOINTS_NAME as COCO_BODY_NAMES
from common.utils.keypoints import COCO_FACE_FROM_FLAME
from common.utils.keypoints import COCO_FOOT_JOINTS_NAME as COCO_FOOT_NAMES
from tool.fixtures_hand_face import (
    FACE_COLOR,
    HAND_COLORS,
    centred_mano,
    keypoint_list,
    mano_joints,
    random_flame,
    random_hand_pose,
    render_meshes,
)
from tool.make_fixtures import (
    FixtureContext,
    background,
    coco_json,
    project,
    random_body_pose,
    smpl_mesh,
    tight_bbox,
    to_list,
)

BODY_COLOR = (170, 200, 150)
# Box of an absent part in COCO-WholeBody.
EMPTY_BOX = [0.0, 0.0, 0.0, 0.0]

# ---- MSCOCO / COCO-WholeBody -------------------------------------------------------------------

COCO_IMG_SIZE = (320, 320)  # (H, W)
COCO_FOCAL = (420.0, 420.0)

# Per split and image: persons with the parts they show and why samples are kept or dropped.
#   body: 'ok' | 'crowd' | 'no_kpts' | 'empty_box' | None;  hands/face: 'ok' | 'invalid' |
#   'empty_box' | 'null_fit' (hand only: MANO fit written as null) | None (absent part).
COCO_PERSONS = {
    "train": [
        [dict(body="ok", left="ok", right="ok", face="ok"),
         dict(body="crowd", left=None, right="null_fit", face="invalid")],
        [dict(body="no_kpts", left="ok", right="empty_box", face="ok"),
         dict(body="empty_box", left=None, right=None, face=None)],
    ],
    "test": [
        [dict(body="ok", left="ok", right="ok", face="ok"),
         dict(body="crowd", left=None, right=None, face="empty_box")],
        [dict(body="ok", left=None, right="ok", face="ok")],
    ],
}  # fmt: skip
# Camera-frame placement of each part of person p (m): body far left, head and hands right.
COCO_PLACES = {
    "body": lambda p: (-0.9 + 0.6 * p, 0.1, 5.5),
    "face": lambda p: (0.08 + 0.18 * p, -0.35 + 0.3 * p, 1.6),
    "right": lambda p: (0.12 + 0.1 * p, 0.05 + 0.15 * p, 1.3),
    "left": lambda p: (0.3 - 0.05 * p, 0.2 - 0.15 * p, 1.3),
}  # mesh centres, except the body (translation)


def _coco_body(ctx, rng, p, state):
    upright = Rotation.from_euler("x", 180, degrees=True)  # y-up body -> y-down camera frame
    root = (Rotation.from_euler("y", rng.uniform(-40, 40), degrees=True) * upright).as_rotvec()
    pose = np.concatenate([root, random_body_pose(rng)])
    betas = rng.normal(0, 0.8, size=10)
    transl = np.array(COCO_PLACES["body"](p))
    mesh = smpl_mesh(ctx, pose[:3], pose[3:], betas, transl)
    joints = ctx.smpl.joint_regressor.astype(np.float64) @ mesh  # (33, 3)
    xy = project(joints, COCO_FOCAL, state["princpt"])
    index = {name: i for i, name in enumerate(SMPL.joints_name)}
    body_xy = xy[[index[n] for n in COCO_BODY_NAMES]]
    foot_xy = xy[[index[n] for n in COCO_FOOT_NAMES]]
    vis = np.full(17, 2.0)
    vis[4] = 0.0  # R_Ear not labelled
    vis[11] = 1.0  # L_Hip labelled but occluded: Pelvis = 1 * 2 is still valid
    fit = {
        "smpl_param": {"pose": to_list(pose), "shape": to_list(betas), "trans": to_list(transl)},
        "cam_param": {"focal": list(COCO_FOCAL), "princpt": to_list(state["princpt"])},
    }
    return mesh, body_xy, vis, foot_xy, tight_bbox(project(mesh, COCO_FOCAL, state["princpt"])), fit


def _coco_hand(ctx, rng, side, p, state):
    root = (Rotation.from_euler("xyz", rng.uniform(-60, 60, size=3), degrees=True)).as_rotvec()
    pose = random_hand_pose(rng, root)
    betas = rng.normal(0, 0.8, size=10)
    transl, mesh = centred_mano(ctx, side, pose, betas, COCO_PLACES[side](p))
    xy = project(mano_joints(ctx, mesh), COCO_FOCAL, state["princpt"])
    fit = {
        "mano_param": {"pose": to_list(pose), "shape": to_list(betas), "trans": to_list(transl)},
        "cam_param": {"focal": list(COCO_FOCAL), "princpt": to_list(state["princpt"])},
    }
    return mesh, xy, tight_bbox(project(mesh, COCO_FOCAL, state["princpt"])), fit


def _coco_face(ctx, rng, p, state):
    param, mesh, joints = random_flame(ctx, rng, COCO_PLACES["face"](p))
    xy = project(joints, COCO_FOCAL, state["princpt"])[list(COCO_FACE_FROM_FLAME)]  # (68, 2)
    fit = {
        "flame_param": {k: to_list(v) for k, v in param.items()},
        "cam_param": {"focal": list(COCO_FOCAL), "princpt": to_list(state["princpt"])},
    }
    return mesh, xy, tight_bbox(project(mesh, COCO_FOCAL, state["princpt"])), fit


def write_mscoco(ctx: FixtureContext) -> dict[str, Any]:
    """COCO-WholeBody train/val files, images and the SMPL/MANO/FLAME NeuralAnnot files."""
    rng = np.random.default_rng(2017)
    smpl_faces = np.asarray(ctx.smpl.face)
    mano_faces = get_mano(ctx.human_model_path).face
    flame_faces = get_flame(ctx.human_model_path).face
    counts: dict[str, dict[str, int]] = {}
    fits: dict[str, dict[str, Any]] = {"SMPL": {}, "MANO": {}, "FLAME": {}}
    for split, image_persons in COCO_PERSONS.items():
        images, annotations = [], []
        count = {"body": 0, "hand": 0, "face": 0}
        for i, persons in enumerate(image_persons):
            image_id = (1 if split == "train" else 11) + i
            state = {"princpt": np.array(COCO_IMG_SIZE[::-1]) / 2 + rng.uniform(-4, 4, size=2)}
            meshes, faces, colors = [], [], []
            for p, parts in enumerate(persons):
                ann_id = 100 * image_id + p
                ann: dict[str, Any] = {
                    "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                    "segmentation": [], "area": 0.0,
                }  # fmt: skip
                body = parts["body"]
                mesh, body_xy, vis, foot_xy, bbox, fit = _coco_body(ctx, rng, p, state)
                if body == "no_kpts":
                    vis[:] = 0.0
                ann["iscrowd"] = int(body == "crowd")
                if body == "empty_box":
                    bbox[2] = 0.0
                meshes.append(mesh)
                faces.append(smpl_faces)
                colors.append(BODY_COLOR)
                ann.update(
                    bbox=bbox,
                    keypoints=keypoint_list(body_xy, vis),
                    num_keypoints=int(np.sum(vis > 0)),
                    foot_kpts=keypoint_list(foot_xy, np.full(6, 2.0)),
                    foot_valid=True,
                    area=float(bbox[2] * bbox[3]),
                )
                if split == "train" and body == "ok":
                    fits["SMPL"][str(ann_id)] = fit
                    count["body"] += 1
                elif split == "test" and body != "empty_box":
                    count["body"] += 1
                hand_fits: dict[str, Any] = {}
                for side in ("left", "right"):
                    state_side = parts[side]
                    if state_side is None:
                        ann.update({f"{side}hand_box": EMPTY_BOX, f"{side}hand_valid": False,
                                    f"{side}hand_kpts": [0.0] * 63})  # fmt: skip
                        hand_fits[side] = None
                        continue
                    mesh, xy, box, fit = _coco_hand(ctx, rng, side, p, state)
                    meshes.append(mesh)
                    faces.append(mano_faces[side])
                    colors.append(HAND_COLORS[side])
                    scores = np.ones(21)
                    scores[7] = 0.0  # Index_3 not labelled
                    if state_side == "empty_box":
                        box = [box[0], box[1], 0.0, box[3]]
                    ann.update({f"{side}hand_box": box,
                                f"{side}hand_valid": state_side != "invalid",
                                f"{side}hand_kpts": keypoint_list(xy, scores)})  # fmt: skip
                    hand_fits[side] = None if state_side == "null_fit" else fit
                    kept = state_side in ("ok", "null_fit") or (
                        split == "test" and state_side == "invalid"
                    )
                    count["hand"] += int(kept)
                if split == "train":
                    fits["MANO"][str(ann_id)] = hand_fits
                face = parts["face"]
                if face is None:
                    ann.update(face_box=EMPTY_BOX, face_valid=False, face_kpts=[0.0] * 204)
                else:
                    mesh, xy, box, fit = _coco_face(ctx, rng, p, state)
                    meshes.append(mesh)
                    faces.append(flame_faces)
                    colors.append(FACE_COLOR)
                    scores = np.ones(68)
                    scores[[0, 40]] = 0.0  # a contour point and an eye point not labelled
                    if face == "empty_box":
                        box = [box[0], box[1], box[2], 0.0]
                    ann.update(face_box=box, face_valid=face != "invalid",
                               face_kpts=keypoint_list(xy, scores))  # fmt: skip
                    if split == "train" and face == "ok":
                        fits["FLAME"][str(ann_id)] = fit
                    count["face"] += int(face == "ok" or (split == "test" and face == "invalid"))
                annotations.append(ann)
            file_name = f"{image_id:012d}.jpg"
            img = render_meshes(
                meshes, faces, COCO_FOCAL, state["princpt"], background(*COCO_IMG_SIZE, rng), colors
            )
            folder = "train2017" if split == "train" else "val2017"
            ctx.write_image(img, "MSCOCO", "images", folder, file_name)
            images.append({"id": image_id, "file_name": file_name, "width": COCO_IMG_SIZE[1],
                           "height": COCO_IMG_SIZE[0]})  # fmt: skip
        name = (
            "coco_wholebody_train_v1.0.json" if split == "train" else "coco_wholebody_val_v1.0.json"
        )
        ctx.write_json(coco_json(images, annotations), "MSCOCO", "annotations", name)
        counts[split] = count
    for model, fit_dict in fits.items():
        ctx.write_json(fit_dict, "MSCOCO", "annotations", f"MSCOCO_train_{model}_NeuralAnnot.json")
    return {"root": osp.join(ctx.data_dir, "MSCOCO"), "samples": counts}


WRITERS = {"MSCOCO": write_mscoco}
