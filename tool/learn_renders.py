"""Synthetic body renders for ``tool/bench_learn.py`` (``tool/learn_sets.py`` writes them).

Each render shows the (stand-in) SMPL body in a random plausible pose and shape, seen by a random
camera under random lights over a random background, every body part in its own colour (left and
right parts share a colour and the back of each part is darker, so the colours stay consistent
with the labels when training mirrors a crop). Rendering uses pyrender off-screen (OSMesa on CPU
unless ``PYOPENGL_PLATFORM`` says otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from common.utils.mesh import vertex_normals

IMG_SIZE = (256, 256)  # (H, W) px of every render
UPRIGHT = Rotation.from_euler("x", 180, degrees=True)  # SMPL's y-up body -> camera y-down

# Per SMPL body joint (index into the 23 body-pose triplets, axis-angle about x, y, z):
# (low, high) radians of a uniform draw. Flexion-only joints (knees, elbows) have one-sided
# ranges; everything else is symmetric about zero.
_SPINE = ((-0.35, 0.35), (-0.35, 0.35), (-0.2, 0.2))
_SMALL = ((-0.15, 0.15),) * 3
POSE_LIMITS: dict[int, tuple[tuple[float, float], ...]] = {
    0: ((-1.0, 0.3), (-0.3, 0.3), (-0.1, 0.5)),  # L_Hip: forward swing is negative x
    1: ((-1.0, 0.3), (-0.3, 0.3), (-0.5, 0.1)),  # R_Hip
    2: _SPINE,
    3: ((0.0, 1.3), (0.0, 0.0), (0.0, 0.0)),  # L_Knee: flexion only
    4: ((0.0, 1.3), (0.0, 0.0), (0.0, 0.0)),  # R_Knee
    5: _SPINE,
    6: ((-0.3, 0.3), (-0.2, 0.2), (-0.2, 0.2)),  # ankles
    7: ((-0.3, 0.3), (-0.2, 0.2), (-0.2, 0.2)),
    8: _SPINE,
    9: _SMALL,  # feet
    10: _SMALL,
    11: ((-0.3, 0.4), (-0.4, 0.4), (-0.2, 0.2)),  # neck
    12: _SMALL,  # collars
    13: _SMALL,
    14: ((-0.3, 0.4), (-0.5, 0.5), (-0.2, 0.2)),  # head
    15: ((-0.4, 0.4), (-0.8, 0.8), (-1.3, 0.5)),  # L_Shoulder: negative z lowers the arm
    16: ((-0.4, 0.4), (-0.8, 0.8), (-0.5, 1.3)),  # R_Shoulder
    17: ((0.0, 0.0), (-1.8, 0.0), (0.0, 0.0)),  # L_Elbow: forward flexion is negative y
    18: ((0.0, 0.0), (0.0, 1.8), (0.0, 0.0)),  # R_Elbow
    19: ((-0.4, 0.4), (-0.3, 0.3), (-0.4, 0.4)),  # wrists
    20: ((-0.4, 0.4), (-0.3, 0.3), (-0.4, 0.4)),
    21: ((0.0, 0.0),) * 3,  # L_Hand, R_Hand: not estimated by Pose2Pose
    22: ((0.0, 0.0),) * 3,
}

# Colour of each of the 24 SMPL skinning parts (RGB 0-1); left and right parts share one.
_PART_GROUP = (0, 1, 1, 2, 3, 3, 2, 4, 4, 2, 5, 5, 6, 7, 7, 8, 9, 9, 10, 10, 11, 11, 11, 11)
_GROUP_RGB = (
    (0.85, 0.75, 0.20), (0.20, 0.45, 0.85), (0.90, 0.90, 0.88), (0.85, 0.25, 0.20),
    (0.30, 0.30, 0.35), (0.95, 0.55, 0.15), (0.55, 0.35, 0.75), (0.25, 0.70, 0.35),
    (0.95, 0.80, 0.65), (0.20, 0.75, 0.80), (0.80, 0.30, 0.60), (0.95, 0.80, 0.65),
)  # fmt: skip


@dataclass(frozen=True)
class BodyRender:
    """One render: its image and the ground truth (camera frame, m)."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    pose: np.ndarray  # (72,) SMPL axis-angle, root in the camera frame
    betas: np.ndarray  # (10,)
    transl: np.ndarray  # (3,) SMPL translation, m
    focal: np.ndarray  # (2,) px
    princpt: np.ndarray  # (2,) px
    mesh: np.ndarray  # (6890, 3) camera frame, m
    mask: np.ndarray  # (H, W) bool, pixels covered by the body


