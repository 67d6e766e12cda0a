"""The stand-in SMPL body: a mannequin of 6890 vertices, 13776 faces and 24 joints.

The vertices the code picks by index (nose, eyes, ears, toes, heels, finger bases and tips) are
placed at those body parts; the male and female bodies are the neutral one scaled about the pelvis.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tool.standin.blend_shapes import pose_blend_shapes, smooth_fields
from tool.standin.mesh import Bridge, assemble, reorder_vertices
from tool.standin.skinning import bone_ends, joint_regressor, rigged_model, skinning_weights
from tool.standin.tube import Point, Tube, gauss, mirror, mirror_tube, sum_bumps

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
_SMPL_LEFT_JOINTS = {  # joint -> left-side position (x > 0 is the body's left), m
    1: (0.075, -0.300, 0.010), 4: (0.100, -0.680, 0.015), 7: (0.110, -1.080, -0.030),
    10: (0.120, -1.140, 0.090), 13: (0.075, 0.210, -0.005), 16: (0.190, 0.230, -0.015),
    18: (0.450, 0.220, -0.030), 20: (0.710, 0.220, -0.030), 22: (0.790, 0.215, -0.035),
}  # fmt: skip
_SMPL_CENTER_JOINTS = {
    0: (0.0, -0.220, 0.020), 3: (0.0, -0.110, -0.005), 6: (0.0, 0.020, -0.005),
    9: (0.0, 0.090, 0.010), 12: (0.0, 0.300, -0.010), 15: (0.0, 0.390, 0.030),
}  # fmt: skip
_SMPL_LEFT_VERTICES = {  # vertex index -> left-side target point
    2802: (0.032, 0.445, 0.100), 2800: (0.032, 0.445, 0.100),  # L_Eye / smplx leye
    3489: (0.085, 0.420, 0.000), 583: (0.085, 0.420, 0.000),  # L_Ear / lear
    3292: (0.095, -1.150, 0.160), 3216: (0.095, -1.150, 0.160),  # L_Big_toe / LBigToe
    3313: (0.150, -1.150, 0.140), 3226: (0.150, -1.150, 0.140),  # L_Small_toe / LSmallToe
    3468: (0.110, -1.165, -0.090), 3387: (0.110, -1.165, -0.090),  # L_Heel / LHeel
    2274: (0.800, 0.230, -0.005), 2270: (0.800, 0.230, -0.025),  # L_Index_1, L_Middle_1
    2293: (0.800, 0.230, -0.045), 2173: (0.790, 0.230, -0.065),  # L_Ring_1, L_Pinky_1
    2746: (0.740, 0.215, 0.012), 2319: (0.870, 0.212, -0.008),  # lthumb, lindex
    2445: (0.878, 0.212, -0.030), 2556: (0.870, 0.212, -0.052),  # lmiddle, lring
    2673: (0.855, 0.212, -0.072),  # lpinky
}  # fmt: skip
_SMPL_RIGHT_OF = {  # right-side vertex index of each left-side one
    2802: 6262, 2800: 6260, 3489: 3990, 583: 4071, 3292: 6691, 3216: 6617, 3313: 6713,
    3226: 6624, 3468: 6858, 3387: 6787, 2274: 5595, 2270: 5675, 2293: 5636, 2173: 5655,
    2746: 6191, 2319: 5782, 2445: 5905, 2556: 6016, 2673: 6133,
}  # fmt: skip


def _smpl_joints() -> np.ndarray:
    """(24, 3) joint positions of the neutral body, m."""
    joints = np.zeros((24, 3))
    for j, p in _SMPL_CENTER_JOINTS.items():
        joints[j] = p
    for j, p in _SMPL_LEFT_JOINTS.items():
        joints[j] = p
        joints[j + 1] = mirror(p)
    return joints


def _smpl_tubes() -> tuple[list[Tube], list[Bridge]]:
    """Torso, head, arms, hands, legs and feet (left before right) and their bridges."""
    torso = Tube(
        points=((0, -0.31, 0.015), (0, -0.12, 0.0), (0, 0.04, 0.0), (0, 0.16, 0.0),
                (0, 0.25, -0.01), (0, 0.335, -0.01)),
        radii=((0.10, 0.16), (0.09, 0.135), (0.10, 0.145), (0.11, 0.165), (0.09, 0.15),
               (0.05, 0.055)),
        up=(0, 0, 1), n_vertices=2400, cap_start=0.07, cap_end=0.03,
    )  # fmt: skip
    head = Tube(
        points=((0, 0.425, 0.025), (0, 0.435, 0.025)),
        radii=((0.095, 0.078), (0.095, 0.078)),
        up=(0, 0, 1), n_vertices=1000, cap_start=0.105, cap_end=0.105,
        bump=sum_bumps(
            gauss((0, 0.41, 0.12), (0.010, 0.016, 0.02), 0.025),
            gauss((0.078, 0.42, 0.0), (0.006, 0.015, 0.01), 0.012),
            gauss((-0.078, 0.42, 0.0), (0.006, 0.015, 0.01), 0.012),
        ),
    )  # fmt: skip
    arm = Tube(
        points=((0.10, 0.225, -0.01), (0.19, 0.23, -0.015), (0.45, 0.22, -0.03),
                (0.71, 0.22, -0.03)),
        radii=((0.055, 0.055), (0.052, 0.05), (0.04, 0.04), (0.03, 0.033)),
        up=(0, 1, 0), n_vertices=480, cap_start=0.04, cap_end=0.03,
    )  # fmt: skip
    hand = Tube(
        points=((0.70, 0.22, -0.03), (0.84, 0.213, -0.035)),
        radii=((0.02, 0.04), (0.016, 0.042)),
        up=(0, 1, 0), n_vertices=380, cap_start=0.02, cap_end=0.035,
    )  # fmt: skip
    leg = Tube(
        points=((0.08, -0.22, 0.01), (0.075, -0.30, 0.01), (0.10, -0.68, 0.015),
                (0.11, -1.08, -0.03)),
        radii=((0.08, 0.075), (0.08, 0.075), (0.055, 0.05), (0.04, 0.038)),
        up=(0, 0, 1), n_vertices=600, cap_start=0.05, cap_end=0.035,
    )  # fmt: skip
    foot = Tube(
        points=((0.11, -1.11, -0.05), (0.12, -1.135, 0.13)),
        radii=((0.045, 0.04), (0.03, 0.05)),
        up=(0, 1, 0), n_vertices=285, cap_start=0.04, cap_end=0.035,
    )  # fmt: skip
    tubes = [torso, head, arm, mirror_tube(arm), hand, mirror_tube(hand), leg,
             mirror_tube(leg), foot, mirror_tube(foot)]  # fmt: skip
    bridges = [
        (0, 1, (0, 0.34, 0.0)),
        (0, 2, (0.13, 0.225, -0.01)), (0, 3, (-0.13, 0.225, -0.01)),
        (2, 4, (0.72, 0.22, -0.03)), (3, 5, (-0.72, 0.22, -0.03)),
        (0, 6, (0.08, -0.30, 0.01)), (0, 7, (-0.08, -0.30, 0.01)),
        (6, 8, (0.11, -1.09, -0.04)), (7, 9, (-0.11, -1.09, -0.04)),
    ]  # fmt: skip
    return tubes, bridges


@functools.lru_cache(maxsize=1)
def smpl_model() -> dict[str, Any]:
    """Arrays of the neutral stand-in SMPL model (official key names)."""
    tubes, bridges = _smpl_tubes()
    mesh = assemble(tubes, bridges)
    targets: dict[int, Point] = {
        331: (0, 0.41, 0.15), 332: (0, 0.41, 0.15),  # Nose / smplx nose
    }  # fmt: skip
    for left, point in _SMPL_LEFT_VERTICES.items():
        targets[left] = point
        targets[_SMPL_RIGHT_OF[left]] = mirror(point)
    mesh = reorder_vertices(mesh, targets)
    joints = _smpl_joints()
    ends = bone_ends(joints, SMPL_PARENTS)
    leaf_tips = {10: (0.125, -1.15, 0.17), 15: (0, 0.53, 0.03), 22: (0.87, 0.21, -0.035)}
    for j, tip in leaf_tips.items():
        ends[j].append(np.asarray(tip))
        if j != 15:
            ends[j + 1].append(np.asarray(mirror(tip)))
    allowed = {
        0: (0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17), 1: (12, 15),
        2: (13, 16, 18, 20), 3: (14, 17, 19, 21), 4: (20, 22), 5: (21, 23),
        6: (0, 1, 4, 7), 7: (0, 2, 5, 8), 8: (7, 10), 9: (8, 11),
    }  # fmt: skip
    weights = skinning_weights(mesh, joints, ends, allowed, sigma=0.045)
    regressor = joint_regressor(mesh.vertices, joints)
    vertices = mesh.vertices
    shapedirs = smooth_fields(
        vertices, np.array([0, -0.3, 0]), 0.9, 0.03 / (1 + 0.4 * np.arange(10)), seed=10
    )
    posedirs = pose_blend_shapes(weights, 0.004, seed=11)
    return rigged_model(vertices, mesh.faces, regressor, weights, SMPL_PARENTS, shapedirs, posedirs)


def smpl_gender(gender: str) -> dict[str, Any]:
    """Stand-in SMPL arrays of ``gender``: the neutral body scaled about the pelvis."""
    scale = {"neutral": (1.0, 1.0, 1.0), "male": (1.06, 1.04, 1.04), "female": (0.95, 0.97, 0.97)}
    if gender not in scale:
        raise ValueError(f"gender: expected one of {tuple(scale)}, got {gender!r}")
    model = dict(smpl_model())
    pelvis = np.array(_SMPL_CENTER_JOINTS[0])
    model["v_template"] = pelvis + (model["v_template"] - pelvis) * np.asarray(scale[gender])
    model["J"] = model["J_regressor"] @ model["v_template"]
    return model
