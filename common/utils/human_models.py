"""SMPL, MANO and FLAME: joint sets, regressors and ``smplx`` layers.

The joint-set tables are class attributes, usable without any model file (``SMPL.joints_name``).
Model data are read lazily, on first need, from ``<human_model_path>/{smpl,mano,flame}/`` with the
chumpy-free reader of :mod:`common.utils.model_files`, and handed to the PyPI ``smplx`` classes
as ``data_struct``: a body run opens only the SMPL files (the gendered ones only when asked for), a
hand run only the MANO files, a face run only the FLAME files. One instance per model folder is
shared through :func:`get_smpl`, :func:`get_mano` and :func:`get_flame`.

Layers are built with the constructor arguments of the reference: batch size 1,
float32, no PCA hands, ``flat_hand_mean=False``, face contour on, every ``create_*`` flag that the
reference passes set to False. MANO and FLAME keep smplx's unused ``body_pose`` parameter (same
state-dict keys as the reference), frozen (``requires_grad=False``).
"""

from __future__ import annotations

import functools
import logging
import os.path as osp
from typing import Any

import numpy as np
import smplx
import torch
from smplx.utils import Struct, to_np

from common.utils.flame_layer import FlameLayer
from common.utils.model_files import (
    check_body_model_arrays,
    load_model_npy,
    load_model_pickle,
    require_file,
)
from common.utils.transforms import transform_joint_to_other_db

logger = logging.getLogger(__name__)

SMPL_WEBSITE = "https://smpl.is.tue.mpg.de"
MANO_WEBSITE = "https://mano.is.tue.mpg.de"
FLAME_WEBSITE = "https://flame.is.tue.mpg.de"


def _vertex_joint_regressor(
    orig_regressor: np.ndarray,
    orig_joints_name: tuple[str, ...],
    joints_name: tuple[str, ...],
    joint_vertex_ids: dict[str, int],
) -> np.ndarray:
    """Regressor of a joint set: rows copied from ``orig_regressor`` by name, others one-hot.

    Args:
        orig_regressor: (J_orig, V) regressor of the model's own joints.
        orig_joints_name: the J_orig names.
        joints_name: the J names of the new set.
        joint_vertex_ids: name -> vertex index for the joints not in the original set.

    Returns:
        float32 (J, V).
    """
    regressor = transform_joint_to_other_db(orig_regressor, orig_joints_name, joints_name)
    for name, vertex in joint_vertex_ids.items():
        row = joints_name.index(name)
        regressor[row] = 0.0
        regressor[row, vertex] = 1.0
    return regressor


def _freeze_body_pose(layer: torch.nn.Module) -> None:
    # smplx creates an unused `body_pose` parameter for MANO/FLAME (the reference does not pass
    # create_body_pose=False); keep it for identical state-dict keys but never train it.
    layer.body_pose.requires_grad_(False)


