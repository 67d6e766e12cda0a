"""Small data sets in the real on-disk formats, generated from the (stand-in) human models.

``python tool/make_fixtures.py DATA_DIR --human_model_path DIR [--datasets Human36M,PW3D]``

Every data set gets a few samples per split in its real folder layout and file formats (COCO-style
JSON, NeuralAnnot parameter JSON, camera JSON, joint JSON, JPEG images) with known ground truth:
the labels are computed from SMPL fits run through the human models in ``--human_model_path``,
and each image shows the silhouette of the same meshes, projected with the same camera and filled
triangle by triangle with OpenCV (no OpenGL), so picture and labels agree. Samples are placed so
that each data set's selection rules (subjects, frame strides, cameras, empty boxes) keep some and
drop others. Deterministic; takes seconds.

Adding a data set: write ``_write_<name>(ctx) -> dict`` with the shared helpers below (the writers
live in ``tool/fixtures_*.py``) and register it in :data:`FIXTURE_WRITERS`.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, Callable, Iterable, Sequence  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.utils.human_models import SMPL, get_smpl  # noqa: E402
from common.utils.keypoints import H36M_JOINTS_NAME  # noqa: E402
from data.metrics import H36M_REGRESSOR_FILE  # noqa: E402

logger = logging.getLogger(__name__)

FIXTURE_INFO = {"description": "Pose2Pose test fixture generated from stand-in human models"}

# ---- shared helpers ------------------------------------------------------------------------


@dataclass
class FixtureContext:
    """What every writer needs: output root, human models, a record of written files."""

    data_dir: str
    human_model_path: str
    written: list[str] = field(default_factory=list)

    @property
    def smpl(self):
        return get_smpl(self.human_model_path)

    def path(self, *parts: str) -> str:
        """Absolute path under ``data_dir``; parent folders are created."""
        path = osp.join(self.data_dir, *parts)
        os.makedirs(osp.dirname(path), exist_ok=True)
        return path

    def write_json(self, obj: Any, *parts: str) -> str:
        path = self.path(*parts)
        with open(path, "w") as f:
            json.dump(obj, f)
        self.written.append(path)
        return path

    def write_image(self, img_rgb: np.ndarray, *parts: str) -> str:
        """Write an (H, W, 3) uint8 RGB image (JPEG or PNG by extension)."""
        path = self.path(*parts)
        if not cv2.imwrite(path, np.ascontiguousarray(img_rgb[:, :, ::-1])):
            raise OSError(f"could not write {path}")
        self.written.append(path)
        return path

    def write_npy(self, array: np.ndarray, *parts: str) -> str:
        path = self.path(*parts)
        np.save(path, array)
        self.written.append(path)
        return path


def coco_json(images: list[dict], annotations: list[dict]) -> dict[str, Any]:
    """A COCO-style dictionary with ``info``, ``images`` and ``annotations``."""
    return {"info": FIXTURE_INFO, "images": images, "annotations": annotations}


def to_list(array: np.ndarray) -> list:
    """float32-exact nested list for JSON (values as Python floats)."""
    return np.asarray(array, dtype=np.float64).tolist()


def look_at(cam_pos: Sequence[float], target: Sequence[float], up: Sequence[float]) -> tuple:
    """World -> camera extrinsics of a camera at ``cam_pos`` looking at ``target``.

    OpenCV camera axes (x right, y down, z forward); ``X_cam = R X_world + t``.

    Returns:
        ``(R (3, 3), t (3,))`` in the unit of the inputs.
    """
    cam_pos, target, up = (np.asarray(v, dtype=np.float64) for v in (cam_pos, target, up))
    forward = target - cam_pos
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    return R, -R @ cam_pos


def ring_camera(
    rng: np.random.Generator,
    azimuth_deg: float,
    jitter_deg: float,
    radius: float,
    height: float,
    focal_range: tuple[float, float],
    img_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A studio camera on a circle about the world z axis (z up, mm), looking at (0, 0, 900).

    Draws from ``rng``, in this order: the azimuth jitter, the focal lengths, the principal
    point offset (each uniform).

    Args:
        azimuth_deg: azimuth before the jitter, degrees; ``jitter_deg``: its uniform range, +-.
        radius, height: the camera position's distance from the z axis and its z, mm.
        focal_range: (low, high) of the two focal lengths, px.
        img_size: (H, W) of the images, px; the principal point is the centre +- 4 px.

    Returns:
        ``(R (3, 3), t (3,) mm, focal (2,) px, princpt (2,) px)``.
    """
    azimuth = np.deg2rad(azimuth_deg + rng.uniform(-jitter_deg, jitter_deg))
    pos = np.array([radius * np.cos(azimuth), radius * np.sin(azimuth), height])
    R, t = look_at(pos, (0.0, 0.0, 900.0), (0.0, 0.0, 1.0))
    focal = rng.uniform(*focal_range, size=2)
    princpt = np.array(img_size[::-1]) / 2 + rng.uniform(-4, 4, size=2)
    return R, t, focal, princpt


