"""MPII: 2D training set with SMPL NeuralAnnot fits; training annotations only.

Layout under ``<data_dir>/MPII/data/``::

    annotations/train.json                      COCO format (converted MPII), 16 keypoints
    annotations/MPII_train_SMPL_NeuralAnnot.json {str(annotation id): {smpl_param, cam_param}}
    <file_name from train.json>                 images, e.g. images/015601864.jpg
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np

from common.utils.keypoints import MPII_FLIP_PAIRS, MPII_JOINTS_NAME
from data.base import BaseDataset, dataset_roles
from data.dataset import (
    coco_index,
    get_key,
    get_keys,
    get_nested,
    load_json,
    require_path,
)

NAME = "MPII"
DOWNLOAD_HINT = (
    "Download the MPII images (MPII Human Pose website) and the parsed annotations with the SMPL "
    "NeuralAnnot fits (Google-Drive links in the original Pose2Pose README) into "
    "<data_dir>/MPII/data/ with the layout of the README table 'Data sets'."
)


class MPII(BaseDataset):
    """MPII, constructed as ``MPII(cfg, transform, data_split)``.

    Whatever the split, the training annotations are read and the training structure is returned;
    the split only decides whether the augmentation is random ('train') or the identity.
    """

    name = NAME
    roles = dataset_roles(train=("body",))  # no evaluation: never a test set

    joints_name = MPII_JOINTS_NAME  # 16 joints
    flip_pairs = MPII_FLIP_PAIRS

    def load_records(self) -> list[dict[str, Any]]:
        require_path(self.data_dir, NAME, DOWNLOAD_HINT)
        annot_dir = osp.join(self.data_dir, "annotations")
        db = load_json(osp.join(annot_dir, "train.json"), NAME, DOWNLOAD_HINT)
        fits = load_json(
            osp.join(annot_dir, "MPII_train_SMPL_NeuralAnnot.json"), NAME, DOWNLOAD_HINT
        )
        anns, images = coco_index(db, NAME, "train.json")
        datalist = []
        for ann, img in self.coco_entries(anns, images):
            file_name, width, height = get_keys(
                img, ("file_name", "width", "height"), NAME, f"image {ann['image_id']}"
            )
            ann_desc = f"annotation {ann['id']}"
            bbox = self.screen_box(get_key(ann, "bbox", NAME, ann_desc), width, height, ann_desc)
            if bbox is None:
                continue
            keypoints = np.array(get_key(ann, "keypoints", NAME, ann_desc), dtype=np.float32)
            if keypoints.size != 3 * len(MPII_JOINTS_NAME):
                raise ValueError(
                    f"{NAME}: {ann_desc} has {keypoints.size} keypoint numbers, expected "
                    f"{3 * len(MPII_JOINTS_NAME)} (16 joints x (x, y, v))"
                )
            joint_img = keypoints.reshape(-1, 3)
            # QUIRK: the visibility flag is copied, not thresholded (a 2 weighs 2).
            joint_valid = joint_img[:, 2:].copy()
            joint_img[:, 2] = 0
            fit = get_nested(fits, (ann["id"],), NAME, "MPII_train_SMPL_NeuralAnnot.json")
            datalist.append(
                {
                    "img_path": osp.join(self.data_dir, file_name),
                    "img_shape": (height, width),
                    "bbox": bbox,
                    "joint_img": joint_img,  # (16, 3) image px, depth 0
                    "joint_valid": joint_valid,  # (16, 1)
                    "smpl_param": get_key(fit, "smpl_param", NAME, ann_desc),
                    "cam_param": get_key(fit, "cam_param", NAME, ann_desc),
                }
            )
        return datalist

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        data = self.datalist[idx]
        return self.annotated_sample(
            "body", data, data["joint_img"], None, self.joints_name, self.flip_pairs,
            (data["smpl_param"], data["cam_param"]), is_3d=False,
        )  # fmt: skip