class SMPL:
    """SMPL body model (neutral, male, female) with the Pose2Pose joint sets."""

    vertex_num = 6890
    face_num = 13776
    shape_param_dim = 10
    genders = ("neutral", "male", "female")
    # Original SMPL joints (24).
    orig_joint_num = 24
    orig_joints_name = (
        "Pelvis", "L_Hip", "R_Hip", "Torso", "L_Knee", "R_Knee", "Spine", "L_Ankle",
        "R_Ankle", "Chest", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head",
        "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand",
    )  # fmt: skip
    orig_flip_pairs = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21),
                       (22, 23))  # fmt: skip
    orig_root_joint_idx = 0
    # Supervision joint set (33).
    joint_num = 33
    joints_name = (
        "Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
        "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist",
        "L_Index_1", "L_Middle_1", "L_Ring_1", "L_Pinky_1",
        "R_Index_1", "R_Middle_1", "R_Ring_1", "R_Pinky_1",
        "Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear",
        "L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel",
    )  # fmt: skip
    flip_pairs = ((1, 2), (3, 4), (5, 6), (8, 9), (10, 11), (12, 13), (14, 18), (15, 19), (16, 20),
                  (17, 21), (23, 24), (25, 26), (27, 30), (28, 31), (29, 32))  # fmt: skip
    root_joint_idx = 0
    # Vertices picked by the 19 joints that SMPL's own regressor lacks (not smplx's vertex ids).
    joint_vertex_ids = {
        "L_Index_1": 2274, "L_Middle_1": 2270, "L_Ring_1": 2293, "L_Pinky_1": 2173,
        "R_Index_1": 5595, "R_Middle_1": 5675, "R_Ring_1": 5636, "R_Pinky_1": 5655,
        "Nose": 331, "L_Eye": 2802, "R_Eye": 6262, "L_Ear": 3489, "R_Ear": 3990,
        "L_Big_toe": 3292, "L_Small_toe": 3313, "L_Heel": 3468,
        "R_Big_toe": 6691, "R_Small_toe": 6713, "R_Heel": 6858,
    }  # fmt: skip
    # PositionNet joint set (25) and its indices into the 33-set.
    pos_joint_num = 25
    pos_joints_name = (
        "Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
        "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist",
        "L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel",
        "L_Ear", "R_Ear", "L_Eye", "R_Eye", "Nose",
    )  # fmt: skip
    pos_joint_idx = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 27, 28, 29, 30, 31, 32, 25, 26,
                     23, 24, 22)  # fmt: skip

    def __init__(self, human_model_path: str) -> None:
        """Remember the model folder; nothing is read until a layer or an array is asked for."""
        self.human_model_path = osp.abspath(human_model_path)
        self.model_dir = osp.join(self.human_model_path, "smpl")
        self._data: dict[str, dict[str, Any]] = {}
        self._layers: dict[str, smplx.SMPL] = {}

    def model_file(self, gender: str = "neutral") -> str:
        """Path of the SMPL file of ``gender`` (``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl``)."""
        if gender not in self.genders:
            raise ValueError(f"SMPL gender: expected one of {self.genders}, got {gender!r}")
        return osp.join(self.model_dir, f"SMPL_{gender.upper()}.pkl")

    def data(self, gender: str = "neutral") -> dict[str, Any]:
        """Arrays of the SMPL file of ``gender`` (read once)."""
        if gender not in self._data:
            path = require_file(self.model_file(gender), "SMPL", SMPL_WEBSITE)
            self._data[gender] = check_body_model_arrays(load_model_pickle(path), path)
        return self._data[gender]

    def layer(self, gender: str = "neutral") -> smplx.SMPL:
        """The smplx SMPL layer of ``gender`` (built on first use, then cached).

        Forward with ``global_orient`` (B,3), ``body_pose`` (B,69), ``betas`` (B,10), axis-angle;
        returns ``vertices`` (B,6890,3) and ``joints`` (B,45,3), metres, no translation.
        """
        if gender not in self._layers:
            self._layers[gender] = smplx.SMPL(
                model_path=self.model_dir,
                data_struct=Struct(**self.data(gender)),
                gender=gender,
                create_betas=False,
                create_global_orient=False,
                create_body_pose=False,
                create_transl=False,
                batch_size=1,
                dtype=torch.float32,
            )
        return self._layers[gender]

    @functools.cached_property
    def orig_joint_regressor(self) -> np.ndarray:
        """float32 (24, 6890): the neutral model's own J_regressor."""
        return to_np(self.data("neutral")["J_regressor"], dtype=np.float32)

    @functools.cached_property
    def joint_regressor(self) -> np.ndarray:
        """float32 (33, 6890): neutral J_regressor rows by name, one-hot vertex rows otherwise."""
        return _vertex_joint_regressor(
            self.orig_joint_regressor, self.orig_joints_name, self.joints_name,
            self.joint_vertex_ids,
        )  # fmt: skip

    @functools.cached_property
    def face(self) -> np.ndarray:
        """int64 (13776, 3): triangles of the neutral model."""
        return np.asarray(self.data("neutral")["f"], dtype=np.int64)