def project(points: np.ndarray, focal: Sequence[float], princpt: Sequence[float]) -> np.ndarray:
    """(N, 3) camera points -> (N, 2) pixels."""
    return points[:, :2] / points[:, 2:3] * np.asarray(focal) + np.asarray(princpt)


def background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth coloured gradient with mild noise, (H, W, 3) float32 RGB in [0, 255]."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(60, 160, size=3).astype(np.float32)
    img = base + 40 * np.stack([xx / width, yy / height, 1 - xx / width], axis=2)
    return img + rng.normal(0, 4, size=img.shape).astype(np.float32)


def render_silhouettes(
    meshes_cam: Sequence[np.ndarray],
    faces: np.ndarray,
    focal: Sequence[float],
    princpt: Sequence[float],
    img: np.ndarray,
    colors: Sequence[Sequence[float]],
) -> np.ndarray:
    """Paint camera-frame meshes onto ``img`` with Lambert-shaded, depth-sorted triangles.

    Args:
        meshes_cam: (V, 3) vertex arrays in the camera frame (m, in front of the camera).
        faces: (F, 3) triangle indices.
        focal, princpt: pinhole intrinsics, px.
        img: (H, W, 3) float RGB background (not modified).
        colors: one RGB base colour per mesh.

    Returns:
        (H, W, 3) uint8 RGB image.
    """
    canvas = np.clip(img, 0, 255).astype(np.uint8).copy()
    tris, depth, shade = [], [], []
    for verts, color in zip(meshes_cam, colors):
        tri = verts[faces]  # (F, 3, 3)
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
        view = -tri.mean(1) / np.linalg.norm(tri.mean(1), axis=1, keepdims=True)
        light = 0.35 + 0.65 * np.abs(np.sum(normal * view, axis=1))
        tris.append(project(tri.reshape(-1, 3), focal, princpt).reshape(-1, 3, 2))
        depth.append(tri[:, :, 2].mean(1))
        shade.append(light[:, None] * np.asarray(color, dtype=np.float64)[None])
    tris_px, depth_all, shade_all = (
        np.concatenate(tris),
        np.concatenate(depth),
        np.concatenate(shade),
    )
    pts = np.round(tris_px * 16).astype(np.int32)  # 4 fractional bits (shift=4)
    for i in np.argsort(-depth_all):  # far to near
        cv2.fillConvexPoly(canvas, pts[i], shade_all[i].tolist(), cv2.LINE_AA, 4)
    return canvas


def tight_bbox(points_2d: np.ndarray, margin: float = 0.05) -> list[float]:
    """``[x, y, w, h]`` around the points, grown by ``margin`` of the size on every side."""
    x0, y0 = points_2d.min(0)
    x1, y1 = points_2d.max(0)
    w, h = x1 - x0, y1 - y0
    return [float(x0 - margin * w), float(y0 - margin * h), float(w * (1 + 2 * margin)),
            float(h * (1 + 2 * margin))]  # fmt: skip


def random_body_pose(rng: np.random.Generator, scale: float = 0.25) -> np.ndarray:
    """(69,) SMPL body pose (23 joints, axis-angle): small random bends, hand joints zero."""
    pose = rng.normal(0.0, scale, size=(23, 3))
    pose[-2:] = 0.0  # L_Hand, R_Hand are not estimated by Pose2Pose
    return pose.reshape(-1)


def smpl_mesh(
    ctx: FixtureContext,
    global_orient: np.ndarray,
    body_pose: np.ndarray,
    betas: np.ndarray,
    transl: np.ndarray,
    gender: str = "neutral",
) -> np.ndarray:
    """(6890, 3) float64 vertices (m) of the SMPL layer of ``gender``."""

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.asarray(x, dtype=np.float32).reshape(1, -1))

    with torch.no_grad():
        out = ctx.smpl.layer(gender)(
            global_orient=tensor(global_orient), body_pose=tensor(body_pose),
            betas=tensor(betas), transl=tensor(transl),
        )  # fmt: skip
    return out.vertices[0].numpy().astype(np.float64)


