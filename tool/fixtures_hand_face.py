"""Fixture writers of the hand and face data sets (MSCOCO: :mod:`tool.fixtures_mscoco`).

Registered (as :data:`WRITERS`) in :data:`tool.make_fixtures.FIXTURE_WRITERS`; run them with
``python tool/make_fixtures.py DATA_DIR --human_model_path DIR --datasets MSCOCO,FreiHAND,...``.
Each writer builds a few samples in the real on-disk layout and formats of its data set: the
labels are projections of stand-in SMPL / MANO / FLAME meshes posed with the
written NeuralAnnot-style fits, and each image shows the silhouettes of the same meshes. Samples
are chosen so that the selection rules (validity flags, empty boxes, crowd and zero-keypoint
people, null MANO fits, camera subsampling, missing wrists) keep some and drop others.
"""

from __future__ import annotations

import os
import os.path as osp
from typing import Any, Sequence

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from common.utils.human_models import FLAME, MANO, get_flame, get_mano
from common.utils.keypoints import INTERHAND_JOINTS_NAME
from tool.make_fixtures import (
    FixtureContext,
    background,
    coco_json,
    look_at,
    project,
    render_silhouettes,
    tight_bbox,
    to_list,
)

HAND_COLORS = {"right": (220, 170, 140), "left": (150, 190, 230)}
FACE_COLOR = (230, 200, 170)


# ---- model helpers ---------------------------------------------------------------------------


def _tensor(x: Any) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float32).reshape(1, -1))


def mano_mesh(
    ctx: FixtureContext, hand_type: str, pose: np.ndarray, betas: np.ndarray, transl: np.ndarray
) -> np.ndarray:
    """(778, 3) float64 vertices (m) of the MANO layer of ``hand_type`` for a (48,) pose."""
    layer = get_mano(ctx.human_model_path).layer(hand_type)
    with torch.no_grad():
        out = layer(global_orient=_tensor(pose[:3]), hand_pose=_tensor(pose[3:]),
                    betas=_tensor(betas), transl=_tensor(transl))  # fmt: skip
    return out.vertices[0].numpy().astype(np.float64)


