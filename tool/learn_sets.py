"""The renders of ``tool/learn_renders.py`` written as real data sets, for ``tool/bench_learn.py``.

Layouts (the loaders read them unchanged):

* training renders as Human3.6M subjects 1, 5, 6, 7, 8 with their SMPL fits: every frame index a
  multiple of 5, one camera per render with identity extrinsics (``R = I``, ``t = 0``: the world
  frame is the render's camera frame) and the render's intrinsics, joints regressed from the mesh
  by the stand-in H36M regressor, and ``J_regressor_h36m_smpl.npy``;
* evaluation renders as 3DPW ``3DPW_test.json`` (camera-frame SMPL fits, neutral gender), whose
  ``evaluate`` returns MPJPE, PA-MPJPE, MPVPE and PA-MPVPE.

One ``--out`` folder holds ``data/`` (Human3.6M training renders, 3DPW held-out renders),
``data_train_eval/`` (3DPW copy of the first training renders, images hard-linked) and
``renders.json`` (the settings and the training set's mean SMPL parameters).
"""

from __future__ import annotations

import json
import logging
import math
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from tool.learn_renders import IMG_SIZE, BodyRender, render_set
from tool.make_fixtures import (
    FixtureContext,
    coco_json,
    project,
    tight_bbox,
    to_list,
    write_h36m_regressor,
)

logger = logging.getLogger(__name__)

# 3DPW evaluate keys and labels, mm
METRICS = (("mpjpe", "MPJPE"), ("pa_mpjpe", "PA-MPJPE"), ("mpvpe", "MPVPE"),
           ("pa_mpvpe", "PA-MPVPE"))  # fmt: skip
SETS = (("train", "training renders"), ("heldout", "held-out renders"))  # result keys, labels
JPEG_QUALITY = 90
TRAIN_SUBJECTS = (1, 5, 6, 7, 8)
H36M_TRAIN_STRIDE = 5  # the Human36M loader keeps training frames with frame_idx % 5 == 0


@dataclass(frozen=True)
class RenderSettings:
    """What the renders depend on. ``listed``: training samples the Human3.6M files list (each
    render repeated), so that one epoch can hold more iterations than a pass over the renders."""

    train_renders: int
    heldout_renders: int
    train_eval: int  # training renders evaluated (the first ones)
    listed: int
    render_seed: int


@dataclass(frozen=True)
class Paths:
    """Folders of one ``--out``; ``models`` is the human model folder used (made or given)."""

    out: str
    models: str

    @property
    def data(self) -> str:
        return osp.join(self.out, "data")

    @property
    def data_train_eval(self) -> str:
        return osp.join(self.out, "data_train_eval")

    @property
    def manifest(self) -> str:
        return osp.join(self.out, "renders.json")


def make_paths(out: str, human_model_path: str | None) -> Paths:
    """Folders of ``out``; stand-in human models are made under it unless a folder is given."""
    out = osp.abspath(out)
    if human_model_path is not None:
        return Paths(out, osp.abspath(human_model_path))
    models = osp.join(out, "human_model_files")
    if not osp.isfile(osp.join(models, "smpl", "SMPL_NEUTRAL.pkl")):
        from tool.standin import make_standin_models

        make_standin_models(models)
    return Paths(out, models)


def write_jpeg(ctx: FixtureContext, img: np.ndarray, *parts: str) -> str:
    path = ctx.path(*parts)
    ok = cv2.imwrite(path, np.ascontiguousarray(img[:, :, ::-1]),
                     [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])  # fmt: skip
    if not ok:
        raise OSError(f"could not write {path}")
    ctx.written.append(path)
    return path


def write_human36m_train(
    ctx: FixtureContext, renders: Sequence[BodyRender], regressor: np.ndarray, repeats: int = 1
) -> int:
    """Training renders as Human3.6M subjects 1, 5, 6, 7, 8; returns the number of listed samples.

    Render ``i`` goes to subject ``TRAIN_SUBJECTS[i % 5]``, frame ``5 * (i // 5)`` of action 2,
    subaction 1, camera ``i // 5 + 1`` (one camera per render: identity extrinsics, the render's
    intrinsics), so the world frame is the render's camera frame. The data file lists each render
    ``repeats`` times (image and annotation entries with their own ids, the same file and frame),
    so that one epoch can hold more samples than there are renders.
    """
    height, width = IMG_SIZE
    for s_idx, subject in enumerate(TRAIN_SUBJECTS):
        images, annotations = [], []
        cameras: dict[str, Any] = {}
        joints: dict[str, Any] = {"2": {"1": {}}}
        fits: dict[str, Any] = {"2": {"1": {}}}
        for i in range(s_idx, len(renders), len(TRAIN_SUBJECTS)):
            r, k = renders[i], i // len(TRAIN_SUBJECTS)
            frame, cam_idx = H36M_TRAIN_STRIDE * k, k + 1
            cameras[str(cam_idx)] = {"R": to_list(np.eye(3)), "t": [0.0, 0.0, 0.0],
                                     "f": to_list(r.focal), "c": to_list(r.princpt)}  # fmt: skip
            joints["2"]["1"][str(frame)] = to_list(regressor @ r.mesh * 1000)  # (17, 3) mm
            fits["2"]["1"][str(frame)] = {"pose": to_list(r.pose), "shape": to_list(r.betas),
                                          "trans": to_list(r.transl)}  # fmt: skip
            file_name = f"s_{subject:02d}_render/{i:06d}.jpg"
            write_jpeg(ctx, r.image, "Human36M", "images", file_name)
            bbox = tight_bbox(project(r.mesh, r.focal, r.princpt))
            for rep in range(repeats):
                entry = rep * len(renders) + i
                images.append({
                    "id": entry, "file_name": file_name, "width": width, "height": height,
                    "subject": subject, "action_idx": 2, "subaction_idx": 1, "frame_idx": frame,
                    "cam_idx": cam_idx,
                })  # fmt: skip
                annotations.append({"id": entry, "image_id": entry, "bbox": bbox})
        prefix = f"Human36M_subject{subject}"
        for kind, obj in (("data", coco_json(images, annotations)), ("camera", cameras),
                          ("joint_3d", joints), ("SMPL_NeuralAnnot", fits)):  # fmt: skip
            ctx.write_json(obj, "Human36M", "annotations", f"{prefix}_{kind}.json")
    return len(renders) * repeats


