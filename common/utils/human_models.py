"""SMPL, MANO and FLAME: joint sets, regressors and ``smplx`` layers.

The joint-set tables of :mod:`common.utils.keypoints` are class attributes, usable without any
model file (``SMPL.joints_name``). Model data are read lazily, on first need, from
``<human_model_path>/{smpl,mano,flame}/`` with the chumpy-free reader of
:mod:`common.utils.model_files`, and handed to the PyPI ``smplx`` classes as ``data_struct``: a
body run opens only the SMPL files (the gendered ones only when asked for), a hand run only the
MANO files, a face run only the FLAME files. SMPL and MANO share one loader (one file per gender
or hand type); one instance per model folder is shared through :func:`get_smpl`,
:func:`get_mano` and :func:`get_flame`.

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

from common.utils import keypoints as kp
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


# The reference builds every layer without its own root orientation, shape and translation; they
# are passed to each forward call.
_NO_OWN_PARAMETERS = dict(create_global_orient=False, create_betas=False, create_transl=False)


class _SkinnedModel:
    """One model file per variant (gender, hand type) under ``<human_model_path>/<folder>/``.

    The shared loader of :class:`SMPL` and :class:`MANO`: files read on first need, layers built
    by :meth:`_build` on first use, both cached per variant. The first variant is the default; its
    file gives the joint regressor.
    """

    label: str  # "SMPL", "MANO": names the files and the errors
    website: str
    variants: tuple[str, ...]
    variant_kind: str  # what a variant is, for the error message
    orig_joints_name: tuple[str, ...]
    joints_name: tuple[str, ...]
    joint_vertex_ids: dict[str, int]  # joints missing from the model's own regressor -> vertex

    def __init__(self, human_model_path: str) -> None:
        """Remember the model folder; nothing is read until a layer or an array is asked for."""
        self.human_model_path = osp.abspath(human_model_path)
        self.model_dir = osp.join(self.human_model_path, self.label.lower())
        self._data: dict[str, dict[str, Any]] = {}
        self._layers: dict[str, torch.nn.Module] = {}

    def model_file(self, variant: str | None = None) -> str:
        """Path of the file of ``variant`` (``<folder>/<LABEL>_<VARIANT>.pkl``)."""
        variant = self.variants[0] if variant is None else variant
        if variant not in self.variants:
            raise ValueError(
                f"{self.label} {self.variant_kind}: expected one of {self.variants}, "
                f"got {variant!r}"
            )
        return osp.join(self.model_dir, f"{self.label}_{variant.upper()}.pkl")

    def data(self, variant: str | None = None) -> dict[str, Any]:
        """Arrays of the file of ``variant`` (read once)."""
        variant = self.variants[0] if variant is None else variant
        if variant not in self._data:
            path = require_file(self.model_file(variant), self.label, self.website)
            self._data[variant] = check_body_model_arrays(load_model_pickle(path), path)
        return self._data[variant]

    def layer(self, variant: str | None = None) -> Any:
        """The smplx layer of ``variant`` (built on first use, then cached)."""
        variant = self.variants[0] if variant is None else variant
        if variant not in self._layers:
            self.model_file(variant)  # an unknown variant fails here, before any file is read
            self._layers[variant] = self._build(variant)
        return self._layers[variant]

    def _build(self, variant: str) -> torch.nn.Module:
        raise NotImplementedError

    @functools.cached_property
    def orig_joint_regressor(self) -> np.ndarray:
        """float32 (J_orig, V): the default variant's own J_regressor."""
        return to_np(self.data()["J_regressor"], dtype=np.float32)

    @functools.cached_property
    def joint_regressor(self) -> np.ndarray:
        """float32 (J, V): J_regressor rows by name, one-hot vertex rows for the other joints."""
        return _vertex_joint_regressor(
            self.orig_joint_regressor, self.orig_joints_name, self.joints_name,
            self.joint_vertex_ids,
        )  # fmt: skip


