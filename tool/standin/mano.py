"""The stand-in MANO hand: a palm and five fingers of 778 vertices, 1538 faces and 16 joints.

The right hand is built; the left one is its mirror image. The fingertip vertices the code picks
by index lie at the fingertips.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tool.standin.blend_shapes import pose_blend_shapes, smooth_fields
from tool.standin.mesh import Bridge, assemble, reorder_vertices
from tool.standin.skinning import bone_ends, joint_regressor, rigged_model, skinning_weights
from tool.standin.tube import Tube

MANO_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
# Right hand, palm down (-y), fingers towards -x, thumb on the +z side. Per finger: the joints
# (MCP, PIP, DIP; thumb CMC, MCP, IP), the tip, the radius at the first joint and at the tip.
_MANO_FINGERS = {
    "index": (1, ((0.000, 0.0, 0.025), (-0.035, 0.0, 0.027), (-0.058, 0.0, 0.028)),
              (-0.080, 0.0, 0.029), (0.0090, 0.0072), 75),
    "middle": (4, ((-0.003, 0.0, 0.005), (-0.042, 0.0, 0.005), (-0.068, 0.0, 0.005)),
               (-0.092, 0.0, 0.005), (0.0093, 0.0075), 80),
    "pinky": (7, ((0.010, 0.0, -0.032), (-0.017, 0.0, -0.036), (-0.036, 0.0, -0.039)),
              (-0.055, 0.0, -0.041), (0.0078, 0.0060), 60),
    "ring": (10, ((0.002, 0.0, -0.014), (-0.033, 0.0, -0.016), (-0.058, 0.0, -0.017)),
             (-0.080, 0.0, -0.018), (0.0088, 0.0070), 75),
    "thumb": (13, ((0.068, -0.006, 0.022), (0.045, -0.009, 0.047), (0.022, -0.011, 0.062)),
              (0.000, -0.013, 0.076), (0.0115, 0.0085), 88),
}  # fmt: skip
_MANO_WRIST = (0.090, 0.0, 0.0)
# Fingertip vertices: the ids the original code uses first, then smplx's own MANO tip ids.
_MANO_TIP_VERTICES = {"thumb": (745, 744), "index": (317, 320), "middle": (445, 443),
                      "ring": (556, 554), "pinky": (673, 671)}  # fmt: skip


def _mano_tubes() -> tuple[list[Tube], list[Bridge]]:
    """The palm (open at the wrist) and the five fingers, each bridged to the palm."""
    palm = Tube(
        points=((-0.002, 0.0, -0.004), (0.060, 0.0, -0.002), (0.095, 0.0, 0.0)),
        radii=((0.009, 0.046), (0.013, 0.040), (0.012, 0.028)),
        up=(0, 1, 0), n_vertices=400, cap_start=0.012, cap_end=None, open_ring=16,
    )  # fmt: skip
    tubes = [palm]
    bridges = []
    for k, (_, joints, tip, (r0, r1), count) in enumerate(_MANO_FINGERS.values(), start=1):
        base = np.asarray(joints[0])
        direction = np.asarray(joints[1]) - base
        direction /= np.linalg.norm(direction)
        tip_arr = np.asarray(tip)
        tip_dir = tip_arr - np.asarray(joints[2])
        tip_dir /= np.linalg.norm(tip_dir)
        points = (tuple(base - 0.025 * direction), *joints, tuple(tip_arr - r1 * tip_dir))
        # The finger starts inside the palm with a base thicker and wider than the palm, so that
        # a patch of the palm surface lies inside the finger (room for the hidden bridge).
        knuckle = (0.016, 2.1 * r0)
        radii = (knuckle, (r0, r0), (0.5 * (r0 + r1),) * 2, (r1, r1), (r1, r1))
        tubes.append(Tube(points=points, radii=radii, up=(0, 1, 0), n_vertices=count,
                          cap_start=knuckle[1], cap_end=r1))  # fmt: skip
        bridges.append((0, k, tuple(base - 0.015 * direction)))
    return tubes, bridges


def _mano_joints() -> np.ndarray:
    """(16, 3) joint positions of the right hand, m."""
    joints = np.zeros((16, 3))
    joints[0] = _MANO_WRIST
    for first, finger_joints, *_ in _MANO_FINGERS.values():
        joints[first : first + 3] = finger_joints
    return joints


@functools.lru_cache(maxsize=1)
def mano_model() -> dict[str, Any]:
    """Arrays of the right stand-in MANO model (official key names)."""
    tubes, bridges = _mano_tubes()
    mesh = assemble(tubes, bridges)
    targets = {}
    for name, (first_id, second_id) in _MANO_TIP_VERTICES.items():
        targets[first_id] = _MANO_FINGERS[name][2]
        targets[second_id] = _MANO_FINGERS[name][2]
    mesh = reorder_vertices(mesh, targets)
    joints = _mano_joints()
    ends = bone_ends(joints, MANO_PARENTS)
    allowed = {0: (0, 1, 4, 7, 10, 13)}
    for k, (first, _, tip, _, _) in enumerate(_MANO_FINGERS.values(), start=1):
        ends[first + 2].append(np.asarray(tip))
        allowed[k] = (0, first, first + 1, first + 2) if first != 13 else (0, 13, 14, 15)
    weights = skinning_weights(mesh, joints, ends, allowed, sigma=0.008)
    regressor = joint_regressor(mesh.vertices, joints, k=60)
    vertices = mesh.vertices
    rng = np.random.default_rng(21)
    components, _ = np.linalg.qr(rng.normal(size=(45, 45)))
    curl = np.zeros((15, 3))
    curl[:12, 2] = [0.25, 0.3, 0.2] * 4  # fingers flex about +z (towards the palm)
    curl[12:] = [[0.1, 0.0, 0.15], [0.05, 0.0, 0.2], [0.0, 0.0, 0.15]]  # thumb
    shapedirs = smooth_fields(
        vertices, np.array([0.0, 0.0, 0.0]), 0.1, 0.004 / (1 + 0.4 * np.arange(10)), seed=20
    )
    posedirs = pose_blend_shapes(weights, 0.001, seed=22)
    pca = {
        "hands_components": components.T,
        "hands_mean": curl.reshape(45),
        "hands_coeffs": rng.normal(scale=0.5, size=(8, 45)),
    }
    return rigged_model(
        vertices, mesh.faces, regressor, weights, MANO_PARENTS, shapedirs, posedirs, extra=pca
    )


def mano_hand(hand_type: str) -> dict[str, Any]:
    """Stand-in MANO arrays of ``hand_type``; the left hand mirrors the right one (x -> -x).

    As in the public ``MANO_LEFT.pkl``, the left file's shape directions keep the right hand's x
    component (a sign error; the MANO loader negates it when it equals the right hand's).
    """
    if hand_type not in ("right", "left"):
        raise ValueError(f"hand_type: expected 'right' or 'left', got {hand_type!r}")
    model = dict(mano_model())
    if hand_type == "right":
        return model
    flip = np.array([-1.0, 1.0, 1.0])
    pose_flip = np.array([1.0, -1.0, -1.0])  # mirrored axis-angle
    model["v_template"] = model["v_template"] * flip
    model["J"] = model["J"] * flip
    model["f"] = model["f"][:, ::-1].copy()
    model["posedirs"] = model["posedirs"] * flip[None, :, None].astype(np.float32)
    model["hands_mean"] = (model["hands_mean"].reshape(15, 3) * pose_flip).reshape(45)
    model["hands_components"] = (model["hands_components"].reshape(45, 15, 3) * pose_flip).reshape(
        45, 45
    )
    return model