def random_pose(rng: np.random.Generator) -> np.ndarray:
    """(69,) SMPL body pose drawn uniformly inside :data:`POSE_LIMITS`."""
    pose = np.zeros((23, 3))
    for joint, limits in POSE_LIMITS.items():
        for axis, (low, high) in enumerate(limits):
            pose[joint, axis] = rng.uniform(low, high) if high > low else low
    return pose.reshape(-1)


def part_colors(lbs_weights: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(V, 3) float RGB vertex colours: the colour of the part with the largest skinning weight,
    darkened on the part's back side (template z below the part's mean z).

    Args:
        lbs_weights: (V, 24) skinning weights; template: (V, 3) rest vertices (y up, facing +z).
    """
    part = np.argmax(lbs_weights, axis=1)  # (V,)
    colors = np.asarray(_GROUP_RGB)[np.asarray(_PART_GROUP)[part]]
    centre_z = np.zeros(lbs_weights.shape[1])
    for p in np.unique(part):
        centre_z[p] = template[part == p, 2].mean()
    back = template[:, 2] < centre_z[part]
    colors[back] *= 0.55
    return colors


def random_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB: a tilted two-colour gradient with random boxes, discs and lines."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height + 1) / 2
    c0, c1 = rng.uniform(20, 235, size=(2, 3)).astype(np.float32)
    img = c0 + ramp[..., None] * (c1 - c0)
    for _ in range(rng.integers(3, 9)):
        color = rng.uniform(0, 255, size=3).tolist()
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(8, max(9, width // 3)))
        kind = rng.integers(0, 3)
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + size, y + int(rng.integers(8, height // 2))), color, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), size // 2, color, -1, cv2.LINE_AA)
        else:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(img, (x, y), end, color, int(rng.integers(2, 8)), cv2.LINE_AA)
    img += rng.normal(0, rng.uniform(1, 4), size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


class BodyRenderer:
    """Random renders of one SMPL layer on one reused off-screen context (close it after use)."""

    pose_key = "body_pose"  # the layer's keyword for the pose after the root

    def __init__(self, smpl: Any, img_size: Sequence[int] = IMG_SIZE) -> None:
        layer = smpl.layer("neutral")
        template = layer.v_template.detach().numpy().astype(np.float64)
        colors = part_colors(layer.lbs_weights.detach().numpy(), template)
        self._open(layer, np.asarray(smpl.face), colors, img_size)

    def _open(
        self, layer: Any, faces: np.ndarray, colors: np.ndarray, img_size: Sequence[int]
    ) -> None:
        """Keep the layer, its (F, 3) faces and (V, 3) vertex colours; open the GL context."""
        from common.utils.render import _load_triton_before_mesa, _select_gl_platform

        _select_gl_platform()
        _load_triton_before_mesa()
        import pyrender

        self.pyrender = pyrender
        self.layer, self.faces, self.colors = layer, faces, colors
        self.height, self.width = img_size
        self.renderer = pyrender.OffscreenRenderer(self.width, self.height)

    def close(self) -> None:
        self.renderer.delete()

    def mesh(self, pose: np.ndarray, betas: np.ndarray, transl: np.ndarray) -> np.ndarray:
        """(V, 3) float64 vertices, m, of the layer (SMPL neutral: 6890) for the root and pose."""

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.tensor(np.asarray(x, dtype=np.float32).reshape(1, -1))

        with torch.no_grad():
            out = self.layer(global_orient=tensor(pose[:3]), **{self.pose_key: tensor(pose[3:])},
                             betas=tensor(betas), transl=tensor(transl))  # fmt: skip
        return out.vertices[0].numpy().astype(np.float64)

    def sample(self, rng: np.random.Generator) -> BodyRender:
        """A random body, camera, light and background; the body fills 55-90% of the height."""
        root = (
            Rotation.from_euler("z", rng.uniform(-10, 10), degrees=True)  # camera roll
            * Rotation.from_euler("x", rng.uniform(-10, 30), degrees=True)  # camera elevation
            * Rotation.from_euler("y", rng.uniform(-90, 90), degrees=True)  # body turn
            * UPRIGHT
        )
        pose = np.concatenate([root.as_rotvec(), random_pose(rng)])
        betas = np.clip(rng.normal(0, 0.8, size=10), -2, 2)
        focal = np.full(2, rng.uniform(350, 550))
        princpt = np.array([self.width, self.height]) / 2 + rng.uniform(-5, 5, size=2)
        rest = self.mesh(pose, betas, np.zeros(3))
        lo, hi = rest.min(0), rest.max(0)
        depth = focal[1] * (hi[1] - lo[1]) / (rng.uniform(0.55, 0.9) * self.height)
        centre_px = np.array([self.width, self.height]) / 2 + rng.uniform(-20, 20, size=2)
        target = np.append((centre_px - princpt) / focal * depth, depth)
        transl = target - (lo + hi) / 2  # the rest mesh's box centre moves to ``target``
        mesh = rest + transl
        bkg = random_background(rng, self.height, self.width)
        img, mask = self._draw(mesh, focal, princpt, bkg, rng)
        return BodyRender(img, pose, betas, transl, focal, princpt, mesh, mask)

    def _draw(
        self,
        mesh: np.ndarray,
        focal: np.ndarray,
        princpt: np.ndarray,
        bkg: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Part-coloured, lit mesh over ``bkg``: ``((H, W, 3) uint8 RGB, (H, W) bool mask)``."""
        pr = self.pyrender
        flip = np.array([1, -1, -1])  # OpenCV camera axes -> OpenGL axes
        primitive = pr.Primitive(
            positions=(mesh * flip).astype(np.float32),
            normals=(vertex_normals(mesh, self.faces) * flip).astype(np.float32),
            indices=self.faces.astype(np.uint32),
            color_0=np.concatenate([self.colors, np.ones((len(mesh), 1))], 1).astype(np.float32),
            material=pr.MetallicRoughnessMaterial(
                baseColorFactor=(1.0, 1.0, 1.0, 1.0), metallicFactor=0.0,
                roughnessFactor=float(rng.uniform(0.5, 1.0)),
            ),
            mode=pr.constants.GLTF.TRIANGLES,
        )  # fmt: skip
        scene = pr.Scene(bg_color=(0, 0, 0, 0), ambient_light=np.full(3, rng.uniform(0.15, 0.4)))
        scene.add(pr.Mesh([primitive]))
        scene.add(pr.IntrinsicsCamera(fx=focal[0], fy=focal[1], cx=princpt[0], cy=princpt[1],
                                      znear=0.05, zfar=100.0), pose=np.eye(4))  # fmt: skip
        for _ in range(int(rng.integers(1, 3))):
            # A directional light from the camera's side of the body (OpenGL: +z toward viewer).
            direction = np.array([rng.uniform(-1, 1), rng.uniform(-0.3, 1), rng.uniform(0.4, 1)])
            light_pose = np.eye(4)
            light_pose[:3, :3] = _look_along(-direction / np.linalg.norm(direction))
            tint = 1 - rng.uniform(0, 0.25, size=3)
            scene.add(pr.DirectionalLight(color=tint, intensity=rng.uniform(2.0, 4.5)),
                      pose=light_pose)  # fmt: skip
        color, depth = self.renderer.render(scene)
        img = bkg.copy()
        covered = depth > 0
        img[covered] = color[covered][:, :3]
        return img, covered


def _look_along(forward: np.ndarray) -> np.ndarray:
    """(3, 3) rotation whose -z axis (pyrender's light direction) points along ``forward``."""
    z = -forward
    x = np.cross([0.0, 1.0, 0.0], z)
    if np.linalg.norm(x) < 1e-6:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def render_set(
    smpl: Any, num: int, seed: int, renderer_class: type[BodyRenderer] | None = None
) -> list[BodyRender]:
    """``num`` renders from ``np.random.default_rng(seed)`` (deterministic for one GL driver) by
    a ``renderer_class(smpl)`` (default :class:`BodyRenderer`)."""
    rng = np.random.default_rng(seed)
    renderer = (renderer_class or BodyRenderer)(smpl)
    try:
        return [renderer.sample(rng) for _ in range(num)]
    finally:
        renderer.close()


__all__ = [
    "BodyRender",
    "BodyRenderer",
    "IMG_SIZE",
    "POSE_LIMITS",
    "part_colors",
    "random_background",
    "random_pose",
    "render_set",
]
