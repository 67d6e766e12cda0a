"""InterHand2.6M: 3D hands with keypoints and MANO pseudo-GT; left hands mirrored.

Layout under ``<data_dir>/InterHand26M/`` (``<split>`` = ``train`` or ``test``)::

    images/<split>/Capture<capture>/<seq_name>/cam<cam>/image<frame>.jpg
    annotations/<split>/InterHand2.6M_<split>_data.json            COCO format
    annotations/<split>/InterHand2.6M_<split>_camera.json
    annotations/<split>/InterHand2.6M_<split>_joint_3d.json
    annotations/<split>/InterHand2.6M_<split>_MANO_NeuralAnnot.json

Every hand is one sample. Left hands are always flipped into right hands (and right hands never),
in both modes. Differences from the reference, whose test mode and evaluation crash: the
test item returns the fitted MANO mesh (zeros without a fit), the evaluation loops
over the 21 hand joints, and left-hand predictions are mirrored back (x negated, root-relative)
before they are compared with the left-hand ground truth; ``--interhand_original_left_eval``
restores the reference's comparison of the mirrored prediction with the unmirrored ground truth.
"""

from __future__ import annotations

import os
import os.path as osp
from typing import Any, Sequence

import numpy as np

from common.utils.bbox import get_bbox
from common.utils.human_models import MANO, get_mano
from common.utils.keypoints import (
    INTERHAND_JOINT_NUM,
    INTERHAND_JOINTS_NAME,
    INTERHAND_ROOT_IDX,
)
from common.utils.transforms import transform_joint_to_other_db, world2pixel
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

NAME = "InterHand26M"
DOWNLOAD_HINT = (
    "Download InterHand2.6M (5 fps version: images and annotations, with the MANO NeuralAnnot "
    "files; links in the original Pose2Pose README) into <data_dir>/InterHand26M/ with the "
    "layout of the README table 'Data sets'."
)
# Rows of each hand in the 42-joint arrays (right hand first, same joint order).
HAND_SLICES = {
    "right": slice(0, INTERHAND_JOINT_NUM),
    "left": slice(INTERHAND_JOINT_NUM, 2 * INTERHAND_JOINT_NUM),
}
CAMERAS_PER_SEQUENCE = 10  # the camera subsampling keeps every (count // 10)-th camera folder
BBOX_EXTEND = 1.5


def _optional_entry(tree: Any, keys: Sequence[Any]) -> Any:
    """``tree[k0][k1]...`` with string keys, or None when a level is missing or null."""
    node = tree
    for key in keys:
        if not isinstance(node, dict) or str(key) not in node:
            return None
        node = node[str(key)]
    return node


