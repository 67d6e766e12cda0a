"""The stand-in FLAME head: 5023 vertices, 9976 faces, 5 joints, and its landmark embeddings.

A head open at the neck, with nose, lips, chin, ears, brows and eye sockets as bumps, and two
eyeballs; 300 shape and 100 expression blend shapes (expressions move the mouth and the brows).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tool.standin.blend_shapes import pose_blend_shapes, smooth_fields
from tool.standin.landmarks import landmark_embeddings
from tool.standin.mesh import Bridge, assemble
from tool.standin.skinning import joint_regressor, rigged_model, skinning_weights
from tool.standin.tube import Tube, gauss, sum_bumps

FLAME_PARENTS = [-1, 0, 1, 1, 1]
_FLAME_JOINTS = np.array([
    (0.0, -0.120, -0.020),  # root (neck base)
    (0.0, -0.060, -0.015),  # neck
    (0.0, -0.020, 0.010),  # jaw
    (0.032, 0.030, 0.074),  # left eyeball
    (-0.032, 0.030, 0.074),  # right eyeball
])  # fmt: skip
_FLAME_EYE_RADIUS = 0.0125


def _flame_tubes() -> tuple[list[Tube], list[Bridge]]:
    """The head (open at the neck) and the two eyeballs, each bridged to the head."""
    left_eye, right_eye = _FLAME_JOINTS[3], _FLAME_JOINTS[4]
    features = [
        gauss((0, 0.000, 0.100), (0.009, 0.018, 0.02), 0.022),  # nose
        gauss((0, -0.012, 0.100), (0.014, 0.006, 0.02), 0.008),  # nostrils
        gauss((0, -0.040, 0.092), (0.018, 0.008, 0.02), 0.007),  # lips
        gauss((0, -0.075, 0.070), (0.018, 0.012, 0.02), 0.010),  # chin
        gauss((0.078, 0.010, -0.005), (0.006, 0.018, 0.012), 0.016),  # ears
        gauss((-0.078, 0.010, -0.005), (0.006, 0.018, 0.012), 0.016),
        gauss((0.030, 0.050, 0.090), (0.018, 0.006, 0.02), 0.004),  # brow ridges
        gauss((-0.030, 0.050, 0.090), (0.018, 0.006, 0.02), 0.004),
        gauss(tuple(left_eye + (0, 0, 0.02)), (0.012, 0.008, 0.02), -0.008),  # eye sockets
        gauss(tuple(right_eye + (0, 0, 0.02)), (0.012, 0.008, 0.02), -0.008),
    ]
    head = Tube(
        points=((0, 0.060, 0.000), (0, 0.0, 0.005), (0, -0.050, 0.012), (0, -0.085, 0.012),
                (0, -0.100, -0.015), (0, -0.150, -0.020)),
        radii=((0.095, 0.075), (0.098, 0.078), (0.080, 0.066), (0.055, 0.048), (0.048, 0.048),
               (0.050, 0.050)),
        up=(0, 0, 1), n_vertices=4623, cap_start=0.09, cap_end=None, open_ring=68,
        bump=sum_bumps(*features),
    )  # fmt: skip
    eyes = [
        Tube(points=(tuple(c - (0, 0, 1e-3)), tuple(c + (0, 0, 1e-3))),
             radii=((_FLAME_EYE_RADIUS,) * 2,) * 2, up=(0, 1, 0), n_vertices=200,
             cap_start=_FLAME_EYE_RADIUS, cap_end=_FLAME_EYE_RADIUS)
        for c in (left_eye, right_eye)
    ]  # fmt: skip
    bridges = [(0, 1, tuple(left_eye + (0, 0, 0.01))), (0, 2, tuple(right_eye + (0, 0, 0.01)))]
    return [head, *eyes], bridges


@functools.lru_cache(maxsize=1)
def flame_model() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Stand-in FLAME arrays, static embedding and dynamic embedding (official key names)."""
    tubes, bridges = _flame_tubes()
    mesh = assemble(tubes, bridges)
    joints = _FLAME_JOINTS
    ends = {
        0: [joints[1]],
        1: [joints[2], np.array([0.0, 0.14, 0.0])],
        2: [np.array([0.0, -0.08, 0.07])],
        3: [joints[3] + (0, 0, 0.01)],
        4: [joints[4] + (0, 0, 0.01)],
    }
    weights = skinning_weights(mesh, joints, ends, {0: (0, 1, 2), 1: (3,), 2: (4,)}, sigma=0.02)
    regressor = joint_regressor(mesh.vertices, joints)
    vertices = mesh.vertices
    shape = smooth_fields(
        vertices, np.array([0.0, 0.0, 0.0]), 0.12, 0.006 * np.exp(-np.arange(300) / 60), seed=30
    )
    mouth = np.exp(-0.5 * np.sum(((vertices - (0, -0.04, 0.09)) / (0.03, 0.025, 0.03)) ** 2, 1))
    brows = np.exp(-0.5 * np.sum(((vertices - (0, 0.045, 0.09)) / (0.05, 0.015, 0.03)) ** 2, 1))
    region = np.where(np.arange(100) % 3 == 2, brows[:, None], mouth[:, None])  # (V, 100)
    expression = (
        smooth_fields(
            vertices,
            np.array([0.0, -0.02, 0.05]),
            0.06,
            0.005 * np.exp(-np.arange(100) / 30),
            seed=31,
        )
        * region[:, None, :]
    )
    shapedirs = np.concatenate([shape, expression], axis=2)
    posedirs = pose_blend_shapes(weights, 0.002, seed=32)
    model = rigged_model(
        vertices, mesh.faces, regressor, weights, FLAME_PARENTS, shapedirs, posedirs
    )
    head_faces = np.flatnonzero(mesh.face_component == 0)
    static, dynamic = landmark_embeddings(vertices, mesh.faces, head_faces)
    return model, static, dynamic
