"""Write the demo samples ``assets/{body,hand,face}_sample.png`` and their boxes from stand-ins.

Usage: ``python tool/make_samples.py [--out_dir assets]``. The stand-in human models
(``tool/make_standin_models.py``) are built in a temporary folder, posed, rendered over a plain
synthetic background (no third-party photos) and tinted; each image comes with
``<part>_sample.json`` in the demos' ``--bbox_json`` format holding integer boxes around the
rendered person, hands or head. Each PNG is 640 x 480 and well under 200 KB.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from main.config import ROOT_DIR  # noqa: E402

IMAGE_HEIGHT, IMAGE_WIDTH = 480, 640
FOCAL = 1000.0  # px, the sample camera
SKIN_RGB = np.array([226.0, 178.0, 148.0])
# SMPL / FLAME / MANO are y-up and face +z; the OpenCV camera is y-down and looks along +z.
UPRIGHT_FACING_CAMERA = (np.pi, 0.0, 0.0)  # axis-angle: 180 degrees about x


def _background() -> np.ndarray:
    """(H, W, 3) RGB float: a wall with a vertical gradient above a darker floor."""
    rows = np.linspace(0.0, 1.0, IMAGE_HEIGHT)[:, None, None]
    wall = np.array([150.0, 180.0, 205.0]) * (1 - 0.25 * rows)
    floor = np.array([120.0, 100.0, 80.0]) * (1.2 - 0.4 * rows)
    img = np.where(rows < 0.72, wall, floor)
    return np.broadcast_to(img, (IMAGE_HEIGHT, IMAGE_WIDTH, 3)).copy()


def _place(vertices: np.ndarray, centre_px: tuple[float, float], height_px: float) -> np.ndarray:
    """Translate a mesh so that it is ``height_px`` tall and centred at ``centre_px`` (image px)."""
    lo, hi = vertices.min(0), vertices.max(0)
    depth = FOCAL * (hi[1] - lo[1]) / height_px
    centred = vertices - (lo + hi) / 2
    offset = [
        (centre_px[0] - IMAGE_WIDTH / 2) / FOCAL * depth,
        (centre_px[1] - IMAGE_HEIGHT / 2) / FOCAL * depth,
        depth,
    ]
    return centred + np.asarray(offset)


def _draw(img: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> list[int]:
    """Render the mesh into ``img`` (in place), skin-tinted; returns its integer box x, y, w, h."""
    from common.utils.render import render_mesh

    cam = {"focal": (FOCAL, FOCAL), "princpt": (IMAGE_WIDTH / 2, IMAGE_HEIGHT / 2)}
    rendered = render_mesh(img, vertices, faces, cam)
    covered = np.any(rendered != img, axis=2)
    grey = rendered[covered][:, :1] / 204.0  # the renderer's grey, 0.625 ... 1.0
    img[covered] = grey * SKIN_RGB
    rows, cols = np.nonzero(covered)
    pad = 4
    x0, y0 = max(0, cols.min() - pad), max(0, rows.min() - pad)
    x1, y1 = min(IMAGE_WIDTH, cols.max() + 1 + pad), min(IMAGE_HEIGHT, rows.max() + 1 + pad)
    return [int(x0), int(y0), int(x1 - x0), int(y1 - y0)]


def _vertices(layer, **params: np.ndarray) -> np.ndarray:
    import torch

    tensors = {k: torch.tensor(np.asarray(v, np.float32)[None]) for k, v in params.items()}
    with torch.no_grad():
        return layer(**tensors).vertices[0].numpy().astype(np.float64)


def make_samples(out_dir: str, human_model_path: str) -> dict[str, dict[str, list[int]]]:
    """Render the three samples into ``out_dir``; returns part -> {box key: [x, y, w, h]}."""
    from common.utils.human_models import get_flame, get_mano, get_smpl
    from common.utils.image_io import save_image

    os.makedirs(out_dir, exist_ok=True)
    boxes: dict[str, dict[str, list[int]]] = {}

    # Body: standing, arms lowered 60 degrees from the T-pose.
    smpl = get_smpl(human_model_path)
    body_pose = np.zeros(69)
    body_pose[15 * 3 + 2] = -1.05  # left shoulder (joint 16), about z
    body_pose[16 * 3 + 2] = 1.05  # right shoulder (joint 17)
    verts = _vertices(
        smpl.layer("neutral"),
        global_orient=UPRIGHT_FACING_CAMERA,
        body_pose=body_pose,
        betas=np.zeros(10),
    )
    img = _background()
    boxes["body"] = {"bbox": _draw(img, _place(verts, (320, 250), 380), smpl.face)}
    save_image(osp.join(out_dir, "body_sample.png"), img)

    # Hands raised, fingers up, thumbs outwards: the right hand on the image's left, as for a
    # person facing the camera. After the upright flip, a quarter turn about the camera axis
    # points the fingers up the image and one about the vertical axis turns the palm to the
    # camera (mirrored for the left hand).
    mano = get_mano(human_model_path)
    img = _background()
    boxes["hand"] = {}
    for side, key, centre, turn in (
        ("right", "rhand_bbox", (250, 250), np.pi / 2),
        ("left", "lhand_bbox", (400, 230), -np.pi / 2),
    ):
        orient = (
            Rotation.from_rotvec([0, turn, 0])
            * Rotation.from_rotvec([0, 0, turn])
            * Rotation.from_rotvec(UPRIGHT_FACING_CAMERA)
        )
        verts = _vertices(
            mano.layer(side),
            global_orient=orient.as_rotvec(),
            hand_pose=np.zeros(45),  # the mean (relaxed) pose: flat_hand_mean is off
            betas=np.zeros(10),
        )
        boxes["hand"][key] = _draw(img, _place(verts, centre, 130), mano.face[side])
    save_image(osp.join(out_dir, "hand_sample.png"), img)

    # Face: a head in the upper middle of the image.
    flame = get_flame(human_model_path)
    zero = np.zeros(3)
    verts = _vertices(
        flame.layer(),
        global_orient=UPRIGHT_FACING_CAMERA,
        neck_pose=zero,
        jaw_pose=np.array([0.12, 0.0, 0.0]),  # mouth slightly open
        leye_pose=zero,
        reye_pose=zero,
        betas=np.zeros(10),
        expression=np.zeros(10),
    )
    img = _background()
    boxes["face"] = {"bbox": _draw(img, _place(verts, (330, 200), 190), flame.face)}
    save_image(osp.join(out_dir, "face_sample.png"), img)

    for part, part_boxes in boxes.items():
        with open(osp.join(out_dir, f"{part}_sample.json"), "w") as f:
            json.dump({f"{part}_sample.png": part_boxes}, f)
            f.write("\n")
    return boxes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out_dir", default=osp.join(ROOT_DIR, "assets"))
    args = parser.parse_args(argv)
    from tool.standin import make_standin_models

    with tempfile.TemporaryDirectory() as models:
        make_standin_models(models)
        boxes = make_samples(args.out_dir, models)
    for part, part_boxes in boxes.items():
        print(f"{part}: {osp.join(args.out_dir, part + '_sample.png')} {part_boxes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