def subsample_cameras(folder_names: Sequence[str]) -> set[str]:
    """Camera folders kept for training.

    QUIRK: the names are sorted as strings; with ``n >= 10`` folders every ``n // 10``-th one is
    kept starting with the first (10 to 19 cameras, not one tenth); fewer than 10 are all kept.
    """
    names = sorted(folder_names)
    if len(names) < CAMERAS_PER_SEQUENCE:
        return set(names)
    return set(names[:: len(names) // CAMERAS_PER_SEQUENCE])


class InterHand26M(BaseDataset):
    """InterHand2.6M, constructed as ``InterHand26M(cfg, transform, data_split)``."""

    name = NAME
    # The test items carry the fitted GT mesh (the original's test item crashed; fixed here).
    roles = dataset_roles(train=("hand",), test=("hand",))
    can_evaluate = True

    joints_name = INTERHAND_JOINTS_NAME
    root_joint_idx = INTERHAND_ROOT_IDX

    def setup(self) -> None:
        self.img_dir = osp.join(self.root_dir, "images", self.data_split)
        self.annot_dir = osp.join(self.root_dir, "annotations", self.data_split)
        self._camera_folders: dict[tuple[str, str], set[str]] = {}

    def _annot_file(self, kind: str) -> str:
        return osp.join(self.annot_dir, f"InterHand2.6M_{self.data_split}_{kind}.json")

    def _kept_cameras(self, capture: Any, seq_name: str) -> set[str]:
        """Kept camera folder names of a sequence, listed once per (capture, sequence)."""
        key = (str(capture), seq_name)
        if key not in self._camera_folders:
            seq_dir = osp.join(self.img_dir, f"Capture{capture}", seq_name)
            names = (
                [e.name for e in os.scandir(seq_dir) if e.is_dir()] if osp.isdir(seq_dir) else []
            )
            self._camera_folders[key] = subsample_cameras(names)
        return self._camera_folders[key]

    def load_records(self) -> list[dict[str, Any]]:
        require_path(self.root_dir, NAME, DOWNLOAD_HINT)
        data_file = osp.basename(self._annot_file("data"))
        db = load_json(self._annot_file("data"), NAME, DOWNLOAD_HINT)
        cameras = load_json(self._annot_file("camera"), NAME, DOWNLOAD_HINT)
        joints = load_json(self._annot_file("joint_3d"), NAME, DOWNLOAD_HINT)
        mano_params = load_json(self._annot_file("MANO_NeuralAnnot"), NAME, DOWNLOAD_HINT)
        anns, images = coco_index(db, NAME, data_file)

        cam_cache: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        datalist = []
        for ann, img in self.coco_entries(anns, images):
            img_desc = f"{data_file} image {ann['image_id']}"
            capture, seq_name, cam, frame_idx = get_keys(
                img, ("capture", "seq_name", "camera", "frame_idx"), NAME, img_desc
            )
            if self.data_split == "train" and f"cam{cam}" not in self._kept_cameras(
                capture, seq_name
            ):
                self.drop("camera_not_kept")
                continue
            cam_key = (str(capture), str(cam))
            if cam_key not in cam_cache:
                cam_cache[cam_key] = self._camera(cameras, capture, cam)
            cam_param = cam_cache[cam_key]  # shared by the samples of this camera, never mutated

            ann_desc = f"{data_file} annotation {ann['id']}"
            joint_valid = np.array(get_key(ann, "joint_valid", NAME, ann_desc), dtype=np.float32)
            joint_valid = joint_valid.reshape(-1, 1)  # (42, 1)
            # A hand whose wrist is missing is entirely invalid.
            root = INTERHAND_ROOT_IDX
            joint_valid[HAND_SLICES["right"]] *= joint_valid[root]
            joint_valid[HAND_SLICES["left"]] *= joint_valid[INTERHAND_JOINT_NUM + root]
            joint_world = np.array(
                get_nested(joints, (capture, frame_idx, "world_coord"), NAME, "joint_3d.json"),
                dtype=np.float32,
            )  # (42, 3) mm
            # An invalid joint's camera point is 1.0 before the projection, as in the original
            # (it avoids a division by zero).
            joint_cam, joint_img = world2pixel(
                joint_world, cam_param["R"], cam_param["t"],
                cam_param["focal"], cam_param["princpt"], unit_depth=joint_valid[:, 0] == 0,
            )  # fmt: skip
            joint_cam = joint_cam.astype(np.float32)
            joint_img = joint_img.astype(np.float32)  # (42, 3): px, px, mm

            hand_type = get_key(ann, "hand_type", NAME, ann_desc)
            hand_types = [hand_type] if hand_type in HAND_SLICES else ["right", "left"]
            width, height, file_name = get_keys(
                img, ("width", "height", "file_name"), NAME, img_desc
            )
            for side in hand_types:
                part = HAND_SLICES[side]
                if joint_valid[part].sum() == 0:
                    self.drop("hand_without_valid_joint")
                    continue
                bbox = get_bbox(joint_img[part, :2], joint_valid[part, 0], extend_ratio=BBOX_EXTEND)
                bbox = self.screen_box(bbox, width, height, f"{ann_desc} {side} hand")
                if bbox is None:
                    continue
                mano_param = _optional_entry(mano_params, (capture, frame_idx, side))
                datalist.append(
                    {
                        "img_path": osp.join(self.img_dir, file_name),
                        "img_shape": (height, width),
                        "bbox": bbox,
                        "joint_img": joint_img[part],  # (21, 3) px, px, mm
                        "joint_cam": joint_cam[part],  # (21, 3) mm, camera frame
                        "joint_valid": joint_valid[part],  # (21, 1)
                        "cam_param": cam_param,
                        "mano_param": (
                            None if mano_param is None else dict(mano_param, hand_type=side)
                        ),
                        "hand_type": side,
                    }
                )
        return datalist

    @staticmethod
    def _camera(cameras: dict[str, Any], capture: Any, cam: Any) -> dict[str, np.ndarray]:
        """R (3, 3), t = -R campos (3,) mm, focal (2,), princpt (2,) of one camera, float32."""
        cams = get_nested(cameras, (capture,), NAME, "camera.json")
        campos, camrot, focal, princpt = (
            np.array(get_nested(cams, (key, cam), NAME, f"camera.json [{capture}]"), np.float32)
            for key in ("campos", "camrot", "focal", "princpt")
        )
        camrot = camrot.reshape(3, 3)
        return {"R": camrot, "t": -np.dot(camrot, campos.reshape(3)), "focal": focal,
                "princpt": princpt}  # fmt: skip

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        data = self.datalist[idx]
        # QUIRK: left hands are always flipped, right hands never.
        img, img2bb_trans, _, rot, do_flip = self.load_patch(
            data["img_path"], data["bbox"], enforce_flip=data["hand_type"] == "left"
        )
        aug = (img2bb_trans, rot, do_flip)
        fit = None
        if data["mano_param"] is not None:
            fit = (data["mano_param"], camera_in_m(data["cam_param"]))
        if self.data_split != "train":
            # BUG fix: the reference's test item crashes; return the fitted
            # mesh (camera frame, m, unflipped), zeros when the hand has no fit.
            if fit is None:
                mesh = np.zeros((MANO.vertex_num, 3), dtype=np.float32)
            else:
                mesh = self.fit_targets(*fit, aug, data["img_shape"], "mano", with_mesh=True)
                mesh = mesh.mesh_cam_orig
            return {"img": img}, {"mano_mesh_cam": mesh}, {}
        root = self.root_joint_idx
        joint_img, joint_cam = metric_joints(data["joint_img"], data["joint_cam"], root)
        return self.train_sample(
            "hand", img, aug, data["img_shape"], joint_img, joint_cam, data["joint_valid"],
            self.joints_name, (), fit, is_3d=True,
        )  # fmt: skip

    def evaluate(
        self, outs: Sequence[dict[str, np.ndarray]], cur_sample_idx: int
    ) -> dict[str, list]:
        """Root-aligned joint and vertex errors, m.

        GT joints: the annotation (InterHand order), GT mesh: ``out['mano_mesh_cam_target']``,
        both relative to the annotated wrist. Prediction: ``out['mano_mesh_cam']`` and its MANO
        regressor joints (re-ordered to InterHand), relative to the predicted wrist. Left hands
        are mirrored back (x negated) unless ``cfg.interhand_original_left_eval``.

        Returns:
            ``{'mpjpe': per sample a list of 21 distances (None for invalid joints),
            'mpvpe': per sample a (778,) array of distances (None without a MANO fit)}``.
        """
        regressor = get_mano(self.cfg.human_model_path).joint_regressor  # (21, 778)
        root = self.root_joint_idx
        eval_result: dict[str, list] = {"mpjpe": [], "mpvpe": []}
        for n, out in enumerate(outs):
            annot = self.datalist[cur_sample_idx + n]
            joint_gt = annot["joint_cam"] / 1000  # (21, 3) m, InterHand order
            mesh_gt = out["mano_mesh_cam_target"] - joint_gt[root, None, :]  # (778, 3) m
            joint_gt = joint_gt - joint_gt[root, None, :]
            mesh_out = out["mano_mesh_cam"]  # (778, 3) m, right-hand MANO + camera translation
            joint_out = transform_joint_to_other_db(
                np.dot(regressor, mesh_out), MANO.joints_name, self.joints_name
            )  # (21, 3) m, InterHand order
            mesh_out = mesh_out - joint_out[root, None, :]
            joint_out = joint_out - joint_out[root, None, :]
            if annot["hand_type"] == "left" and not self.cfg.interhand_original_left_eval:
                # The input was mirrored: mirror the prediction back into the left-hand frame.
                mesh_out = mesh_out * np.array([-1.0, 1.0, 1.0], dtype=mesh_out.dtype)
                joint_out = joint_out * np.array([-1.0, 1.0, 1.0], dtype=joint_out.dtype)
            joint_err = np.sqrt(np.sum((joint_out - joint_gt) ** 2, axis=1))  # (21,)
            valid = annot["joint_valid"][:, 0] > 0
            eval_result["mpjpe"].append([float(e) if v else None for e, v in zip(joint_err, valid)])
            if annot["mano_param"] is None:
                eval_result["mpvpe"].append(None)
            else:
                eval_result["mpvpe"].append(np.sqrt(np.sum((mesh_out - mesh_gt) ** 2, axis=1)))
        return eval_result

    def print_eval_result(self, eval_result: dict[str, list]) -> None:
        """Print ``MPJPE: %.2f mm`` (mean of the per-joint means) and ``MPVPE: %.2f mm``."""
        mpjpe, mpvpe = interhand_summary(eval_result)
        lines = [f"MPJPE: {mpjpe * 1000:.2f} mm", f"MPVPE: {mpvpe * 1000:.2f} mm"]
        if self.cfg.interhand_original_left_eval:
            lines.append("(left hands compared mirrored, as the reference)")
        print("\n".join(lines))  # the test program's result, on stdout as the reference


def interhand_summary(eval_result: dict[str, list]) -> tuple[float, float]:
    """(MPJPE, MPVPE) in m from :meth:`InterHand26M.evaluate` results.

    QUIRK: MPJPE is the mean over the 21 joints of each joint's mean over the
    samples where it is valid (joints never valid are left out); MPVPE is the mean over all
    vertices of all samples with a MANO fit. NaN when nothing is valid.
    """
    per_joint = []
    for j in range(INTERHAND_JOINT_NUM):
        values = [errors[j] for errors in eval_result["mpjpe"] if errors[j] is not None]
        if values:
            per_joint.append(np.mean(values))
    meshes = [errors for errors in eval_result["mpvpe"] if errors is not None]
    mpjpe = float(np.mean(per_joint)) if per_joint else float("nan")
    mpvpe = float(np.mean(np.concatenate(meshes))) if meshes else float("nan")
    return mpjpe, mpvpe