def write_pw3d_test(
    ctx: FixtureContext, renders: Sequence[BodyRender], images_from: Sequence[str] | None = None
) -> int:
    """Renders as 3DPW's ``3DPW_test.json`` (sequence ``renders``); returns the number written.

    ``images_from``: existing JPEG files of the same renders, hard-linked (copied where links
    are impossible) instead of encoded again.
    """
    height, width = IMG_SIZE
    images, annotations = [], []
    for i, r in enumerate(renders):
        file_name = f"image_{i:05d}.jpg"
        parts = ("PW3D", "data", "imageFiles", "renders", file_name)
        if images_from is None:
            write_jpeg(ctx, r.image, *parts)
        else:
            link_or_copy(images_from[i], ctx.path(*parts))
            ctx.written.append(ctx.path(*parts))
        images.append({"id": i, "file_name": file_name, "sequence": "renders", "width": width,
                       "height": height, "cam_param": {"focal": to_list(r.focal),
                                                       "princpt": to_list(r.princpt)}})  # fmt: skip
        annotations.append({
            "id": i, "image_id": i, "bbox": tight_bbox(project(r.mesh, r.focal, r.princpt)),
            "smpl_param": {"pose": to_list(r.pose), "shape": to_list(r.betas),
                           "trans": to_list(r.transl), "gender": "neutral"},
        })  # fmt: skip
    ctx.write_json(coco_json(images, annotations), "PW3D", "data", "3DPW_test.json")
    return len(renders)


def link_or_copy(src: str, dst: str) -> None:
    if osp.exists(dst):
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def folder_bytes(folders: Sequence[str]) -> int:
    seen, total = set(), 0
    for folder in folders:
        for base, _, files in os.walk(folder):
            for name in files:
                st = os.stat(osp.join(base, name))
                if st.st_ino not in seen:  # a hard-linked image counts once
                    seen.add(st.st_ino)
                    total += st.st_size
    return total


def mean_parameters(renders: Sequence[BodyRender]) -> tuple[np.ndarray, np.ndarray]:
    """Mean parameters of SMPL (or MANO) renders: ``(pose (72,) (MANO: 48): rotation mean of the
    roots, per-parameter mean of the rest of the pose; shape (10,))``."""
    poses = np.stack([r.pose for r in renders])
    root = Rotation.from_rotvec(poses[:, :3]).mean().as_rotvec()
    return np.concatenate([root, poses[:, 3:].mean(0)]), np.stack([r.betas for r in renders]).mean(
        0
    )


def prepare_renders(paths: Paths, s: RenderSettings) -> dict[str, Any]:
    """Render and write the data sets, or reuse them if ``renders.json`` has the same settings.

    Returns:
        The manifest: ``settings``, ``models``, ``repeats``, ``mean_pose`` (72), ``mean_shape``
        (10), ``size_mb`` (the two data folders).
    """
    from common.utils.human_models import get_smpl

    key = manifest_key(paths, s)
    reused = reused_manifest(paths, key)
    if reused is not None:
        return reused
    train, heldout = render_sets(render_set, get_smpl(paths.models), s)
    ctx = FixtureContext(paths.data, paths.models)
    regressor = write_h36m_regressor(ctx)
    repeats = max(1, math.ceil(s.listed / len(train)))
    write_human36m_train(ctx, train, regressor, repeats)
    write_pw3d_test(ctx, heldout)
    num_eval = min(s.train_eval, len(train))
    by_index = {int(osp.splitext(osp.basename(p))[0]): p for p in ctx.written
                if osp.basename(osp.dirname(p)).endswith("_render")}  # fmt: skip
    eval_ctx = FixtureContext(paths.data_train_eval, paths.models)
    write_pw3d_test(eval_ctx, train[:num_eval], [by_index[i] for i in range(num_eval)])
    write_h36m_regressor(eval_ctx)
    return write_manifest(paths, key, repeats, *mean_parameters(train))


