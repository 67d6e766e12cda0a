"""Fixture writers of Human3.6M and 3DPW (the first two body data sets).

Registered (as :data:`WRITERS`) in :data:`tool.make_fixtures.FIXTURE_WRITERS`; run them with
``python tool/make_fixtures.py DATA_DIR --human_model_path DIR --datasets Human36M,PW3D``.
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from tool.make_fixtures import (
    FixtureContext,
    background,
    coco_json,
    project,
    random_body_pose,
    render_silhouettes,
    ring_camera,
    smpl_mesh,
    tight_bbox,
    to_list,
    write_h36m_regressor,
)

# ---- Human3.6M -------------------------------------------------------------------------------

H36M_SUBJECTS = (1, 5, 6, 7, 8, 9, 11)
H36M_IMG_SIZE = (256, 256)  # (H, W); the real images are about 1000 x 1000
# (subject, action, subaction, frame, cam, kept?) with the reason a sample is dropped.
H36M_SAMPLES = (
    (1, 2, 1, 0, 1, "train"),
    (1, 2, 1, 5, 3, "train"),
    (1, 2, 1, 3, 1, "dropped: frame % 5 != 0"),
    (5, 4, 2, 10, 2, "train"),
    (5, 4, 2, 15, 2, "dropped: empty box"),
    (9, 2, 1, 0, 4, "test"),
    (9, 2, 1, 0, 2, "dropped: camera != 4"),
    (9, 2, 1, 64, 4, "test"),
    (9, 2, 1, 32, 4, "dropped: frame % 64 != 0"),
    (11, 3, 2, 128, 4, "test"),
)


def _h36m_cameras(rng: np.random.Generator) -> dict[str, dict[str, list]]:
    """Four cameras on a circle around the capture volume (world z up, mm)."""
    cameras = {}
    for cam_idx in range(1, 5):
        R, t, focal, princpt = ring_camera(
            rng, -90 + 70 * (cam_idx - 1), 10, 3500, 1300.0, (300, 340), H36M_IMG_SIZE
        )
        cameras[str(cam_idx)] = {"R": to_list(R), "t": to_list(t), "f": to_list(focal),
                                 "c": to_list(princpt)}  # fmt: skip
    return cameras


def _write_human36m(ctx: FixtureContext) -> dict[str, Any]:
    rng = np.random.default_rng(36)
    regressor = write_h36m_regressor(ctx)
    faces = np.asarray(ctx.smpl.face)
    up = Rotation.from_euler("x", 90, degrees=True)  # SMPL's y-up body stands on the z-up floor
    counts = {"train": 0, "test": 0}
    for subject in H36M_SUBJECTS:
        cameras = _h36m_cameras(rng)
        images, annotations = [], []
        joints: dict[str, Any] = {}
        fits: dict[str, Any] = {}
        meshes: dict[tuple, np.ndarray] = {}
        for sample_id, (subj, action, subaction, frame, cam_idx, kept) in enumerate(H36M_SAMPLES):
            if subj != subject:
                continue
            key = (str(action), str(subaction), str(frame))
            if key not in meshes:
                yaw = Rotation.from_euler("z", rng.uniform(-40, 40), degrees=True)
                root = (yaw * up).as_rotvec()
                body = random_body_pose(rng)
                betas = rng.normal(0, 0.8, size=10)
                if (subject, frame) == (1, 5):
                    betas[0] = 3.5  # exercises the shape clamp of the training targets
                transl = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), 0.0])
                mesh = smpl_mesh(ctx, root, body, betas, transl)  # world, m
                transl[2] += 0.95 - mesh[:, 2].mean()  # stand the body up around 0.95 m
                mesh = smpl_mesh(ctx, root, body, betas, transl)
                meshes[key] = mesh
                fits.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = {
                    "pose": to_list(np.concatenate([root, body])),
                    "shape": to_list(betas),
                    "trans": to_list(transl),
                }
                joints.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = to_list(
                    regressor @ mesh * 1000
                )  # (17, 3) world mm, consistent with the mesh
            cam = cameras[str(cam_idx)]
            R, t = np.array(cam["R"]), np.array(cam["t"]) / 1000
            mesh_cam = meshes[key] @ R.T + t
            seq = f"s_{subject:02d}_act_{action:02d}_subact_{subaction:02d}_ca_{cam_idx:02d}"
            file_name = f"{seq}/{seq}_{frame + 1:06d}.jpg"
            img = render_silhouettes(
                [mesh_cam], faces, cam["f"], cam["c"],
                background(*H36M_IMG_SIZE, rng), [(200, 170, 150)],
            )  # fmt: skip
            ctx.write_image(img, "Human36M", "images", file_name)
            bbox = tight_bbox(project(mesh_cam, cam["f"], cam["c"]))
            if kept == "dropped: empty box":
                bbox[2] = 0.0
            images.append({
                "id": sample_id, "file_name": file_name, "width": H36M_IMG_SIZE[1],
                "height": H36M_IMG_SIZE[0], "subject": subject, "action_idx": action,
                "subaction_idx": subaction, "frame_idx": frame, "cam_idx": cam_idx,
            })  # fmt: skip
            annotations.append({"id": sample_id, "image_id": sample_id, "bbox": bbox})
            if kept in counts:
                counts[kept] += 1
        prefix = ("Human36M", "annotations", f"Human36M_subject{subject}")
        ctx.write_json(coco_json(images, annotations), *prefix[:2], f"{prefix[2]}_data.json")
        ctx.write_json(cameras, *prefix[:2], f"{prefix[2]}_camera.json")
        ctx.write_json(joints, *prefix[:2], f"{prefix[2]}_joint_3d.json")
        ctx.write_json(fits, *prefix[:2], f"{prefix[2]}_SMPL_NeuralAnnot.json")
    return {"root": osp.join(ctx.data_dir, "Human36M"), "samples": counts}


# ---- 3DPW ------------------------------------------------------------------------------------

PW3D_IMG_SIZE = (320, 240)  # (H, W), portrait like the real 1920 x 1080 frames
# split -> images, each a list of (gender, kept?) persons.
PW3D_SAMPLES = {
    "test": [[("male", True)], [("female", True), ("male", True), ("female", False)]],
    "validation": [[("female", True)]],
    "train": [[("male", True), ("female", True)]],
}


def _write_pw3d(ctx: FixtureContext) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    write_h36m_regressor(ctx)  # 3DPW evaluation reads it from data/Human36M
    faces = np.asarray(ctx.smpl.face)
    upright = Rotation.from_euler("x", 180, degrees=True)  # y-up body -> y-down camera frame
    counts = {}
    for split, frames in PW3D_SAMPLES.items():
        images, annotations = [], []
        sequence = f"fixture_{split}_00"
        for frame, persons in enumerate(frames):
            image_id = 100 * len(split) + frame
            focal = rng.uniform(260, 300, size=2)
            princpt = np.array(PW3D_IMG_SIZE[::-1]) / 2 + rng.uniform(-3, 3, size=2)
            meshes, colors = [], []
            for p, (gender, kept) in enumerate(persons):
                x_offset = (p - (len(persons) - 1) / 2) * 0.9
                root = Rotation.from_euler("y", rng.uniform(-40, 40), degrees=True) * upright
                pose = np.concatenate([root.as_rotvec(), random_body_pose(rng)])
                betas = rng.normal(0, 0.8, size=10)
                transl = np.array([x_offset, rng.uniform(-0.1, 0.2), rng.uniform(3.0, 3.8)])
                mesh = smpl_mesh(ctx, pose[:3], pose[3:], betas, transl, gender)  # camera, m
                meshes.append(mesh)
                colors.append((90 + 60 * p, 160, 210 - 50 * p))
                bbox = tight_bbox(project(mesh, focal, princpt))
                if not kept:
                    bbox = [bbox[0], bbox[1], bbox[2], 0.0]  # empty box: dropped by the loader
                annotations.append({
                    "id": 10 * image_id + p, "image_id": image_id, "bbox": bbox,
                    "smpl_param": {"pose": to_list(pose), "shape": to_list(betas),
                                   "trans": to_list(transl), "gender": gender},
                })  # fmt: skip
            file_name = f"image_{frame:05d}.jpg"
            img = render_silhouettes(meshes, faces, focal, princpt,
                                     background(*PW3D_IMG_SIZE, rng), colors)  # fmt: skip
            ctx.write_image(img, "PW3D", "data", "imageFiles", sequence, file_name)
            images.append({
                "id": image_id, "file_name": file_name, "sequence": sequence,
                "width": PW3D_IMG_SIZE[1], "height": PW3D_IMG_SIZE[0],
                "cam_param": {"focal": to_list(focal), "princpt": to_list(princpt)},
            })  # fmt: skip
        ctx.write_json(coco_json(images, annotations), "PW3D", "data", f"3DPW_{split}.json")
        counts[split] = sum(kept for persons in frames for _, kept in persons)
    return {"root": osp.join(ctx.data_dir, "PW3D"), "samples": counts}


WRITERS = {"Human36M": _write_human36m, "PW3D": _write_pw3d}