class MANO:
    """MANO hand model (right, left) with the 21-joint set."""

    vertex_num = 778
    face_num = 1538
    shape_param_dim = 10
    hand_types = ("right", "left")
    orig_joint_num = 16
    orig_joints_name = (
        "Wrist", "Index_1", "Index_2", "Index_3", "Middle_1", "Middle_2", "Middle_3",
        "Pinky_1", "Pinky_2", "Pinky_3", "Ring_1", "Ring_2", "Ring_3",
        "Thumb_1", "Thumb_2", "Thumb_3",
    )  # fmt: skip
    orig_flip_pairs: tuple[tuple[int, int], ...] = ()
    orig_root_joint_idx = 0
    joint_num = 21
    joints_name = (
        "Wrist", "Thumb_1", "Thumb_2", "Thumb_3", "Thumb_4", "Index_1", "Index_2", "Index_3",
        "Index_4", "Middle_1", "Middle_2", "Middle_3", "Middle_4", "Ring_1", "Ring_2", "Ring_3",
        "Ring_4", "Pinky_1", "Pinky_2", "Pinky_3", "Pinky_4",
    )  # fmt: skip
    skeleton = ((0, 1), (0, 5), (0, 9), (0, 13), (0, 17), (1, 2), (2, 3), (3, 4), (5, 6), (6, 7),
                (7, 8), (9, 10), (10, 11), (11, 12), (13, 14), (14, 15), (15, 16), (17, 18),
                (18, 19), (19, 20))  # fmt: skip
    flip_pairs: tuple[tuple[int, int], ...] = ()
    root_joint_idx = 0
    # Fingertip vertices (not smplx's 744/320/443/554/671).
    joint_vertex_ids = {"Thumb_4": 745, "Index_4": 317, "Middle_4": 445, "Ring_4": 556,
                        "Pinky_4": 673}  # fmt: skip

    def __init__(self, human_model_path: str) -> None:
        """Remember the model folder; nothing is read until a layer or an array is asked for."""
        self.human_model_path = osp.abspath(human_model_path)
        self.model_dir = osp.join(self.human_model_path, "mano")
        self._data: dict[str, dict[str, Any]] = {}
        self._layers: dict[str, smplx.MANO] = {}

    def model_file(self, hand_type: str = "right") -> str:
        """Path of the MANO file of ``hand_type`` (``mano/MANO_{RIGHT,LEFT}.pkl``)."""
        if hand_type not in self.hand_types:
            raise ValueError(
                f"MANO hand type: expected one of {self.hand_types}, got {hand_type!r}"
            )
        return osp.join(self.model_dir, f"MANO_{hand_type.upper()}.pkl")

    def data(self, hand_type: str = "right") -> dict[str, Any]:
        """Arrays of the MANO file of ``hand_type`` (read once)."""
        if hand_type not in self._data:
            path = require_file(self.model_file(hand_type), "MANO", MANO_WEBSITE)
            self._data[hand_type] = check_body_model_arrays(load_model_pickle(path), path)
        return self._data[hand_type]

    def _build(self, hand_type: str) -> smplx.MANO:
        layer = smplx.MANO(
            model_path=self.model_dir,
            is_rhand=hand_type == "right",
            data_struct=Struct(**self.data(hand_type)),
            use_pca=False,
            flat_hand_mean=False,
            create_global_orient=False,
            create_hand_pose=False,
            create_betas=False,
            create_transl=False,
            batch_size=1,
            dtype=torch.float32,
        )
        _freeze_body_pose(layer)
        return layer

    def layer(self, hand_type: str = "right") -> smplx.MANO:
        """The smplx MANO layer of ``hand_type`` (built on first use, then cached).

        Forward with ``global_orient`` (B,3), ``hand_pose`` (B,45) axis-angle offsets from the MANO
        mean pose (``flat_hand_mean=False``), ``betas`` (B,10); returns ``vertices`` (B,778,3) and
        ``joints`` (B,16,3), metres. Building the left layer also builds the right one, for the
        left-hand shapedirs correction.
        """
        if hand_type not in self._layers:
            layer = self._build(hand_type)
            if hand_type == "left":
                self._fix_left_shapedirs(layer, self.layer("right"))
            self._layers[hand_type] = layer
        return self._layers[hand_type]

    @staticmethod
    def _fix_left_shapedirs(left: smplx.MANO, right: smplx.MANO) -> None:
        # QUIRK of the reference: the public MANO_LEFT file has the wrong sign on
        # the x component of its shape directions; detected by comparing with the right hand.
        if torch.sum(torch.abs(left.shapedirs[:, 0, :] - right.shapedirs[:, 0, :])) < 1:
            logger.info("Fix shapedirs bug of MANO")
            left.shapedirs[:, 0, :] *= -1

    @functools.cached_property
    def orig_joint_regressor(self) -> np.ndarray:
        """float32 (16, 778): the right model's J_regressor (used for both hands)."""
        return to_np(self.data("right")["J_regressor"], dtype=np.float32)

    @functools.cached_property
    def joint_regressor(self) -> np.ndarray:
        """float32 (21, 778): MANO J_regressor rows by name, one-hot fingertip rows."""
        return _vertex_joint_regressor(
            self.orig_joint_regressor, self.orig_joints_name, self.joints_name,
            self.joint_vertex_ids,
        )  # fmt: skip

    @functools.cached_property
    def face(self) -> dict[str, np.ndarray]:
        """``{'right': int64 (1538, 3), 'left': int64 (1538, 3)}``, each from its own file."""
        return {
            hand_type: np.asarray(self.data(hand_type)["f"], dtype=np.int64)
            for hand_type in self.hand_types
        }


