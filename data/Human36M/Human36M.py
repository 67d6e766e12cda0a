"""Human3.6M: 3D training set (subjects 1, 5, 6, 7, 8) and protocol-2 test set (9, 11).

Layout under ``<data_dir>/Human36M/``::

    images/<file_name from the JSON>
    annotations/Human36M_subject{S}_data.json            COCO format
    annotations/Human36M_subject{S}_camera.json          {cam_idx: {R, t (mm), f, c}}
    annotations/Human36M_subject{S}_joint_3d.json        {action: {subaction: {frame: 17x3 mm}}}
    annotations/Human36M_subject{S}_SMPL_NeuralAnnot.json {action: {subaction: {frame: fit}}}
    J_regressor_h36m_smpl.npy                            (17, 6890), for evaluation
"""

from __future__ import annotations

import os.path as osp
from typing import Any, Sequence

import numpy as np

from common.utils.keypoints import (
    H36M_EVAL_JOINTS,
    H36M_FLIP_PAIRS,
    H36M_JOINTS_NAME,
    H36M_ROOT_IDX,
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
    merge_coco,
    metric_joints,
    require_path,
)
from data.metrics import (
    format_mean_results,
    h36m_eval_joints,
    h36m_test_regressor,
    load_h36m_regressor,
    mean_distance,
    pa_mean_distance,
)

NAME = "Human36M"
DOWNLOAD_HINT = (
    "Download the parsed Human3.6M data (images, annotations with the SMPL NeuralAnnot fits; "
    "Google-Drive links in the original Pose2Pose README) into <data_dir>/Human36M/ with the "
    "layout of the README table 'Data sets'."
)
SUBJECTS = {"train": (1, 5, 6, 7, 8), "test": (9, 11)}
SAMPLING_RATIO = {"train": 5, "test": 64}  # keep frames with frame_idx % ratio == 0
TEST_CAMERA = "4"  # protocol 2 (HMR, SPIN): frontal camera only


