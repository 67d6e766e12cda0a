"""AGORA's camera model (adapted from the official AGORA evaluation code).

AGORA places each person in an Unreal Engine scene: position ``X, Y, Z`` (cm; Unreal axes x
forward, y right, z up) and yaw ``Yaw`` (degrees). The camera of a frame comes from a fixed table
keyed by a substring of the image name, or, for the remaining 3-D scenes, from the data frame's
``camX, camY, camZ`` (cm) and ``camYaw`` (degrees). Frames are 3840 x 2160 px taken on a
36 mm x 20.25 mm sensor. Model-frame points are metres in SMPL's y-up frame; camera-frame points
are metres in OpenCV's frame (x right, y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SENSOR_MM = (36.0, 20.25)  # (width, height)
FRAME_SIZE = (3840, 2160)  # (W, H) px
PRINCPT = (FRAME_SIZE[0] / 2, FRAME_SIZE[1] / 2)  # (cx, cy) px


@dataclass(frozen=True)
class SceneCamera:
    """Camera of one AGORA frame.

    Attributes:
        focal_mm: lens focal length, mm.
        position_cm: camera position, Unreal frame, cm.
        yaw_deg, pitch_deg: camera yaw and pitch, degrees.
        ground_plane_m: offset added to the converted camera position of 3-D scenes, m.
        scene3d: whether the frame is a 3-D scene (the ground-plane offset applies).
    """

    focal_mm: float
    position_cm: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float
    ground_plane_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scene3d: bool = True

    @property
    def focal(self) -> tuple[float, float]:
        """(fx, fy) px: ``f_mm / sensor_mm * image_px`` per axis (equal for AGORA's sensor)."""
        return (
            self.focal_mm / SENSOR_MM[0] * FRAME_SIZE[0],
            self.focal_mm / SENSOR_MM[1] * FRAME_SIZE[1],
        )

    @property
    def princpt(self) -> tuple[float, float]:
        """(cx, cy) px, the frame centre."""
        return PRINCPT

    @property
    def position_m(self) -> np.ndarray:
        """(3,) camera position in the OpenCV-axis world frame, m (ground plane included)."""
        position = unreal_to_opencv(np.asarray(self.position_cm, dtype=np.float64))[0]
        if self.scene3d:
            position = position + np.asarray(self.ground_plane_m, dtype=np.float64)
        return position


# Fixed cameras: the first rule whose substring occurs in the image name wins (this order).
FIXED_CAMERAS: tuple[tuple[str, SceneCamera], ...] = (
    ("hdri", SceneCamera(50.0, (0.0, 0.0, 170.0), 0.0, 0.0, scene3d=False)),
    ("cam00", SceneCamera(18.0, (400.0, -275.0, 265.0), 135.0, 30.0)),
    ("cam01", SceneCamera(18.0, (400.0, 225.0, 265.0), -135.0, 30.0)),
    ("cam02", SceneCamera(18.0, (-490.0, 170.0, 265.0), -45.0, 30.0)),
    ("cam03", SceneCamera(18.0, (-490.0, -275.0, 265.0), 45.0, 30.0)),
    ("ag2", SceneCamera(28.0, (0.0, 0.0, 170.0), 0.0, 15.0, scene3d=False)),
)
OTHER_SCENES_FOCAL_MM = 28.0
OTHER_SCENES_GROUND_PLANE_M = (0.0, -1.7, 0.0)


def scene_camera(
    img_path: str, cam_x: float, cam_y: float, cam_z: float, cam_yaw: float
) -> SceneCamera:
    """The camera of the frame ``img_path`` (the data frame's ``imgPath``).

    Args:
        img_path: image file name; substrings ``hdri``, ``cam00`` ... ``cam03``, ``ag2`` select
            fixed cameras.
        cam_x, cam_y, cam_z: the data frame's camera position, cm (used by other scenes only).
        cam_yaw: the data frame's camera yaw, degrees (used by other scenes only).
    """
    for key, camera in FIXED_CAMERAS:
        if key in img_path:
            return camera
    return SceneCamera(
        OTHER_SCENES_FOCAL_MM,
        (float(cam_x), float(cam_y), float(cam_z)),
        float(cam_yaw),
        0.0,
        OTHER_SCENES_GROUND_PLANE_M,
        scene3d=True,
    )


def unreal_to_opencv(points_cm: np.ndarray) -> np.ndarray:
    """(N, 3) or (3,) Unreal points, cm -> (N, 3) OpenCV-axis points, m: ``(y, -z, x) / 100``."""
    p = np.reshape(np.asarray(points_cm, dtype=np.float64), (-1, 3)) / 100.0
    return np.stack((p[:, 1], -p[:, 2], p[:, 0]), axis=1)


def rotation_y(deg: float) -> np.ndarray:
    """(3, 3) rotation about the y axis by ``deg`` degrees (Rodrigues vector (0, theta, 0))."""
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_x(deg: float) -> np.ndarray:
    """(3, 3) rotation about the x axis by ``deg`` degrees (Rodrigues vector (theta, 0, 0))."""
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


SMPL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])  # 180 degrees about x: y-up model -> y-down


def person_to_camera(
    yaw_deg: float, position_cm: np.ndarray, camera: SceneCamera
) -> tuple[np.ndarray, np.ndarray]:
    """Rigid map of a person's model-frame points into the camera: ``x_cam = R @ x + t``.

    The chain of the AGORA evaluation code: SMPL -> OpenCV axes, rotation about y by
    ``yaw - 90`` degrees, the person's position added; then minus the camera position, rotation
    about y by ``-camYaw`` and about x by ``camPitch``. (The original re-estimates this transform
    from the joints with a Procrustes fit; it is known in closed form.)

    Args:
        yaw_deg: the person's ``Yaw``, degrees.
        position_cm: (3,) the person's ``X, Y, Z``, Unreal frame, cm.
        camera: the frame's camera.

    Returns:
        ``(R (3, 3), t (3,))``, float64; model frame (m, y up) -> camera frame (m, OpenCV).
    """
    cam_rot = rotation_x(camera.pitch_deg) @ rotation_y(-camera.yaw_deg)
    rot = cam_rot @ rotation_y(yaw_deg - 90.0) @ SMPL_TO_OPENCV
    trans = cam_rot @ (unreal_to_opencv(position_cm)[0] - camera.position_m)
    return rot, trans


def project(points_cam: np.ndarray, camera: SceneCamera) -> np.ndarray:
    """(N, 3) camera-frame points, m -> (N, 2) pixels of the 3840 x 2160 frame."""
    points = np.asarray(points_cam, dtype=np.float64)
    (fx, fy), (cx, cy) = camera.focal, camera.princpt
    return np.stack(
        (points[:, 0] / points[:, 2] * fx + cx, points[:, 1] / points[:, 2] * fy + cy), axis=1
    )
