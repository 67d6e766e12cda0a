"""Fixture writers for MPII, MPI-INF-3DHP and AGORA (body), in their real on-disk formats.

Used by ``tool/make_fixtures.py`` (registered in its ``FIXTURE_WRITERS``). Like the writers there,
labels come from SMPL fits run through the (stand-in) human models and every image shows the same
meshes through the same camera, so picture and labels agree. Samples are chosen so that each
loader's selection rules keep some and drop others.
"""

from __future__ import annotations

import os.path as osp
from typing import Any, Sequence

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from common.utils.keypoints import H36M_JOINTS_NAME
from common.utils.keypoints import MPI_INF_3DHP_JOINTS_NAME as MPI_INF_3DHP_JOINTS
from common.utils.keypoints import MPII_JOINTS_NAME as MPII_JOINTS
from tool.make_fixtures import (
    FixtureContext,
    background,
    coco_json,
    h36m_regressor,
    project,
    random_body_pose,
    render_silhouettes,
    ring_camera,
    smpl_mesh,
    tight_bbox,
    to_list,
)

UPRIGHT_CAM = Rotation.from_euler("x", 180, degrees=True)  # SMPL's y-up body -> camera y-down
UPRIGHT_Z = Rotation.from_euler("x", 90, degrees=True)  # SMPL's y-up body on a z-up floor


def named_regressor(ctx: FixtureContext, names: Sequence[str]) -> np.ndarray:
    """(len(names), 6890) vertex -> joint regressor of a joint set, from the stand-in H36M rows.

    Every name must be an H36M joint name, except ``Thorax`` (MPII), which is the mean of the
    Neck and Torso rows.
    """
    h36m = h36m_regressor(ctx)
    index = {name: i for i, name in enumerate(H36M_JOINTS_NAME)}
    rows = []
    for name in names:
        if name == "Thorax":
            rows.append(0.5 * (h36m[index["Neck"]] + h36m[index["Torso"]]))
        else:
            rows.append(h36m[index[name]])
    return np.stack(rows)


