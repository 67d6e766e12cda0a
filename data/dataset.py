"""Dataset plumbing shared by every dataset: the multi-dataset wrapper and the per-part training
samples; the dataset interface itself is :class:`data.base.BaseDataset`. The annotation readers
(:mod:`data.annotations`) and the COCO index (:mod:`data.coco`) are re-exported here.

Sample dictionaries (collated by PyTorch's default collate; arrays float32, Python floats become
float64 tensors). Body training sample, J = 33 SMPL supervision joints:

- ``inputs``: ``img`` (3, H_in, W_in) RGB in [0, 1].
- ``targets``: ``joint_img`` (J, 3) heatmap cells, ``joint_cam`` (J, 3) root-relative m,
  ``smpl_joint_img`` (J, 3), ``smpl_joint_cam`` (J, 3), ``smpl_pose`` (72,), ``smpl_shape`` (10,).
- ``meta_info``: ``joint_valid`` (J, 1), ``joint_trunc`` (J, 1), ``smpl_joint_trunc`` (J, 1),
  ``smpl_joint_valid`` (J, 1) ones, ``smpl_pose_valid`` (72,) ones, ``smpl_shape_valid`` 1.0,
  ``is_3D`` (1.0 for 3D datasets, 0.0 for 2D datasets).
"""

from __future__ import annotations

import bisect
import random
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from common.utils.human_model_targets import HumanModelTargets
from common.utils.keypoints import FLAME_JOINTS_NAME, MANO_JOINTS_NAME, SMPL_JOINTS_NAME
from data.annotations import (  # noqa: F401  (re-exported: the datasets' and tests' import path)
    SPLITS,
    AnnotationError,
    check_split,
    get_key,
    get_keys,
    get_nested,
    load_json,
    require_path,
)
from data.bad_samples import BadSampleGuard
from data.coco import coco_index, get_image, merge_coco  # noqa: F401  (re-exported)
from data.samples import (
    BodyMeta,
    BodyTargets,
    FaceMeta,
    FaceTargets,
    HandMeta,
    HandTargets,
    Inputs,
)

Augmentation = tuple[np.ndarray, float, bool]  # (img2bb_trans (2, 3), rot (degrees), do_flip)


# ---- multi-dataset wrapper -----------------------------------------------------------------------


