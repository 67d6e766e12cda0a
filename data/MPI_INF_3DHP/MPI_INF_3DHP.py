"""MPI-INF-3DHP: 3D training set with SMPL NeuralAnnot fits; one set of files.

Layout under ``<data_dir>/MPI_INF_3DHP/data/``::

    MPI-INF-3DHP_1k.json                 COCO format (images down-sampled to about 1K)
    MPI-INF-3DHP_camera_1k.json          {subject: {seq: {cam: {R, t (mm), focal, princpt}}}}
    MPI-INF-3DHP_joint_3d.json           {subject: {seq: {frame: 17x3 world mm}}}
    MPI-INF-3DHP_SMPL_NeuralAnnot.json   {subject: {seq: {frame: {pose, shape, trans}}}}, world
    images_1k/S{subject}/Seq{seq}/imageSequence/<file_name>
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import numpy as np

from common.utils.keypoints import (
    MPI_INF_3DHP_FLIP_PAIRS,
    MPI_INF_3DHP_JOINTS_NAME,
    MPI_INF_3DHP_ROOT_IDX,
)
from common.utils.transforms import world2pixel
from data.base import BaseDataset, dataset_roles
from data.dataset import (
    camera_in_m,
    coco_index,
    get_key,
    get_keys,
    get_nested,
    load_json,
    metric_joints,
    require_path,
)

NAME = "MPI_INF_3DHP"
DOWNLOAD_HINT = (
    "Download the parsed MPI-INF-3DHP data (1K images, annotations and SMPL NeuralAnnot fits; "
    "Google-Drive links in the original Pose2Pose README) into <data_dir>/MPI_INF_3DHP/data/ "
    "with the layout of the README table 'Data sets'."
)
FRAME_STRIDE = 3  # keep frames with frame_idx % 3 == 0
FILES = {
    "data": "MPI-INF-3DHP_1k.json",
    "camera": "MPI-INF-3DHP_camera_1k.json",
    "joint": "MPI-INF-3DHP_joint_3d.json",
    "smpl": "MPI-INF-3DHP_SMPL_NeuralAnnot.json",
}


class MPI_INF_3DHP(BaseDataset):  # noqa: N801 (the reference's dataset name)
    """MPI-INF-3DHP, constructed as ``MPI_INF_3DHP(cfg, transform, data_split)``.

    Every split reads the same files and returns the training structure; the split only decides
    whether the augmentation is random ('train') or the identity.
    """

    name = NAME
    roles = dataset_roles(train=("body",))  # no evaluation: never a test set

    joints_name = MPI_INF_3DHP_JOINTS_NAME  # 17 joints
    flip_pairs = MPI_INF_3DHP_FLIP_PAIRS
    root_joint_idx = MPI_INF_3DHP_ROOT_IDX

    def load_records(self) -> list[dict[str, Any]]:
        require_path(self.data_dir, NAME, DOWNLOAD_HINT)
        db, cameras, joints, fits = (
            load_json(osp.join(self.data_dir, FILES[key]), NAME, DOWNLOAD_HINT)
            for key in ("data", "camera", "joint", "smpl")
        )
        anns, images = coco_index(db, NAME, FILES["data"])
        datalist = []
        for ann, img in self.coco_entries(anns, images):
            img_desc = f"image {ann['image_id']}"
            subject, seq, frame, cam_idx = get_keys(
                img, ("subject_idx", "seq_idx", "frame_idx", "cam_idx"), NAME, img_desc
            )
            if frame % FRAME_STRIDE != 0:
                self.drop("frame_not_sampled")
                continue
            cam = get_nested(cameras, (subject, seq, cam_idx), NAME, FILES["camera"])
            R, t, focal, princpt = (
                np.array(v, dtype=np.float32)
                for v in get_keys(cam, ("R", "t", "focal", "princpt"), NAME,
                                  f"camera [{subject}][{seq}][{cam_idx}]")
            )  # fmt: skip
            joint_world = np.array(
                get_nested(joints, (subject, seq, frame), NAME, FILES["joint"]), dtype=np.float32
            )  # (17, 3) mm
            # (17, 3) camera mm; (17, 3) image px, depth replaced later
            joint_cam, joint_img = world2pixel(joint_world, R, t, focal, princpt)
            file_name, width, height = get_keys(
                img, ("file_name", "width", "height"), NAME, img_desc
            )
            ann_desc = f"annotation {ann['id']}"
            bbox = self.screen_box(get_key(ann, "bbox", NAME, ann_desc), width, height, ann_desc)
            if bbox is None:
                continue
            smpl_param = get_nested(fits, (subject, seq, frame), NAME, FILES["smpl"])
            img_path = osp.join(
                self.data_dir, "images_1k", f"S{subject}", f"Seq{seq}", "imageSequence", file_name
            )
            datalist.append(
                {
                    "img_path": img_path,
                    "img_id": ann["image_id"],
                    "img_shape": (height, width),
                    "bbox": bbox,
                    "joint_img": joint_img,
                    "joint_cam": joint_cam,
                    "joint_valid": np.ones((len(MPI_INF_3DHP_JOINTS_NAME), 1), dtype=np.float32),
                    "cam_param": {"R": R, "t": t, "focal": focal, "princpt": princpt},  # t in mm
                    "smpl_param": smpl_param,
                }
            )
        return datalist

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        data = self.datalist[idx]
        joint_img, joint_cam = metric_joints(
            data["joint_img"], data["joint_cam"], self.root_joint_idx
        )
        return self.annotated_sample(
            "body", data, joint_img, joint_cam, self.joints_name, self.flip_pairs,
            (data["smpl_param"], camera_in_m(data["cam_param"])), is_3d=True,
        )  # fmt: skip
