"""FFHQ: face images with FLAME-ordered 2D landmarks and FLAME pseudo-GT.

Layout under ``<data_dir>/FFHQ/`` (the paths the original code reads; its README draws
``FFHQ.json`` and ``FFHQ_FLAME_NeuralAnnot.json`` one level higher)::

    data/FFHQ.json            COCO format; keypoints are 73 x (x, y) in FLAME joint order
    data/flame_param.json     NeuralAnnot FLAME fits, keyed by str(annotation id)
    data/images/<file_name>

There is no split: 'train' and 'test' read the same samples and return the same structure (test
without augmentation); there is no metric.
"""

from __future__ import annotations

import os.path as osp
from typing import Any, Sequence

import numpy as np

from common.utils.human_models import FLAME
from data.base import BaseDataset, dataset_roles
from data.dataset import (
    AnnotationError,
    coco_index,
    get_key,
    get_keys,
    load_json,
    require_path,
)

NAME = "FFHQ"
DOWNLOAD_HINT = (
    "Download the FFHQ images and the parsed FFHQ.json / FLAME NeuralAnnot fits (links in the "
    "original Pose2Pose README) into <data_dir>/FFHQ/data/ as FFHQ.json, flame_param.json and "
    "images/ (README table 'Data sets')."
)
COCO_FILE = "FFHQ.json"
FLAME_FILE = "flame_param.json"


class FFHQ(BaseDataset):
    """FFHQ, constructed as ``FFHQ(cfg, transform, data_split)``; 2D-supervised (``is_3D = 0``)."""

    name = NAME
    # A test set without a metric: evaluate returns {} (the test run still completes).
    roles = dataset_roles(train=("face",), test=("face",))
    can_evaluate = True

    def load_records(self) -> list[dict[str, Any]]:
        require_path(self.data_dir, NAME, DOWNLOAD_HINT)
        db = load_json(osp.join(self.data_dir, COCO_FILE), NAME, DOWNLOAD_HINT)
        flame_params = load_json(osp.join(self.data_dir, FLAME_FILE), NAME, DOWNLOAD_HINT)
        anns, images = coco_index(db, NAME, COCO_FILE)
        datalist = []
        for ann, img in self.coco_entries(anns, images):
            file_name, width, height = get_keys(
                img, ("file_name", "width", "height"), NAME, f"{COCO_FILE} image {ann['image_id']}"
            )
            ann_desc = f"{COCO_FILE} annotation {ann['id']}"
            keypoints, keypoints_valid, bbox = get_keys(
                ann, ("keypoints", "keypoints_valid", "bbox"), NAME, ann_desc
            )
            joint_img = np.array(keypoints, dtype=np.float32)
            joint_valid = np.array(keypoints_valid, dtype=np.float32)
            if joint_img.size != 2 * FLAME.joint_num or joint_valid.size != FLAME.joint_num:
                raise AnnotationError(
                    f"{NAME}: {ann_desc} must have {2 * FLAME.joint_num} keypoint numbers and "
                    f"{FLAME.joint_num} validities, got {joint_img.size} and {joint_valid.size}"
                )
            joint_img = joint_img.reshape(-1, 2)
            joint_img = np.concatenate((joint_img, np.zeros_like(joint_img[:, :1])), 1)  # (73, 3)
            bbox = self.screen_box(bbox, width, height, ann_desc)
            if bbox is None:
                continue
            flame = get_key(flame_params, str(ann["id"]), NAME, FLAME_FILE)
            get_keys(flame, ("flame_param", "cam_param"), NAME, f"{FLAME_FILE} [{ann['id']}]")
            datalist.append(
                {
                    "img_path": osp.join(self.data_dir, "images", file_name),
                    "img_shape": (height, width),
                    "bbox": bbox,
                    "joint_img": joint_img,  # (73, 3) image px, depth 0
                    "joint_valid": joint_valid.reshape(-1, 1),  # (73, 1)
                    "flame_param": flame["flame_param"],
                    "cam_param": flame["cam_param"],
                    "ann_id": ann["id"],
                }
            )
        return datalist

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The face training triple in both modes; test mode is unaugmented."""
        data = self.datalist[idx]
        return self.annotated_sample(
            "face", data, data["joint_img"], None, FLAME.joints_name, FLAME.flip_pairs,
            (data["flame_param"], data["cam_param"]), is_3d=False,
        )  # fmt: skip

    def evaluate(
        self, outs: Sequence[dict[str, np.ndarray]], cur_sample_idx: int
    ) -> dict[str, list]:
        """No metric: returns ``{}``."""
        return {}

    def print_eval_result(self, eval_result: dict[str, list]) -> None:
        """No metric: prints nothing."""