def camera_body(
    ctx: FixtureContext, rng: np.random.Generator, transl: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random SMPL fit standing upright in a camera frame (y down), neutral gender.

    Returns:
        ``(pose (72,), betas (10,), mesh (6890, 3) camera m)``.
    """
    root = Rotation.from_euler("y", rng.uniform(-50, 50), degrees=True) * UPRIGHT_CAM
    pose = np.concatenate([root.as_rotvec(), random_body_pose(rng)])
    betas = rng.normal(0, 0.8, size=10)
    return pose, betas, smpl_mesh(ctx, pose[:3], pose[3:], betas, np.asarray(transl))


def contrast_colors(bkg: np.ndarray, num: int) -> list[tuple[float, float, float]]:
    """``num`` RGB colours that stand out from ``bkg`` (H, W, 3) under any shading.

    The background's brightest channel is set near 0 in every colour, so a painted pixel differs
    from the background by at least that channel's value (>= 60 for :func:`background`).
    """
    dark = int(np.argmax(bkg.reshape(-1, 3).mean(0)))
    colors = []
    for p in range(num):
        color = [230.0 - 60 * (p % 3), 120.0 + 50 * (p % 2), 200.0]
        color[dark] = 5.0
        colors.append(tuple(color))
    return colors


def _keypoints(joints_px: np.ndarray, height: int, width: int) -> np.ndarray:
    """(J, 3) keypoints ``(x, y, v)``: v = 1 inside the image; outside ones are (0, 0, 0)."""
    inside = (joints_px[:, 0] >= 0) & (joints_px[:, 0] < width)
    inside &= (joints_px[:, 1] >= 0) & (joints_px[:, 1] < height)
    out = np.zeros((len(joints_px), 3))
    out[inside, :2] = joints_px[inside]
    out[inside, 2] = 1
    return out


# ---- MPII ------------------------------------------------------------------------------------

MPII_IMG_SIZE = (240, 320)  # (H, W); the real images are about 720 x 1280
# Images, each a list of persons: (x offset m, depth m, what happens to the person).
MPII_SAMPLES = (
    ((0.0, 5.0, "kept"),),
    ((-0.7, 5.5, "kept"), (0.8, 6.0, "dropped: empty box")),
    ((0.6, 3.2, "kept, partly outside, one visibility flag 2"),),
)


def write_mpii(ctx: FixtureContext) -> dict[str, Any]:
    """``MPII/data/annotations/{train.json, MPII_train_SMPL_NeuralAnnot.json}`` + JPEG images."""
    rng = np.random.default_rng(16)
    regressor = named_regressor(ctx, MPII_JOINTS)
    faces = np.asarray(ctx.smpl.face)
    height, width = MPII_IMG_SIZE
    images, annotations, fits, kept = [], [], {}, 0
    for image_id, persons in enumerate(MPII_SAMPLES):
        focal = rng.uniform(300, 340, size=2)
        princpt = np.array([width, height]) / 2 + rng.uniform(-4, 4, size=2)
        meshes = []
        for person, (x_offset, depth, what) in enumerate(persons):
            ann_id = 100 * image_id + person
            transl = [x_offset, rng.uniform(0.0, 0.2), depth]
            pose, betas, mesh = camera_body(ctx, rng, transl)
            meshes.append(mesh)
            keypoints = _keypoints(project(regressor @ mesh, focal, princpt), height, width)
            if "flag 2" in what:
                keypoints[np.flatnonzero(keypoints[:, 2])[0], 2] = 2  # COCO's "labelled, visible"
            bbox = tight_bbox(project(mesh, focal, princpt))
            if what.startswith("dropped"):
                bbox[2] = 0.0
            else:
                kept += 1
            annotations.append({
                "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "bbox": bbox, "num_keypoints": int((keypoints[:, 2] > 0).sum()),
                "keypoints": to_list(keypoints.reshape(-1)),
            })  # fmt: skip
            fits[str(ann_id)] = {
                "smpl_param": {"pose": to_list(pose), "shape": to_list(betas),
                               "trans": to_list(transl)},
                "cam_param": {"focal": to_list(focal), "princpt": to_list(princpt)},
            }  # fmt: skip
        file_name = f"images/{15601864 + image_id:09d}.jpg"
        bkg = background(height, width, rng)
        img = render_silhouettes(
            meshes, faces, focal, princpt, bkg, contrast_colors(bkg, len(meshes))
        )
        ctx.write_image(img, "MPII", "data", file_name)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
    ctx.write_json(coco_json(images, annotations), "MPII", "data", "annotations", "train.json")
    ctx.write_json(fits, "MPII", "data", "annotations", "MPII_train_SMPL_NeuralAnnot.json")
    return {"root": osp.join(ctx.data_dir, "MPII"), "samples": {"train": kept}}


# ---- MPI-INF-3DHP ----------------------------------------------------------------------------

MPI_INF_3DHP_IMG_SIZE = (256, 256)  # (H, W); the real "1k" images are about 1024 x 1024
# (subject, sequence, frame, camera, what happens to the sample).
MPI_INF_3DHP_SAMPLES = (
    (1, 1, 0, 0, "kept"),
    (1, 1, 3, 2, "kept"),
    (1, 1, 4, 0, "dropped: frame % 3 != 0"),
    (2, 2, 6, 1, "kept"),
    (2, 2, 9, 1, "dropped: empty box"),
)


def _3dhp_cameras(rng: np.random.Generator) -> dict[str, dict[str, list]]:
    """Cameras 0-2 on a circle around the studio (world z up, mm), 1K intrinsics."""
    cameras = {}
    for cam_idx in range(3):
        R, t, focal, princpt = ring_camera(
            rng, -90 + 50 * cam_idx, 8, 4000, 1200.0, (300, 330), MPI_INF_3DHP_IMG_SIZE
        )
        cameras[str(cam_idx)] = {"R": to_list(R), "t": to_list(t), "focal": to_list(focal),
                                 "princpt": to_list(princpt)}  # fmt: skip
    return cameras


def write_mpi_inf_3dhp(ctx: FixtureContext) -> dict[str, Any]:
    """``MPI_INF_3DHP/data/``: the four JSON files and ``images_1k/`` JPEGs."""
    rng = np.random.default_rng(3)
    regressor = named_regressor(ctx, MPI_INF_3DHP_JOINTS)
    faces = np.asarray(ctx.smpl.face)
    height, width = MPI_INF_3DHP_IMG_SIZE
    images, annotations = [], []
    cameras: dict[str, Any] = {}
    joints: dict[str, Any] = {}
    fits: dict[str, Any] = {}
    meshes: dict[tuple[str, str, str], np.ndarray] = {}
    kept = 0
    for sample_id, (subject, seq, frame, cam_idx, what) in enumerate(MPI_INF_3DHP_SAMPLES):
        s, q, f = str(subject), str(seq), str(frame)
        if q not in cameras.setdefault(s, {}):
            cameras[s][q] = _3dhp_cameras(rng)
        if (s, q, f) not in meshes:
            root = Rotation.from_euler("z", rng.uniform(-40, 40), degrees=True) * UPRIGHT_Z
            body = random_body_pose(rng)
            betas = rng.normal(0, 0.8, size=10)
            if sample_id == 1:
                betas[2] = -3.4  # exercises the shape clamp of the training targets
            transl = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), 0.0])
            mesh = smpl_mesh(ctx, root.as_rotvec(), body, betas, transl)  # world, m
            transl[2] += 0.95 - mesh[:, 2].mean()  # stand the body up around 0.95 m
            meshes[s, q, f] = smpl_mesh(ctx, root.as_rotvec(), body, betas, transl)
            fits.setdefault(s, {}).setdefault(q, {})[f] = {
                "pose": to_list(np.concatenate([root.as_rotvec(), body])),
                "shape": to_list(betas),
                "trans": to_list(transl),
            }
            joints.setdefault(s, {}).setdefault(q, {})[f] = to_list(
                regressor @ meshes[s, q, f] * 1000
            )  # (17, 3) world mm, consistent with the mesh
        cam = cameras[s][q][str(cam_idx)]
        R, t = np.array(cam["R"]), np.array(cam["t"]) / 1000
        mesh_cam = meshes[s, q, f] @ R.T + t
        file_name = f"img_{cam_idx}_{frame:06d}.jpg"
        bkg = background(height, width, rng)
        img = render_silhouettes([mesh_cam], faces, cam["focal"], cam["princpt"], bkg,
                                 contrast_colors(bkg, 1))  # fmt: skip
        ctx.write_image(img, "MPI_INF_3DHP", "data", "images_1k", f"S{subject}", f"Seq{seq}",
                        "imageSequence", file_name)  # fmt: skip
        bbox = tight_bbox(project(mesh_cam, cam["focal"], cam["princpt"]))
        if what == "dropped: empty box":
            bbox[3] = 0.0
        if what == "kept":
            kept += 1
        images.append({
            "id": sample_id, "file_name": file_name, "width": width, "height": height,
            "subject_idx": subject, "seq_idx": seq, "frame_idx": frame, "cam_idx": cam_idx,
        })  # fmt: skip
        annotations.append({"id": sample_id, "image_id": sample_id, "bbox": bbox})
    root_parts = ("MPI_INF_3DHP", "data")
    ctx.write_json(coco_json(images, annotations), *root_parts, "MPI-INF-3DHP_1k.json")
    ctx.write_json(cameras, *root_parts, "MPI-INF-3DHP_camera_1k.json")
    ctx.write_json(joints, *root_parts, "MPI-INF-3DHP_joint_3d.json")
    ctx.write_json(fits, *root_parts, "MPI-INF-3DHP_SMPL_NeuralAnnot.json")
    return {"root": osp.join(ctx.data_dir, "MPI_INF_3DHP"), "samples": {"train": kept}}


# ---- AGORA -----------------------------------------------------------------------------------

AGORA_FRAME = (2160, 3840)  # (H, W) of the 4K frames; boxes and cameras are in these px
AGORA_720P = (720, 1280)
AGORA_FOCAL = 50.0 / 36.0 * 3840  # 50 mm lens on the 36 mm sensor, px
AGORA_CROP = (512, 384)  # (H, W) of crop_and_resize_4k_images.py --out_height 512 --out_width 384
# Per split, frames: (image folder, persons as (is_valid, crop file written?)).
AGORA_SAMPLES = {
    "train": (
        ("train_0", ((True, True), (True, True))),
        ("train_0", ((True, True), (False, True), (True, False))),
    ),
    "validation": (("validation", ((False, True), (True, True), (True, True))),),
    "test": (("test", ((True, True), (True, True))), ("test", ((True, False),))),
}
# The crop tool of the original main branch writes 'affine_mat'; the Pose2Pose loader read
# 'img2bb_trans' (an older crop tool): validation uses the older key so that both are exercised.
AGORA_CROP_KEY = {"train": "affine_mat", "validation": "img2bb_trans", "test": "affine_mat"}


def agora_crop_affine(bbox: Sequence[float]) -> tuple[np.ndarray, list[float]]:
    """Crop of a 4K box as ``crop_and_resize_4k_images.py`` makes it.

    The box is grown to the crop's aspect ratio, enlarged 1.25x about its centre, and mapped
    onto the crop (centre to centre, size to size, no rotation).

    Returns:
        ``(affine (2, 3) frame px -> crop px, adjusted box [x, y, w, h])``.
    """
    x, y, w, h = bbox
    out_h, out_w = AGORA_CROP
    cx, cy = x + w / 2, y + h / 2
    ratio = out_w / out_h
    if w > ratio * h:
        h = w / ratio
    else:
        w = h * ratio
    w, h = w * 1.25, h * 1.25
    sx, sy = out_w / w, out_h / h
    affine = np.array([[sx, 0.0, out_w / 2 - sx * cx], [0.0, sy, out_h / 2 - sy * cy]])
    return affine, [cx - w / 2, cy - h / 2, w, h]


def _agora_frame(
    ctx: FixtureContext, rng: np.random.Generator, person_num: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Persons of one frame, camera frame: ``(pose (72,), betas, transl (3,), mesh)``."""
    persons = []
    for p in range(person_num):
        transl = np.array([(p - (person_num - 1) / 2) * 1.6 + rng.uniform(-0.2, 0.2),
                           rng.uniform(-0.1, 0.1), rng.uniform(9.5, 11.0)])  # fmt: skip
        pose, betas, mesh = camera_body(ctx, rng, transl)
        persons.append((pose, betas, transl, mesh))
    return persons


def write_agora(ctx: FixtureContext) -> dict[str, Any]:
    """``AGORA/data/``: converted SMPL JSONs, per-person parameter and camera files, 4K crops
    with their crop files, 1280x720 frames and ``AGORA_test_bbox.json``."""
    rng = np.random.default_rng(7)
    faces = np.asarray(ctx.smpl.face)
    focal = np.array([AGORA_FOCAL, AGORA_FOCAL])
    princpt = np.array(AGORA_FRAME[::-1]) / 2
    small = AGORA_720P[1] / AGORA_FRAME[1]  # 1/3, same for x and y
    image_id = ann_id = 0
    test_boxes: dict[str, list] = {}
    counts = {"train_4k": 0, "train_720p": 0, "validation": 0, "test_4k": 0, "test_720p": 0}
    for split, frames in AGORA_SAMPLES.items():
        images, annotations = [], []
        for frame_idx, (folder, person_flags) in enumerate(frames):
            stem = f"ag_{split}set_fixture_5_15_{frame_idx:05d}"
            persons = _agora_frame(ctx, rng, len(person_flags))
            meshes = [mesh for _, _, _, mesh in persons]
            name_720p = f"{stem}.png" if split == "test" else f"{stem}_1280x720.png"
            bkg = background(*AGORA_720P, rng)
            colors = contrast_colors(bkg, len(persons))  # the crops use the frame's colours
            frame_img = render_silhouettes(meshes, faces, focal * small, princpt * small, bkg,
                                           colors)  # fmt: skip
            ctx.write_image(frame_img, "AGORA", "data", "images_1280x720", folder, name_720p)
            cam_rel = f"cam_params/{folder}/{stem}.json"
            if split != "test":
                ctx.write_json({"focal": to_list(focal), "princpt": to_list(princpt)},
                               "AGORA", "data", *cam_rel.split("/"))  # fmt: skip
                images.append({
                    "id": image_id,
                    "file_name_3840x2160": f"images_3840x2160/{folder}/{stem}.png",
                    "file_name_1280x720": f"images_1280x720/{folder}/{name_720p}",
                })  # fmt: skip
            for person_id, ((pose, betas, transl, mesh), (valid, cropped)) in enumerate(
                zip(persons, person_flags)
            ):
                box = tight_bbox(project(mesh, focal, princpt), margin=0.1)  # tight x 1.2
                if cropped:
                    affine, box_adjusted = agora_crop_affine(box)
                    crop_focal = focal * affine[[0, 1], [0, 1]]
                    crop_princpt = princpt * affine[[0, 1], [0, 1]] + affine[:, 2]
                    # The crop's background is cut from the frame's (720p px -> crop px).
                    crop_bkg = cv2.warpAffine(
                        bkg,
                        affine @ np.diag([1 / small, 1 / small, 1]),
                        AGORA_CROP[::-1],
                        flags=cv2.INTER_LINEAR,
                    )
                    crop = render_silhouettes(meshes, faces, crop_focal, crop_princpt, crop_bkg,
                                              colors)  # fmt: skip
                    crop_name = f"{stem}_person_id_{person_id}"
                    crop_dir = ("AGORA", "data", "images_3840x2160", f"{folder}_crop")
                    ctx.write_image(crop, *crop_dir, f"{crop_name}.png")
                    ctx.write_json({
                        "bbox_orig": box_adjusted, AGORA_CROP_KEY[split]: to_list(affine),
                        "resized_height": AGORA_CROP[0], "resized_width": AGORA_CROP[1],
                    }, *crop_dir, f"{crop_name}.json")  # fmt: skip
                if split == "test":
                    test_boxes.setdefault(f"{stem}.png", []).append({"bbox": box})
                    counts["test_4k"] += int(cropped)
                    counts["test_720p"] += 1
                    continue
                param_rel = f"smpl_params_cam/{folder}/{stem}/{person_id}.json"
                ctx.write_json({
                    "global_orient": to_list(pose[:3]), "body_pose": to_list(pose[3:]),
                    "betas": to_list(betas), "transl": to_list(transl),
                }, "AGORA", "data", *param_rel.split("/"))  # fmt: skip
                annotations.append({
                    "id": ann_id, "image_id": image_id, "person_id": person_id,
                    "smpl_param_path": f"./{param_rel}", "cam_param_path": f"./{cam_rel}",
                    "gender": "female" if person_id % 2 else "male", "kid": False,
                    "occlusion": float(rng.uniform(0, 30)), "is_valid": valid, "age": "31-50",
                    "ethnicity": "white", "bbox": box,
                })  # fmt: skip
                ann_id += 1
                if split == "train":
                    counts["train_4k"] += int(valid and cropped)
                    counts["train_720p"] += int(valid)
                else:
                    counts["validation"] += int(valid and cropped)
            if split != "test":
                image_id += 1
        if split != "test":
            ctx.write_json({"images": images, "annotations": annotations},
                           "AGORA", "data", f"AGORA_{split}_SMPL.json")  # fmt: skip
    ctx.write_json(test_boxes, "AGORA", "data", "AGORA_test_bbox.json")
    return {"root": osp.join(ctx.data_dir, "AGORA"), "samples": counts}


WRITERS = {"MPII": write_mpii, "MPI_INF_3DHP": write_mpi_inf_3dhp, "AGORA": write_agora}