def h36m_regressor(ctx: FixtureContext) -> np.ndarray:
    """Stand-in (17, 6890) H36M-joint regressor: SMPL joint rows, head top from the crown.

    Rows are non-negative and sum to 1 (the real file's rows sum to 0.9996-1.0000).
    """
    smpl = ctx.smpl
    orig = np.asarray(smpl.orig_joint_regressor, dtype=np.float64)  # (24, 6890)
    orig_index = {name: i for i, name in enumerate(SMPL.orig_joints_name)}
    template = smpl.layer("neutral").v_template.detach().numpy().astype(np.float64)
    crown = np.argsort(-template[:, 1])[:6]  # the six highest vertices (SMPL's y is up)
    regressor = np.zeros((len(H36M_JOINTS_NAME), orig.shape[1]))
    for j, name in enumerate(H36M_JOINTS_NAME):
        if name == "Head_top":
            regressor[j, crown] = 1.0 / len(crown)
            continue
        regressor[j] = orig[orig_index[name]]  # every other H36M name is an SMPL joint name
    return regressor / regressor.sum(1, keepdims=True)


def write_h36m_regressor(ctx: FixtureContext) -> np.ndarray:
    """Write (once) ``<data_dir>/Human36M/J_regressor_h36m_smpl.npy`` and return it."""
    path = osp.join(ctx.data_dir, "Human36M", H36M_REGRESSOR_FILE)
    if osp.isfile(path) and path in ctx.written:
        return np.load(path)
    regressor = h36m_regressor(ctx)
    ctx.write_npy(regressor, "Human36M", H36M_REGRESSOR_FILE)
    return regressor


# ---- entry points ----------------------------------------------------------------------------


def _lazy_writer(module: str, name: str) -> Callable[[FixtureContext], dict[str, Any]]:
    """Writer ``WRITERS[name]`` of ``module``, imported when called (it imports this module)."""

    def write(ctx: FixtureContext) -> dict[str, Any]:
        from importlib import import_module

        return import_module(module).WRITERS[name](ctx)

    return write


FIXTURE_WRITERS: dict[str, Callable[[FixtureContext], dict[str, Any]]] = {
    "Human36M": _lazy_writer("tool.fixtures_h36m_pw3d", "Human36M"),
    "PW3D": _lazy_writer("tool.fixtures_h36m_pw3d", "PW3D"),
    "MPII": _lazy_writer("tool.fixtures_body", "MPII"),
    "MPI_INF_3DHP": _lazy_writer("tool.fixtures_body", "MPI_INF_3DHP"),
    "AGORA": _lazy_writer("tool.fixtures_body", "AGORA"),
    "MSCOCO": _lazy_writer("tool.fixtures_mscoco", "MSCOCO"),
    "FreiHAND": _lazy_writer("tool.fixtures_hand_face", "FreiHAND"),
    "InterHand26M": _lazy_writer("tool.fixtures_hand_face", "InterHand26M"),
    "FFHQ": _lazy_writer("tool.fixtures_hand_face", "FFHQ"),
}


def make_fixtures(
    data_dir: str, human_model_path: str, datasets: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Write fixture data sets under ``data_dir`` (the layout ``cfg.data_dir`` expects).

    Args:
        data_dir: output root; ``<data_dir>/<Name>/...`` is created.
        human_model_path: folder of the SMPL/MANO/FLAME files (stand-ins or real).
        datasets: names to write (default: every name in :data:`FIXTURE_WRITERS`).

    Returns:
        ``{name: {'root': folder, 'samples': {split: kept samples}, 'files': [paths]}}``.

    Raises:
        ValueError: a name without a fixture writer.
    """
    names = list(FIXTURE_WRITERS) if datasets is None else list(datasets)
    unknown = [name for name in names if name not in FIXTURE_WRITERS]
    if unknown:
        raise ValueError(
            f"no fixture writer for {', '.join(unknown)}; available: {', '.join(FIXTURE_WRITERS)}"
        )
    ctx = FixtureContext(osp.abspath(data_dir), osp.abspath(human_model_path))
    result = {}
    for name in names:
        first = len(ctx.written)
        result[name] = FIXTURE_WRITERS[name](ctx)
        result[name]["files"] = ctx.written[first:]
        logger.info("%s: %d files under %s", name, len(result[name]["files"]), result[name]["root"])
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", help="output folder (use it as --data_dir of train/test)")
    parser.add_argument("--human_model_path", required=True, help="SMPL/MANO/FLAME folder")
    parser.add_argument("--datasets", default=None, help="comma-separated names (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = (
        None
        if args.datasets is None
        else [n.strip() for n in args.datasets.split(",") if n.strip()]
    )
    try:
        make_fixtures(args.data_dir, args.human_model_path, names)
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