class FLAME:
    """FLAME head model with its 73-joint set (5 kinematic + 51 static + 17 contour landmarks)."""

    vertex_num = 5023
    face_num = 9976
    shape_param_dim = 10
    expr_code_dim = 10
    orig_joint_num = 73
    joint_num = 73
    orig_joints_name = tuple(str(i) for i in range(73))
    joints_name = orig_joints_name
    flip_pairs = (
        (3, 4),  # eyeballs
        (5, 14), (6, 13), (7, 12), (8, 11), (9, 10),  # eyebrows
        (19, 23), (20, 22),  # below nose
        (24, 33), (25, 32), (26, 31), (27, 30), (28, 35), (29, 34),  # eyes
        (36, 42), (37, 41), (38, 40), (43, 47), (44, 46),  # mouth
        (48, 52), (49, 51), (53, 55),  # lips
        (56, 72), (57, 71), (58, 70), (59, 69), (60, 68), (61, 67), (62, 66), (63, 65),  # contour
    )  # fmt: skip
    orig_flip_pairs = flip_pairs
    orig_root_joint_idx = 0
    root_joint_idx = 0
    files = ("FLAME_NEUTRAL.pkl", "flame_static_embedding.pkl", "flame_dynamic_embedding.npy")

    def __init__(self, human_model_path: str) -> None:
        """Remember the model folder; nothing is read until the layer or an array is asked for."""
        self.human_model_path = osp.abspath(human_model_path)
        self.model_dir = osp.join(self.human_model_path, "flame")
        self._data: dict[str, Any] | None = None
        self._layer: FlameLayer | None = None

    def model_file(self, name: str = "FLAME_NEUTRAL.pkl") -> str:
        """Path of a FLAME file (one of :attr:`files`) under ``flame/``."""
        if name not in self.files:
            raise ValueError(f"FLAME file: expected one of {self.files}, got {name!r}")
        return osp.join(self.model_dir, name)

    def _path(self, name: str) -> str:
        return require_file(self.model_file(name), "FLAME", FLAME_WEBSITE)

    def data(self) -> dict[str, Any]:
        """Arrays of ``flame/FLAME_NEUTRAL.pkl`` (read once)."""
        if self._data is None:
            path = self._path("FLAME_NEUTRAL.pkl")
            self._data = check_body_model_arrays(load_model_pickle(path), path)
        return self._data

    def layer(self) -> FlameLayer:
        """The FLAME layer (built on first use, then cached).

        Forward with ``global_orient``, ``neck_pose``, ``jaw_pose``, ``leye_pose``, ``reye_pose``
        (each (B,3) axis-angle), ``betas`` (B,10), ``expression`` (B,10); returns ``vertices``
        (B,5023,3) and ``joints`` (B,73,3), metres.
        """
        if self._layer is None:
            data = self.data()
            static = load_model_pickle(self._path("flame_static_embedding.pkl"))
            dynamic = load_model_npy(self._path("flame_dynamic_embedding.npy"))
            layer = FlameLayer(
                data,
                static,
                dynamic,
                create_betas=False,
                create_global_orient=False,
                create_transl=False,
            )
            _freeze_body_pose(layer)
            self._layer = layer
        return self._layer

    @functools.cached_property
    def face(self) -> np.ndarray:
        """int64 (9976, 3): triangles of the FLAME mesh."""
        return np.asarray(self.data()["f"], dtype=np.int64)


@functools.cache
def _cached(model_class: type, human_model_path: str) -> Any:
    return model_class(human_model_path)


def get_smpl(human_model_path: str) -> SMPL:
    """The shared :class:`SMPL` of a model folder (one per absolute path; opens no file)."""
    return _cached(SMPL, osp.abspath(human_model_path))


def get_mano(human_model_path: str) -> MANO:
    """The shared :class:`MANO` of a model folder (one per absolute path; opens no file)."""
    return _cached(MANO, osp.abspath(human_model_path))


def get_flame(human_model_path: str) -> FLAME:
    """The shared :class:`FLAME` of a model folder (one per absolute path; opens no file)."""
    return _cached(FLAME, osp.abspath(human_model_path))


__all__ = [
    "FLAME",
    "FLAME_WEBSITE",
    "FlameLayer",
    "MANO",
    "MANO_WEBSITE",
    "SMPL",
    "SMPL_WEBSITE",
    "get_flame",
    "get_mano",
    "get_smpl",
]