class Human36M(BaseDataset):
    """Human3.6M, constructed as ``Human36M(cfg, transform, data_split)``."""

    name = NAME
    roles = dataset_roles(train=("body",), test=("body",))
    can_evaluate = True

    joints_name = H36M_JOINTS_NAME
    flip_pairs = H36M_FLIP_PAIRS
    root_joint_idx = H36M_ROOT_IDX
    eval_joint = H36M_EVAL_JOINTS

    def setup(self) -> None:
        self.img_dir = osp.join(self.root_dir, "images")
        self.annot_dir = osp.join(self.root_dir, "annotations")

    def finish_loading(self) -> None:
        self.j_regressor = h36m_test_regressor(self.cfg.data_dir, self.data_split)

    def _annot_file(self, subject: int, kind: str) -> str:
        return osp.join(self.annot_dir, f"Human36M_subject{subject}_{kind}.json")

    def load_records(self) -> list[dict[str, Any]]:
        require_path(self.root_dir, NAME, DOWNLOAD_HINT)
        split = self.data_split
        data, cameras, joints, smpl_params = [], {}, {}, {}
        for subject in SUBJECTS[split]:
            data.append(load_json(self._annot_file(subject, "data"), NAME, DOWNLOAD_HINT))
            cameras[str(subject)] = load_json(
                self._annot_file(subject, "camera"), NAME, DOWNLOAD_HINT
            )
            joints[str(subject)] = load_json(
                self._annot_file(subject, "joint_3d"), NAME, DOWNLOAD_HINT
            )
            smpl_params[str(subject)] = load_json(
                self._annot_file(subject, "SMPL_NeuralAnnot"), NAME, DOWNLOAD_HINT
            )
        anns, images = coco_index(merge_coco(data), NAME, "Human36M_subject*_data.json")

        datalist = []
        for ann, img in self.coco_entries(anns, images):
            img_desc = f"image {ann['image_id']}"
            frame_idx = get_key(img, "frame_idx", NAME, img_desc)
            if frame_idx % SAMPLING_RATIO[split] != 0:
                self.drop("frame_not_sampled")
                continue
            subject, action_idx, subaction_idx, cam_idx = get_keys(
                img, ("subject", "action_idx", "subaction_idx", "cam_idx"), NAME, img_desc
            )
            frame_key = (subject, action_idx, subaction_idx, frame_idx)
            smpl_param = get_nested(smpl_params, frame_key, NAME, "SMPL_NeuralAnnot.json")
            cam = get_nested(cameras, (subject, cam_idx), NAME, "camera.json")
            R, t, f, c = (
                np.array(v, dtype=np.float32)
                for v in get_keys(
                    cam, ("R", "t", "f", "c"), NAME, f"subject {subject} camera {cam_idx}"
                )
            )
            cam_param = {"R": R, "t": t, "focal": f, "princpt": c}  # t in mm
            if split == "test" and str(cam_idx) != TEST_CAMERA:
                self.drop("not_test_camera")
                continue
            joint_world = np.array(
                get_nested(joints, frame_key, NAME, "joint_3d.json"), dtype=np.float32
            )  # (17, 3) mm
            joint_cam, joint_img = world2pixel(joint_world, R, t, f, c)  # (17, 3) mm, px
            joint_img = joint_img[:, :2]  # (17, 2) image px
            width, height, file_name = get_keys(
                img, ("width", "height", "file_name"), NAME, img_desc
            )
            ann_desc = f"annotation {ann['id']}"
            ann_bbox = get_key(ann, "bbox", NAME, ann_desc)
            bbox = self.screen_box(ann_bbox, width, height, ann_desc)
            if bbox is None:
                continue
            datalist.append(
                {
                    "img_path": osp.join(self.img_dir, file_name),
                    "img_shape": (height, width),
                    "bbox": bbox,
                    "joint_img": joint_img,
                    "joint_cam": joint_cam,
                    "joint_valid": np.ones((len(H36M_JOINTS_NAME), 1), dtype=np.float32),
                    "smpl_param": smpl_param,
                    "cam_param": cam_param,
                }
            )
        return datalist

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        data = self.datalist[idx]
        img, img2bb_trans, _, rot, do_flip = self.load_patch(data["img_path"], data["bbox"])
        if self.data_split != "train":
            return {"img": img}, {}, {"bbox": data["bbox"]}

        root = self.root_joint_idx
        joint_img, joint_cam = metric_joints(data["joint_img"], data["joint_cam"], root)
        return self.train_sample(
            "body", img, (img2bb_trans, rot, do_flip), data["img_shape"], joint_img, joint_cam,
            data["joint_valid"], self.joints_name, self.flip_pairs,
            (data["smpl_param"], camera_in_m(data["cam_param"])), is_3d=True,
        )  # fmt: skip

    def evaluate(
        self, outs: Sequence[dict[str, np.ndarray]], cur_sample_idx: int
    ) -> dict[str, list]:
        """MPJPE and PA-MPJPE (mm) on the 14 evaluation joints.

        Ground truth: the motion-capture joints, root-relative. Prediction: the H36M regressor
        applied to ``out['smpl_mesh_cam']`` (m, scaled to mm), root-relative at its own Pelvis.
        """
        if self.j_regressor is None:
            self.j_regressor = load_h36m_regressor(self.cfg.data_dir)
        eval_result: dict[str, list] = {"mpjpe": [], "pa_mpjpe": []}
        eval_joint = list(self.eval_joint)
        for n, out in enumerate(outs):
            annot = self.datalist[cur_sample_idx + n]
            joint_gt = annot["joint_cam"] - annot["joint_cam"][self.root_joint_idx, None, :]
            joint_gt = joint_gt[eval_joint]  # (14, 3) mm
            joint_out = h36m_eval_joints(self.j_regressor, out["smpl_mesh_cam"] * 1000)  # mm
            eval_result["mpjpe"].append(mean_distance(joint_out, joint_gt))
            eval_result["pa_mpjpe"].append(pa_mean_distance(joint_out, joint_gt))
        return eval_result

    def print_eval_result(self, eval_result: dict[str, list]) -> None:
        """Print ``MPJPE: %.2f mm`` and ``PA MPJPE: %.2f mm`` (means over all samples)."""
        lines = format_mean_results(eval_result, (("mpjpe", "MPJPE"), ("pa_mpjpe", "PA MPJPE")))
        print("\n".join(lines))  # the test program's result, on stdout as the reference