class SMPL(_SkinnedModel):
    """SMPL body model (neutral, male, female) with the Pose2Pose joint sets.

    ``layer(gender)`` forwards with ``global_orient`` (B,3), ``body_pose`` (B,69), ``betas``
    (B,10), axis-angle; returns ``vertices`` (B,6890,3) and ``joints`` (B,45,3), metres, no
    translation. The regressors come from the neutral file.
    """

    label, website, variant_kind = "SMPL", SMPL_WEBSITE, "gender"
    vertex_num = 6890
    face_num = 13776
    shape_param_dim = 10
    genders = variants = ("neutral", "male", "female")
    orig_joint_num = len(kp.SMPL_ORIG_JOINTS_NAME)  # 24
    orig_joints_name = kp.SMPL_ORIG_JOINTS_NAME
    orig_flip_pairs = kp.SMPL_ORIG_FLIP_PAIRS
    orig_root_joint_idx = kp.SMPL_ORIG_ROOT_IDX
    joint_num = len(kp.SMPL_JOINTS_NAME)  # 33, the supervision set
    joints_name = kp.SMPL_JOINTS_NAME
    flip_pairs = kp.SMPL_FLIP_PAIRS
    root_joint_idx = kp.SMPL_ROOT_IDX
    # Vertices picked by the 19 joints that SMPL's own regressor lacks (not smplx's vertex ids).
    joint_vertex_ids = {
        "L_Index_1": 2274, "L_Middle_1": 2270, "L_Ring_1": 2293, "L_Pinky_1": 2173,
        "R_Index_1": 5595, "R_Middle_1": 5675, "R_Ring_1": 5636, "R_Pinky_1": 5655,
        "Nose": 331, "L_Eye": 2802, "R_Eye": 6262, "L_Ear": 3489, "R_Ear": 3990,
        "L_Big_toe": 3292, "L_Small_toe": 3313, "L_Heel": 3468,
        "R_Big_toe": 6691, "R_Small_toe": 6713, "R_Heel": 6858,
    }  # fmt: skip
    pos_joint_num = len(kp.SMPL_POS_JOINTS_NAME)  # 25, the PositionNet set
    pos_joints_name = kp.SMPL_POS_JOINTS_NAME
    pos_joint_idx = kp.SMPL_POS_JOINT_IDX

    def _build(self, variant: str) -> smplx.SMPL:
        return smplx.SMPL(
            model_path=self.model_dir,
            data_struct=Struct(**self.data(variant)),
            gender=variant,
            create_body_pose=False,
            batch_size=1,
            dtype=torch.float32,
            **_NO_OWN_PARAMETERS,
        )

    @functools.cached_property
    def face(self) -> np.ndarray:
        """int64 (13776, 3): triangles of the neutral model."""
        return np.asarray(self.data("neutral")["f"], dtype=np.int64)


class MANO(_SkinnedModel):
    """MANO hand model (right, left) with the 21-joint set.

    ``layer(hand_type)`` forwards with ``global_orient`` (B,3), ``hand_pose`` (B,45) axis-angle
    offsets from the MANO mean pose (``flat_hand_mean=False``), ``betas`` (B,10); returns
    ``vertices`` (B,778,3) and ``joints`` (B,16,3), metres. Building the left layer also builds
    the right one, for the left-hand shapedirs correction. The regressors come from the right
    file (used for both hands).
    """

    label, website, variant_kind = "MANO", MANO_WEBSITE, "hand type"
    vertex_num = 778
    face_num = 1538
    shape_param_dim = 10
    hand_types = variants = ("right", "left")
    orig_joint_num = len(kp.MANO_ORIG_JOINTS_NAME)  # 16
    orig_joints_name = kp.MANO_ORIG_JOINTS_NAME
    orig_flip_pairs = kp.NO_FLIP_PAIRS
    orig_root_joint_idx = kp.MANO_ROOT_IDX
    joint_num = len(kp.MANO_JOINTS_NAME)  # 21
    joints_name = kp.MANO_JOINTS_NAME
    skeleton = kp.MANO_SKELETON
    flip_pairs = kp.NO_FLIP_PAIRS
    root_joint_idx = kp.MANO_ROOT_IDX
    # Fingertip vertices (not smplx's 744/320/443/554/671).
    joint_vertex_ids = {"Thumb_4": 745, "Index_4": 317, "Middle_4": 445, "Ring_4": 556,
                        "Pinky_4": 673}  # fmt: skip

    def _build(self, variant: str) -> smplx.MANO:
        layer = smplx.MANO(
            model_path=self.model_dir,
            is_rhand=variant == "right",
            data_struct=Struct(**self.data(variant)),
            use_pca=False,
            flat_hand_mean=False,
            create_hand_pose=False,
            batch_size=1,
            dtype=torch.float32,
            **_NO_OWN_PARAMETERS,
        )
        _freeze_body_pose(layer)
        if variant == "left":
            self._fix_left_shapedirs(layer, self.layer("right"))
        return layer

    @staticmethod
    def _fix_left_shapedirs(left: smplx.MANO, right: smplx.MANO) -> None:
        # QUIRK of the reference: the public MANO_LEFT file has the wrong sign on
        # the x component of its shape directions; detected by comparing with the right hand.
        if torch.sum(torch.abs(left.shapedirs[:, 0, :] - right.shapedirs[:, 0, :])) < 1:
            logger.info("Fix shapedirs bug of MANO")
            left.shapedirs[:, 0, :] *= -1

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
    orig_joint_num = joint_num = len(kp.FLAME_JOINTS_NAME)  # 73
    orig_joints_name = joints_name = kp.FLAME_JOINTS_NAME
    orig_flip_pairs = flip_pairs = kp.FLAME_FLIP_PAIRS
    orig_root_joint_idx = root_joint_idx = kp.FLAME_ROOT_IDX
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
            layer = FlameLayer(data, static, dynamic, **_NO_OWN_PARAMETERS)
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