def render_sets(
    render: Callable[[Any, int, int], list], model: Any, s: RenderSettings
) -> tuple[list, list]:
    """``(training, held-out)`` renders by ``render(model, count, seed)``, seeds ``render_seed``
    and ``render_seed + 1000``."""
    start = time.time()
    train = render(model, s.train_renders, s.render_seed)
    heldout = render(model, s.heldout_renders, s.render_seed + 1000)
    logger.info("%d renders in %.0f s", len(train) + len(heldout), time.time() - start)
    return train, heldout


def manifest_key(paths: Paths, s: RenderSettings, **extra: Any) -> dict[str, Any]:
    """What ``renders.json`` records of the settings (the model folder relative to ``out``
    when it lies inside it)."""
    models = osp.relpath(paths.models, paths.out)
    return {**s.__dict__, **extra, "models": paths.models if models.startswith("..") else models}


def reused_manifest(paths: Paths, key: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of renders made with the same ``key``; otherwise None, after removing the
    data folders of other renders."""
    if osp.isfile(paths.manifest):
        with open(paths.manifest) as f:
            manifest = json.load(f)
        if manifest.get("settings") == key:
            logger.info("reusing the renders in %s", paths.out)
            return manifest
    for folder in (paths.data, paths.data_train_eval):
        shutil.rmtree(folder, ignore_errors=True)
    return None


def write_manifest(
    paths: Paths, key: dict[str, Any], repeats: int, mean_pose: np.ndarray, mean_shape: np.ndarray
) -> dict[str, Any]:
    """Write and return ``renders.json``: settings, repeats, the training set's mean parameters
    and the size (MB) of the two data folders."""
    manifest = {
        "settings": key,
        "repeats": repeats,
        "mean_pose": mean_pose.tolist(),
        "mean_shape": mean_shape.tolist(),
        "size_mb": round(folder_bytes([paths.data, paths.data_train_eval]) / 2**20, 1),
    }
    with open(paths.manifest, "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def evaluate_mean_pose(paths: Paths, manifest: dict[str, Any], data_dir: str) -> dict[str, float]:
    """3DPW ``evaluate`` of the mean SMPL parameters predicted for every sample."""
    import torchvision.transforms as T

    from common.utils.human_models import get_smpl
    from data.registry import get_dataset_class
    from main.config import make_config

    cfg = make_config("body", human_model_path=paths.models, data_dir=data_dir, testset="PW3D")
    dataset = get_dataset_class("PW3D")(cfg, T.ToTensor(), "test")
    mesh = mean_mesh(get_smpl(paths.models).layer("neutral"), "body_pose", manifest)
    outs = [{"smpl_mesh_cam": mesh, "smpl_mesh_cam_target": dataset[i][1]["smpl_mesh_cam"]}
            for i in range(len(dataset))]  # fmt: skip
    return pw3d_summary(dataset.evaluate(outs, 0))


def mean_mesh(layer: Any, pose_key: str, manifest: dict[str, Any]) -> np.ndarray:
    """(V, 3) vertices, m, of the manifest's ``mean_pose`` (root, then the pose passed to the
    layer as ``pose_key``) and ``mean_shape`` through the smplx ``layer``, no translation."""
    import torch

    pose = torch.tensor(manifest["mean_pose"], dtype=torch.float32)[None]
    with torch.no_grad():
        out = layer(global_orient=pose[:, :3], **{pose_key: pose[:, 3:]},
                    betas=torch.tensor(manifest["mean_shape"], dtype=torch.float32)[None])  # fmt: skip
    return out.vertices[0].numpy()


def pw3d_summary(result: dict[str, list]) -> dict[str, float]:
    """Means (mm) of the :data:`METRICS` lists of 3DPW ``evaluate`` results."""
    return {key: float(np.mean(result[key])) for key, _ in METRICS}


def first_heldout_body(data_dir: str) -> tuple[str, list[float]]:
    """Image path and box ``[x, y, w, h]`` (px) of the first held-out render."""
    with open(osp.join(data_dir, "PW3D", "data", "3DPW_test.json")) as f:
        db = json.load(f)
    image = db["images"][0]
    folder = osp.join(data_dir, "PW3D", "data", "imageFiles", image["sequence"])
    return osp.join(folder, image["file_name"]), db["annotations"][0]["bbox"]


__all__ = [
    "METRICS",
    "Paths",
    "RenderSettings",
    "evaluate_mean_pose",
    "first_heldout_body",
    "folder_bytes",
    "link_or_copy",
    "make_paths",
    "manifest_key",
    "mean_mesh",
    "mean_parameters",
    "prepare_renders",
    "pw3d_summary",
    "render_sets",
    "reused_manifest",
    "write_human36m_train",
    "write_jpeg",
    "write_manifest",
    "write_pw3d_test",
]