def centred_mano(
    ctx: FixtureContext,
    hand_type: str,
    pose: np.ndarray,
    betas: np.ndarray,
    centre: Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """``(transl (3,), mesh (778, 3))`` placing the mean vertex of the posed hand at ``centre``."""
    transl = np.zeros(3)
    transl = np.asarray(centre, dtype=np.float64) - mano_mesh(
        ctx, hand_type, pose, betas, transl
    ).mean(0)
    return transl, mano_mesh(ctx, hand_type, pose, betas, transl)


def mano_joints(ctx: FixtureContext, mesh: np.ndarray) -> np.ndarray:
    """(21, 3) joints of a MANO mesh in the MANO supervision order (regressor + fingertips)."""
    return get_mano(ctx.human_model_path).joint_regressor.astype(np.float64) @ mesh


def flame_mesh(ctx: FixtureContext, param: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """FLAME ``(mesh (5023, 3), joints (73, 3))``, float64, m, of a fit (neck and eyes zero)."""
    zero = torch.zeros((1, 3))
    with torch.no_grad():
        out = get_flame(ctx.human_model_path).layer()(
            global_orient=_tensor(param["root_pose"]), jaw_pose=_tensor(param["jaw_pose"]),
            neck_pose=zero, leye_pose=zero, reye_pose=zero, betas=_tensor(param["shape"]),
            expression=_tensor(param["expr"]), transl=_tensor(param["trans"]),
        )  # fmt: skip
    return out.vertices[0].numpy().astype(np.float64), out.joints[0].numpy().astype(np.float64)


def random_hand_pose(rng: np.random.Generator, root: np.ndarray) -> np.ndarray:
    """(48,) MANO pose: the given root axis-angle and small random finger bends."""
    fingers = rng.normal(0.0, 0.15, size=45)
    return np.concatenate([root, fingers])


def random_flame(
    ctx: FixtureContext, rng: np.random.Generator, centre: Sequence[float]
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A FLAME fit facing a y-down, z-forward camera (head turned slightly), centred at ``centre``.

    Returns:
        ``(param, mesh (5023, 3), joints (73, 3))``, m, camera frame.
    """
    facing = Rotation.from_euler("x", 180, degrees=True)  # FLAME is y-up, looking along +z
    turn = Rotation.from_euler("yx", rng.uniform(-20, 20, size=2), degrees=True)
    param = {
        "root_pose": (turn * facing).as_rotvec(),
        "jaw_pose": np.array([rng.uniform(0.0, 0.2), 0.0, 0.0]),
        "shape": rng.normal(0, 0.8, size=10),
        "expr": rng.normal(0, 0.8, size=10),
        "trans": np.zeros(3),
    }
    param["trans"] = np.asarray(centre, dtype=np.float64) - flame_mesh(ctx, param)[0].mean(0)
    mesh, joints = flame_mesh(ctx, param)
    return param, mesh, joints


def render_meshes(
    meshes: Sequence[np.ndarray],
    faces: Sequence[np.ndarray],
    focal: Sequence[float],
    princpt: Sequence[float],
    img: np.ndarray,
    colors: Sequence[Sequence[float]],
) -> np.ndarray:
    """Paint camera-frame meshes with their own face arrays, farthest mesh first (uint8 RGB)."""
    out = img
    for i in np.argsort([-mesh[:, 2].mean() for mesh in meshes]):
        out = render_silhouettes([meshes[i]], faces[i], focal, princpt, out, [colors[i]])
    return out


def keypoint_list(points_2d: np.ndarray, scores: np.ndarray) -> list[float]:
    """COCO ``[x, y, score] * J`` list; points with score 0 are written as zeros."""
    kpts = np.concatenate([points_2d, scores[:, None]], 1)
    kpts[scores == 0, :2] = 0.0
    return to_list(kpts.reshape(-1))


def enlarged_square_box(bbox: Sequence[float]) -> list[float]:
    """A RootNet-style box: the tight box made square and enlarged by 1.25 about its centre."""
    x, y, w, h = bbox
    cx, cy, side = x + w / 2, y + h / 2, max(w, h) * 1.25
    return [cx - side / 2, cy - side / 2, side, side]


# ---- FreiHAND --------------------------------------------------------------------------------

FREIHAND_IMG_SIZE = (224, 224)
# split -> samples; train samples marked False have an empty box (dropped by the loader).
FREIHAND_SAMPLES = {"train": (True, True, False, True), "eval": (True, True, True)}


def write_freihand(ctx: FixtureContext) -> dict[str, Any]:
    """FreiHAND COCO/data files, RootNet boxes, images and the evaluation ground truth."""
    rng = np.random.default_rng(224)
    faces = get_mano(ctx.human_model_path).face["right"]
    counts = {}
    for split, samples in FREIHAND_SAMPLES.items():
        folder = "training" if split == "train" else "evaluation"
        images, annotations, data, rootnet = [], [], {}, []
        xyz_gt, verts_gt = [], []
        for db_idx, kept in enumerate(samples):
            focal = rng.uniform(450, 550, size=2)
            princpt = np.array(FREIHAND_IMG_SIZE[::-1]) / 2 + rng.uniform(-5, 5, size=2)
            root = Rotation.from_euler(
                "xyz", rng.uniform(-60, 60, size=3), degrees=True
            ).as_rotvec()
            pose = random_hand_pose(rng, root)
            betas = rng.normal(0, 0.8, size=10)
            if split == "train" and db_idx == 1:
                betas[2] = -3.4  # exercises the shape clamp of the training targets
            centre = (rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01), 0.6)
            transl, mesh = centred_mano(ctx, "right", pose, betas, centre)  # camera frame, m
            file_name = f"{folder}/rgb/{db_idx:08d}.jpg"
            img = render_silhouettes(
                [mesh],
                faces,
                focal,
                princpt,
                background(*FREIHAND_IMG_SIZE, rng),
                [HAND_COLORS["right"]],
            )
            ctx.write_image(img, "FreiHAND", "data", file_name)
            image_id = 1000 * (split == "eval") + db_idx
            images.append({"id": image_id, "file_name": file_name, "width": FREIHAND_IMG_SIZE[1],
                           "height": FREIHAND_IMG_SIZE[0], "db_idx": db_idx})  # fmt: skip
            bbox = tight_bbox(project(mesh, focal, princpt))
            if not kept:
                bbox[3] = 0.0
            annotations.append({"id": image_id, "image_id": image_id, "bbox": bbox})
            entry: dict[str, Any] = {
                "cam_param": {"focal": to_list(focal), "princpt": to_list(princpt)}
            }
            if split == "train":
                entry["mano_param"] = {"pose": to_list(pose), "shape": to_list(betas),
                                       "trans": to_list(transl)}  # fmt: skip
            else:
                joints = mano_joints(ctx, mesh)
                rootnet.append({"image_id": image_id,
                                "bbox": enlarged_square_box(bbox),
                                "root_cam": to_list(joints[0])})  # fmt: skip
                xyz_gt.append(to_list(joints))
                verts_gt.append(to_list(mesh))
            data[str(db_idx)] = entry
        ctx.write_json(
            coco_json(images, annotations), "FreiHAND", "data", f"freihand_{split}_coco.json"
        )
        ctx.write_json(data, "FreiHAND", "data", f"freihand_{split}_data.json")
        if split == "eval":
            ctx.write_json(rootnet, "FreiHAND", "rootnet_output", "bbox_root_freihand_output.json")
            ctx.write_json(xyz_gt, "FreiHAND", "data", "evaluation_xyz.json")
            ctx.write_json(verts_gt, "FreiHAND", "data", "evaluation_verts.json")
        counts["train" if split == "train" else "test"] = int(sum(samples))
    return {"root": osp.join(ctx.data_dir, "FreiHAND"), "samples": counts}


# ---- InterHand2.6M ---------------------------------------------------------------------------

INTERHAND_IMG_SIZE = (256, 192)  # (H, W); the real images are 512 x 334
# split -> (capture, sequence, number of camera folders, frames); each frame: (frame_idx,
# hand_type, {camera index: kept?}, hands with a null MANO fit, {hand: invalid joint indices}).
INTERHAND_SPLITS = {
    "train": (0, "0000_fixture_train", 21, (
        (10, "interacting", {0: True, 1: False}, ("left",), {"right": (4,)}),
        (20, "left", {4: True, 20: True}, (), {}),
        (30, "right", {2: True}, (), {"right": (20,)}),  # wrist missing: whole hand invalid
        (40, "right", {6: True}, (), {"right": tuple(range(20))}),  # one valid joint: no box
    )),
    "test": (1, "0001_fixture_test", 3, (
        (0, "interacting", {0: True, 1: True}, (), {"left": (0,)}),
        (5, "left", {2: True}, ("left",), {}),
    )),
}  # fmt: skip


def interhand_camera_names(count: int) -> list[str]:
    """Camera ids of a fixture sequence (strings, as the real data: '400000', '400001', ...)."""
    return [str(400000 + k) for k in range(count)]


def write_interhand(ctx: FixtureContext) -> dict[str, Any]:
    """InterHand2.6M annotation files (data, camera, joint_3d, MANO_NeuralAnnot) and images."""
    rng = np.random.default_rng(26)
    mano_faces = get_mano(ctx.human_model_path).face
    mano_to_ih = [MANO.joints_name.index(name) for name in INTERHAND_JOINTS_NAME]
    counts = {}
    for split, (capture, seq_name, cam_count, frames) in INTERHAND_SPLITS.items():
        cam_names = interhand_camera_names(cam_count)
        cameras: dict[str, dict[str, Any]] = {
            "campos": {},
            "camrot": {},
            "focal": {},
            "princpt": {},
        }
        for k, cam in enumerate(cam_names):
            azimuth = 2 * np.pi * k / cam_count + rng.uniform(-0.1, 0.1)
            pos = np.array([1200 * np.cos(azimuth), 1200 * np.sin(azimuth), rng.uniform(-300, 300)])
            R, _ = look_at(pos, (0.0, 0.0, 0.0), (0.0, 0.0, 1.0))
            cameras["campos"][cam] = to_list(pos)
            cameras["camrot"][cam] = to_list(R)
            cameras["focal"][cam] = to_list(rng.uniform(560, 620, size=2))
            cameras["princpt"][cam] = to_list(np.array(INTERHAND_IMG_SIZE[::-1]) / 2
                                              + rng.uniform(-3, 3, size=2))  # fmt: skip
            # Every camera folder exists on disk: the training camera subsampling lists them.
            seq_dir = osp.join(ctx.data_dir, "InterHand26M", "images", split, f"Capture{capture}")
            os.makedirs(osp.join(seq_dir, seq_name, f"cam{cam}"), exist_ok=True)
        images, annotations = [], []
        joints_3d: dict[str, Any] = {}
        mano_fits: dict[str, Any] = {}
        kept = 0
        for frame_idx, hand_type, cam_kept, null_fits, invalid in frames:
            world_meshes, world_joints, fits, valid = {}, [], {}, []
            for side, offset in (("right", -0.05), ("left", 0.05)):
                root = Rotation.from_euler("xyz", rng.uniform(-50, 50, size=3), degrees=True)
                pose = random_hand_pose(rng, root.as_rotvec())
                betas = rng.normal(0, 0.8, size=10)
                transl, mesh = centred_mano(ctx, side, pose, betas, (offset, 0.0, 0.0))  # world, m
                world_meshes[side] = mesh
                world_joints.append(mano_joints(ctx, mesh)[mano_to_ih] * 1000)  # (21, 3) mm
                present = hand_type in ("interacting", side)
                hand_valid = np.full(21, 1.0 if present else 0.0)
                hand_valid[list(invalid.get(side, ()))] = 0.0
                valid.append(hand_valid)
                fits[side] = (
                    None
                    if side in null_fits
                    else {"pose": to_list(pose), "shape": to_list(betas), "trans": to_list(transl)}
                )
            joints_3d[str(frame_idx)] = {"world_coord": to_list(np.concatenate(world_joints)),
                                         "hand_type": hand_type}  # fmt: skip
            mano_fits[str(frame_idx)] = fits
            joint_valid = np.concatenate(valid)
            hands = ("right", "left") if hand_type == "interacting" else (hand_type,)
            for cam_idx, is_kept in cam_kept.items():
                cam = cam_names[cam_idx]
                R = np.array(cameras["camrot"][cam])
                t = -R @ np.array(cameras["campos"][cam]) / 1000  # m
                img = render_meshes(
                    [world_meshes[h] @ R.T + t for h in hands], [mano_faces[h] for h in hands],
                    cameras["focal"][cam], cameras["princpt"][cam],
                    background(*INTERHAND_IMG_SIZE, rng), [HAND_COLORS[h] for h in hands],
                )  # fmt: skip
                file_name = f"Capture{capture}/{seq_name}/cam{cam}/image{frame_idx:05d}.jpg"
                ctx.write_image(img, "InterHand26M", "images", split, file_name)
                image_id = len(images)
                images.append({
                    "id": image_id, "file_name": file_name, "width": INTERHAND_IMG_SIZE[1],
                    "height": INTERHAND_IMG_SIZE[0], "capture": capture, "seq_name": seq_name,
                    "camera": cam, "frame_idx": frame_idx,
                })  # fmt: skip
                annotations.append({
                    "id": image_id, "image_id": image_id, "joint_valid": to_list(joint_valid),
                    "hand_type": hand_type, "hand_type_valid": 1,
                })  # fmt: skip
                if is_kept:
                    # A hand is kept with a valid wrist and at least two valid joints (a box).
                    kept += sum(int(valid[h == "left"][20] > 0 and np.sum(valid[h == "left"]) > 1)
                                for h in hands)  # fmt: skip
        prefix = ("InterHand26M", "annotations", split, f"InterHand2.6M_{split}")
        ctx.write_json(coco_json(images, annotations), *prefix[:3], f"{prefix[3]}_data.json")
        ctx.write_json({str(capture): cameras}, *prefix[:3], f"{prefix[3]}_camera.json")
        ctx.write_json({str(capture): joints_3d}, *prefix[:3], f"{prefix[3]}_joint_3d.json")
        ctx.write_json({str(capture): mano_fits}, *prefix[:3], f"{prefix[3]}_MANO_NeuralAnnot.json")
        counts[split] = kept
    return {"root": osp.join(ctx.data_dir, "InterHand26M"), "samples": counts}


# ---- FFHQ --------------------------------------------------------------------------------------

FFHQ_IMG_SIZE = (256, 256)
FFHQ_FOCAL = (330.0, 330.0)
FFHQ_SAMPLES = (True, False, True)  # False: empty box, dropped by the loader


def write_ffhq(ctx: FixtureContext) -> dict[str, Any]:
    """FFHQ.json (73 FLAME-ordered 2D keypoints), flame_param.json and the images."""
    rng = np.random.default_rng(70000)
    faces = get_flame(ctx.human_model_path).face
    images, annotations, fits = [], [], {}
    for i, kept in enumerate(FFHQ_SAMPLES):
        princpt = np.array(FFHQ_IMG_SIZE[::-1]) / 2 + rng.uniform(-4, 4, size=2)
        param, mesh, joints = random_flame(ctx, rng, (0.0, 0.0, 0.8))
        file_name = f"{i:05d}.png"
        img = render_silhouettes(
            [mesh], faces, FFHQ_FOCAL, princpt, background(*FFHQ_IMG_SIZE, rng), [FACE_COLOR]
        )
        ctx.write_image(img, "FFHQ", "data", "images", file_name)
        images.append({"id": i, "file_name": file_name, "width": FFHQ_IMG_SIZE[1],
                       "height": FFHQ_IMG_SIZE[0]})  # fmt: skip
        xy = project(joints, FFHQ_FOCAL, princpt)  # (73, 2)
        valid = np.ones(FLAME.joint_num)
        valid[:5] = 0.0  # root, neck, jaw, eyeballs are not landmarks
        valid[60 + i] = 0.0  # one contour landmark not labelled
        bbox = tight_bbox(project(mesh, FFHQ_FOCAL, princpt))
        if not kept:
            bbox[2] = 0.0
        annotations.append({"id": 10 + i, "image_id": i, "bbox": bbox,
                            "keypoints": to_list((xy * valid[:, None]).reshape(-1)),
                            "keypoints_valid": to_list(valid)})  # fmt: skip
        fits[str(10 + i)] = {
            "flame_param": {k: to_list(v) for k, v in param.items()},
            "cam_param": {"focal": list(FFHQ_FOCAL), "princpt": to_list(princpt)},
        }
    ctx.write_json(coco_json(images, annotations), "FFHQ", "data", "FFHQ.json")
    ctx.write_json(fits, "FFHQ", "data", "flame_param.json")
    kept = int(sum(FFHQ_SAMPLES))
    return {"root": osp.join(ctx.data_dir, "FFHQ"), "samples": {"train": kept, "test": kept}}


WRITERS = {
    "FreiHAND": write_freihand,
    "InterHand26M": write_interhand,
    "FFHQ": write_ffhq,
}
