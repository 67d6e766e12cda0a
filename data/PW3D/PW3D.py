"""3DPW: the default body test set, ground truth = gendered SMPL meshes.

Layout under ``<data_dir>/PW3D/data/`` (``imageFiles`` inside ``data/``, as the original code
reads it; the original README draws it one level higher)::

    3DPW_{train,validation,test}.json       COCO format with camera and SMPL parameters
    imageFiles/<sequence>/<file_name>

Evaluation also needs ``<data_dir>/Human36M/J_regressor_h36m_smpl.npy``.
"""

from __future__ import annotations

import os.path as osp
from typing import Any, Sequence

import numpy as np

from common.utils.keypoints import H36M_EVAL_JOINTS, H36M_ROOT_IDX
from data.base import BaseDataset, dataset_roles
from data.dataset import (
    coco_index,
    get_key,
    get_keys,
    load_json,
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

NAME = "PW3D"
DOWNLOAD_HINT = (
    "Download 3DPW (imageFiles from the 3DPW website) and the parsed annotation files "
    "3DPW_{train,validation,test}.json (Google-Drive link in the original Pose2Pose README) into "
    "<data_dir>/PW3D/data/ with the layout of the README table 'Data sets'."
)
SPLITS = ("train", "validation", "test")


class PW3D(BaseDataset):
    """3DPW, constructed as ``PW3D(cfg, transform, data_split)``; every split returns the test
    structure (image, GT mesh) and only ``'train'`` is augmented."""

    name = NAME
    splits = SPLITS
    # Every split yields the test structure (image, GT mesh), so 3DPW is no training set.
    roles = dataset_roles(test=("body",))
    can_evaluate = True

    eval_joint = H36M_EVAL_JOINTS

    def finish_loading(self) -> None:
        self.j_regressor = h36m_test_regressor(self.cfg.data_dir, self.data_split)

    def load_records(self) -> list[dict[str, Any]]:
        require_path(self.data_dir, NAME, DOWNLOAD_HINT)
        file_name = f"3DPW_{self.data_split}.json"
        db = load_json(osp.join(self.data_dir, file_name), NAME, DOWNLOAD_HINT)
        anns, images = coco_index(db, NAME, file_name)
        datalist = []
        for ann, img in self.coco_entries(anns, images):
            img_desc = f"image {ann['image_id']}"
            sequence, img_name, width, height, cam = get_keys(
                img, ("sequence", "file_name", "width", "height", "cam_param"), NAME, img_desc
            )
            ann_desc = f"annotation {ann['id']}"
            bbox, smpl_param = get_keys(ann, ("bbox", "smpl_param"), NAME, ann_desc)
            get_keys(smpl_param, ("pose", "shape", "trans"), NAME, f"{ann_desc} smpl_param")
            cam_param = {
                key: np.array(get_key(cam, key, NAME, f"{img_desc} cam_param"), dtype=np.float32)
                for key in ("focal", "princpt")
            }
            bbox = self.screen_box(bbox, width, height, ann_desc)
            if bbox is None:
                continue
            datalist.append(
                {
                    "img_path": osp.join(self.data_dir, "imageFiles", sequence, img_name),
                    "ann_id": ann["id"],
                    "img_shape": (height, width),
                    "bbox": bbox,
                    "smpl_param": smpl_param,
                    "cam_param": cam_param,
                }
            )
        return datalist

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        data = self.datalist[idx]
        img, img2bb_trans, bb2img_trans, rot, do_flip = self.load_patch(
            data["img_path"], data["bbox"]
        )
        smpl = self.fit_targets(
            data["smpl_param"], data["cam_param"], (img2bb_trans, rot, do_flip), data["img_shape"],
            "smpl", with_mesh=True,
        )  # fmt: skip
        inputs = {"img": img}
        targets = {"smpl_mesh_cam": smpl.mesh_cam_orig}  # (6890, 3) GT mesh, camera frame, m
        meta_info = {"bbox": data["bbox"], "bb2img_trans": bb2img_trans}
        return inputs, targets, meta_info

    def evaluate(
        self, outs: Sequence[dict[str, np.ndarray]], cur_sample_idx: int
    ) -> dict[str, list]:
        """MPJPE, PA-MPJPE (14 H36M joints) and MPVPE, PA-MPVPE (6890 vertices), mm.

        Joints of GT and prediction come from the H36M regressor, each root-relative at its own
        Pelvis; meshes are made relative to their own regressed Pelvis.
        """
        if self.j_regressor is None:
            self.j_regressor = load_h36m_regressor(self.cfg.data_dir)
        regressor, root = self.j_regressor, H36M_ROOT_IDX
        eval_result: dict[str, list] = {"mpjpe": [], "pa_mpjpe": [], "mpvpe": [], "pa_mpvpe": []}
        for out in outs:
            mesh_gt = out["smpl_mesh_cam_target"]  # (6890, 3) m
            mesh_out = out["smpl_mesh_cam"]  # (6890, 3) m, with the predicted translation
            joint_gt = h36m_eval_joints(regressor, mesh_gt)  # (14, 3) m
            joint_out = h36m_eval_joints(regressor, mesh_out)
            eval_result["mpjpe"].append(mean_distance(joint_out, joint_gt) * 1000)
            eval_result["pa_mpjpe"].append(pa_mean_distance(joint_out, joint_gt) * 1000)
            mesh_gt = mesh_gt - np.dot(regressor, mesh_gt)[root, None, :]
            mesh_out = mesh_out - np.dot(regressor, mesh_out)[root, None, :]
            eval_result["mpvpe"].append(mean_distance(mesh_out, mesh_gt) * 1000)
            eval_result["pa_mpvpe"].append(pa_mean_distance(mesh_out, mesh_gt) * 1000)
        return eval_result

    def print_eval_result(self, eval_result: dict[str, list]) -> None:
        """Print MPJPE, PA MPJPE, MPVPE, PA MPVPE (``%.2f mm``, means over all samples)."""
        lines = format_mean_results(
            eval_result,
            (
                ("mpjpe", "MPJPE"),
                ("pa_mpjpe", "PA MPJPE"),
                ("mpvpe", "MPVPE"),
                ("pa_mpvpe", "PA MPVPE"),
            ),
        )
        print("\n".join(lines))  # the test program's result, on stdout as the reference