class MultipleDatasets(Dataset):
    """Several datasets seen as one, concatenated or stretched to the same length.

    ``make_same_len=True``: length ``max_len * n``; index ``i`` goes to dataset ``i // max_len``
    at ``i % max_len``, wrapped modulo the dataset's length; positions in its incomplete last lap
    (``>= L * (max_len // L)``) draw a uniform random sample with Python's ``random.randint``.
    ``make_same_len=False``: plain concatenation.

    Differences from the reference (which crashes there): an empty list or an
    empty dataset raises ``ValueError`` at construction; an index outside ``[0, len)`` raises
    ``IndexError``. A sample whose image is bad is replaced by the next one of its data set and
    counted (:mod:`data.bad_samples`; ``max_bad_share`` and ``strict`` are its limits; the
    outermost wrapper does it, nested ones pass the error up).
    """

    def __init__(
        self,
        dbs: Sequence[Dataset],
        make_same_len: bool = True,
        max_bad_share: float = 0.01,
        strict: bool = False,
    ) -> None:
        if len(dbs) == 0:
            raise ValueError("MultipleDatasets: the list of datasets is empty")
        lengths = [len(db) for db in dbs]  # type: ignore[arg-type]
        for db, length in zip(dbs, lengths):
            if length == 0:
                raise ValueError(
                    f"MultipleDatasets: dataset {type(db).__name__} has no sample; check its "
                    "data folder and annotation files"
                )
        self.dbs = list(dbs)
        self.db_num = len(dbs)
        self.db_lens = lengths
        self.max_db_data_num = max(lengths)
        self.db_len_cumsum = np.cumsum(lengths).tolist()
        self.make_same_len = make_same_len
        self.bad_samples: BadSampleGuard | None = BadSampleGuard(max_bad_share, strict)
        for db in self.dbs:
            if isinstance(db, MultipleDatasets):
                db.bad_samples = None  # this wrapper replaces and counts for it

    def __len__(self) -> int:
        if self.make_same_len:
            return self.max_db_data_num * self.db_num
        return self.db_len_cumsum[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """(dataset index, index inside it) of global ``index``; may draw a random number."""
        if not 0 <= index < len(self):
            raise IndexError(f"MultipleDatasets: index {index} out of range [0, {len(self)})")
        if self.make_same_len:
            db_idx, data_idx = divmod(index, self.max_db_data_num)
            db_len = self.db_lens[db_idx]
            laps = self.max_db_data_num // db_len
            if data_idx >= db_len * laps:
                return db_idx, random.randint(0, db_len - 1)
            return db_idx, data_idx % db_len
        db_idx = bisect.bisect_right(self.db_len_cumsum, index)
        start = self.db_len_cumsum[db_idx - 1] if db_idx > 0 else 0
        return db_idx, index - start

    def __getitem__(self, index: int) -> Any:
        db_idx, data_idx = self.locate(index)
        if self.bad_samples is None:
            return self.dbs[db_idx][data_idx]
        return self.bad_samples.fetch(self.dbs[db_idx], data_idx, len(self))


# ---- sample assembly -----------------------------------------------------------------------------


def metric_joints(
    joint_img: np.ndarray, joint_cam: np.ndarray, root_idx: int
) -> tuple[np.ndarray, np.ndarray]:
    """3D annotation in mm -> the ``(joint_img, joint_cam)`` inputs of ``train_sample``
    (:meth:`data.base.BaseDataset.train_sample`).

    Args:
        joint_img: (J, >=2) image px; joint_cam: (J, 3) camera frame, mm; root_idx: root joint.

    Returns:
        ``joint_img (J, 3)``: px x, y and root-relative depth in m; ``joint_cam (J, 3)``:
        root-relative, m.
    """
    joint_cam = (joint_cam - joint_cam[root_idx, None, :]) / 1000  # (J, 3) m
    return np.concatenate((joint_img[:, :2], joint_cam[:, 2:]), 1), joint_cam


def camera_in_m(cam_param: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a camera with translation ``t`` in mm converted to m."""
    return dict(cam_param, t=cam_param["t"] / 1000)


def body_train_sample(
    img: torch.Tensor,
    joint_img: np.ndarray,
    joint_cam: np.ndarray,
    joint_valid: np.ndarray,
    joint_trunc: np.ndarray,
    smpl: HumanModelTargets,
    is_3d: bool,
) -> tuple[Inputs, BodyTargets, BodyMeta]:
    """Assemble the body training triple (keys documented in the module)."""
    pose = smpl.pose
    if pose is None:
        raise ValueError("body_train_sample: expected SMPL targets (with a pose)")
    targets: BodyTargets = {
        "joint_img": joint_img,
        "joint_cam": joint_cam,
        "smpl_joint_img": smpl.joint_img,
        "smpl_joint_cam": smpl.joint_cam,
        "smpl_pose": pose,
        "smpl_shape": smpl.shape,
    }
    meta_info = {
        "smpl_joint_trunc": smpl.joint_trunc,
        "smpl_joint_valid": np.ones_like(smpl.joint_trunc),
        "smpl_pose_valid": np.ones(len(pose), dtype=np.float32),
        "smpl_shape_valid": 1.0,
    }
    return _triple(img, targets, joint_valid, joint_trunc, is_3d, meta_info)


def _triple(
    img: torch.Tensor,
    targets: dict[str, Any],
    joint_valid: np.ndarray,
    joint_trunc: np.ndarray,
    is_3d: bool,
    model_meta: dict[str, Any],
) -> tuple[Inputs, Any, Any]:
    """``(inputs, targets, meta_info)`` of a training sample: ``meta_info`` gets the dataset
    joints' validity and truncation first, the model's validities, then ``is_3D`` (the key order
    of :mod:`data.samples`' ``*Meta`` declarations)."""
    meta_info = {"joint_valid": joint_valid, "joint_trunc": joint_trunc, **model_meta}
    meta_info["is_3D"] = float(is_3d)
    return {"img": img}, targets, meta_info


def hand_train_sample(
    img: torch.Tensor,
    joint_img: np.ndarray,
    joint_cam: np.ndarray,
    joint_valid: np.ndarray,
    joint_trunc: np.ndarray,
    mano: HumanModelTargets | None,
    is_3d: bool,
) -> tuple[Inputs, HandTargets, HandMeta]:
    """Assemble the hand training triple (J = 21 MANO joints).

    ``targets``: ``joint_img`` (J, 3) heatmap cells, ``mano_joint_img`` (J, 3), ``joint_cam``
    (J, 3) m, ``mano_joint_cam`` (J, 3) m, ``mano_pose`` (48,), ``mano_shape`` (10,).
    ``meta_info``: ``joint_valid``, ``joint_trunc``, ``mano_joint_trunc``, ``mano_joint_valid``
    (J, 1), ``mano_pose_valid`` (48,), ``mano_shape_valid`` and ``is_3D`` (Python floats).
    A sample without a MANO fit (``mano=None``) gets zero MANO targets and zero MANO validities.
    """
    if mano is None:
        joint_num = len(joint_img)
        mano_joint_img = np.zeros((joint_num, 3), dtype=np.float32)
        mano_joint_cam = np.zeros((joint_num, 3), dtype=np.float32)
        mano_joint_trunc = np.zeros((joint_num, 1), dtype=np.float32)
        mano_pose = np.zeros(48, dtype=np.float32)
        mano_shape = np.zeros(10, dtype=np.float32)
        fit_valid = 0.0
    else:
        if mano.pose is None:
            raise ValueError("hand_train_sample: expected MANO targets (with a pose)")
        mano_joint_img, mano_joint_cam, mano_joint_trunc = (
            mano.joint_img,
            mano.joint_cam,
            mano.joint_trunc,
        )
        mano_pose, mano_shape = mano.pose, mano.shape
        fit_valid = 1.0
    targets: HandTargets = {
        "joint_img": joint_img,
        "mano_joint_img": mano_joint_img,
        "joint_cam": joint_cam,
        "mano_joint_cam": mano_joint_cam,
        "mano_pose": mano_pose,
        "mano_shape": mano_shape,
    }
    meta_info = {
        "mano_joint_trunc": mano_joint_trunc,
        "mano_joint_valid": np.full_like(mano_joint_trunc, fit_valid),
        "mano_pose_valid": np.full(len(mano_pose), fit_valid, dtype=np.float32),
        "mano_shape_valid": fit_valid,
    }
    return _triple(img, targets, joint_valid, joint_trunc, is_3d, meta_info)


def face_train_sample(
    img: torch.Tensor,
    joint_img: np.ndarray,
    joint_cam: np.ndarray,
    joint_valid: np.ndarray,
    joint_trunc: np.ndarray,
    flame: HumanModelTargets,
    is_3d: bool,
) -> tuple[Inputs, FaceTargets, FaceMeta]:
    """Assemble the face training triple (J = 73 FLAME joints).

    ``targets``: ``joint_img`` (J, 3) heatmap cells, ``joint_cam`` (J, 3) m,
    ``flame_joint_cam`` (J, 3) m, ``flame_root_pose``, ``flame_jaw_pose`` (3,), ``flame_shape``,
    ``flame_expr`` (10,). ``meta_info``: ``joint_valid``, ``joint_trunc``, ``flame_joint_valid``
    (J, 1) ones, ``flame_root_pose_valid``, ``flame_jaw_pose_valid``, ``flame_shape_valid``,
    ``flame_expr_valid`` (1.0) and ``is_3D`` (Python floats). The FLAME 2D projection is not a
    target.
    """
    if flame.root_pose is None or flame.jaw_pose is None or flame.expr is None:
        raise ValueError("face_train_sample: expected FLAME targets (root/jaw pose, expression)")
    targets: FaceTargets = {
        "joint_img": joint_img,
        "joint_cam": joint_cam,
        "flame_joint_cam": flame.joint_cam,
        "flame_root_pose": flame.root_pose,
        "flame_jaw_pose": flame.jaw_pose,
        "flame_shape": flame.shape,
        "flame_expr": flame.expr,
    }
    meta_info = {
        "flame_joint_valid": np.ones((len(flame.joint_cam), 1), dtype=np.float32),
        "flame_root_pose_valid": 1.0,
        "flame_jaw_pose_valid": 1.0,
        "flame_shape_valid": 1.0,
        "flame_expr_valid": 1.0,
    }
    return _triple(img, targets, joint_valid, joint_trunc, is_3d, meta_info)


# part -> (model joint names, model type, triple assembler) of data.base.BaseDataset.train_sample
PART_TARGETS: dict[str, tuple[Sequence[str], str, Callable[..., Any]]] = {
    "body": (SMPL_JOINTS_NAME, "smpl", body_train_sample),
    "hand": (MANO_JOINTS_NAME, "mano", hand_train_sample),
    "face": (FLAME_JOINTS_NAME, "flame", face_train_sample),
}
