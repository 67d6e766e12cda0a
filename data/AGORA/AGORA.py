"""AGORA, body only: 3D training set, validation set with GT meshes, and the official test set
whose predictions are written as files for the AGORA evaluation server.

Layout under ``<data_dir>/AGORA/data/`` (made by the AGORA tools of the original ``main`` branch:
``agora2coco_smpl.py`` and ``crop_and_resize_4k_images.py``)::

    AGORA_train_SMPL.json, AGORA_validation_SMPL.json   COCO-like ('images', 'annotations')
    AGORA_test_bbox.json                  {image file name: [{'bbox': [x, y, w, h]}, ...]}, 4K px
    smpl_params_cam/<folder>/<stem>/<person>.json   {global_orient, body_pose, betas, transl}
    cam_params/<folder>/<stem>.json                 {focal, princpt}, 4K px
    images_3840x2160/<folder>_crop/<stem>_person_id_<person>.png / .json     4K mode
    images_1280x720/<folder>/<stem>_1280x720.png                             720p mode

``cfg.agora_resolution`` chooses the images ('4k': the per-person crops of the 4K frames, whole
crop = box; '720p': the down-sampled frames with the annotation boxes) and
``cfg.agora_test_split`` what split 'test' reads ('test': the official test set, boxes only;
'validation': the validation set with GT).

Differences from the reference, which crashes on these paths:
the 4K transforms are composed as 3x3 matrices; 720p boxes are scaled as two (x, y)
points; the crop files' affine matrix is read under ``img2bb_trans`` or ``affine_mat``; 720p frames
are (720, 1280) whether or not the image entry has a size, and the 720p test frames are read from
``images_1280x720/test/``; flipped 4K training samples mirror the fit's joints in crop
coordinates; result files are numbered per run and their folder is created.
The per-person SMPL and per-frame camera files are read once at construction (the reference
parses both JSON files in every ``__getitem__``; same numbers, a bad file fails early).
"""

from __future__ import annotations

import logging
import os
import os.path as osp
import pickle
from typing import Any, Sequence

import numpy as np

from common.utils.human_models import SMPL, get_smpl
from data.base import BaseDataset, dataset_roles
from data.dataset import (
    body_train_sample,
    coco_index,
    get_key,
    get_keys,
    load_json,
    require_path,
)
from data.metrics import format_mean_results, mean_distance, pa_mean_distance

logger = logging.getLogger(__name__)

NAME = "AGORA"
DOWNLOAD_HINT = (
    "Download AGORA (smpl_gt.zip, train_SMPL.zip, validation_SMPL.zip, the image zips and "
    "AGORA_test_bbox.json) from the AGORA website into <data_dir>/AGORA/data/, then run the "
    "conversion and 4K cropping tools as the README section 'AGORA' explains."
)
RESOLUTIONS = {"4k": (2160, 3840), "720p": (720, 1280)}  # (H, W) of the frames
FULL_RES = RESOLUTIONS["4k"]  # annotation boxes, cameras and server joints are in 4K px
CROP_AFFINE_KEYS = ("img2bb_trans", "affine_mat")  # crop files: 2x3 4K frame px -> crop px
RESULT_SUBDIR = "AGORA"


def _homogeneous(affine: np.ndarray) -> np.ndarray:
    """(2, 3) affine -> (3, 3) float64 matrix with the row [0, 0, 1]."""
    return np.concatenate((np.asarray(affine, dtype=np.float64), [[0.0, 0.0, 1.0]]), 0)


def _mirror(width: int) -> np.ndarray:
    """(3, 3) left-right mirror of an image ``width`` px wide: ``x -> width - 1 - x``."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _scale_to_720p(points: Sequence[float]) -> np.ndarray:
    """4K px -> 720p px of numbers read as (x, y) pairs (boxes ``[x, y, w, h]``, focal, ...)."""
    scale = np.array(RESOLUTIONS["720p"][::-1], np.float64) / FULL_RES[::-1]  # (sx, sy)
    return (np.asarray(points, dtype=np.float64).reshape(-1, 2) * scale).reshape(-1)


class AGORA(BaseDataset):
    """AGORA (body), constructed as ``AGORA(cfg, transform, data_split)``.

    Split 'train': training samples (the fits are the GT, ``is_3D`` 1). Split 'test':
    ``cfg.agora_test_split`` decides between the official test set (dummy zero GT mesh) and the
    validation set (GT mesh); ``meta_info`` holds ``bb2img_trans`` (patch px -> frame px).
    """

    name = NAME
    # Body only: the constructor refuses the other parts, as the original.
    roles = dataset_roles(train=("body",), test=("body",))
    can_evaluate = True

    def setup(self) -> None:
        cfg = self.cfg
        if cfg.parts != "body":
            raise ValueError(
                f"{NAME}: only the body part is supported (got parts={cfg.parts!r}); AGORA hand "
                "and face samples exist only in the whole-body code, not in Pose2Pose"
            )
        self.resolution = RESOLUTIONS[cfg.agora_resolution]
        self.test_set = cfg.agora_test_split
        self.has_gt = self.data_split == "train" or self.test_set == "validation"
        self._person_count: dict[str, int] = {}  # result files written per image in this run

    @property
    def crops(self) -> bool:
        """Whether samples are the per-person crops of the 4K frames."""
        return self.resolution == RESOLUTIONS["4k"]

    # ---- annotations -----------------------------------------------------------------------------

    def load_records(self) -> list[dict[str, Any]]:
        require_path(self.data_dir, NAME, DOWNLOAD_HINT)
        if not self.has_gt:
            return self._load_test_boxes("AGORA_test_bbox.json")
        split = "train" if self.data_split == "train" else "validation"
        return self._load_annotated(f"AGORA_{split}_SMPL.json")

    def _read_crop(self, crop_json: str) -> dict[str, Any]:
        """Sample fields of a 4K crop: the whole crop is the box (no ``process_bbox``)."""
        info = load_json(crop_json, NAME, DOWNLOAD_HINT)
        key = next((k for k in CROP_AFFINE_KEYS if k in info), None)
        if key is None:
            raise KeyError(
                f"{NAME}: {crop_json} has none of the keys {', '.join(CROP_AFFINE_KEYS)}"
            )
        height, width = get_keys(info, ("resized_height", "resized_width"), NAME, crop_json)
        affine = np.array(info[key], dtype=np.float32).reshape(2, 3)
        return {
            "img_path": crop_json[: -len(".json")] + ".png",
            "img_shape": (height, width),
            "bbox": np.array([0, 0, width, height], dtype=np.float32),
            "img2bb_trans_from_orig": affine,  # (2, 3) 4K frame px -> crop px
        }

    def _frame_box(self, bbox: Sequence[float], entry: str) -> np.ndarray | None:
        """A 4K box on the 720p frame, through ``process_bbox`` (fixed: scaled as 2 points)."""
        height, width = RESOLUTIONS["720p"]
        return self.screen_box(_scale_to_720p(bbox), width, height, entry)

    def _load_annotated(self, file_name: str) -> list[dict[str, Any]]:
        db = load_json(osp.join(self.data_dir, file_name), NAME, DOWNLOAD_HINT)
        anns, images = coco_index(db, NAME, file_name)
        datalist, no_crop = [], 0
        cams: dict[str, dict[str, np.ndarray]] = {}  # camera file -> intrinsics
        def not_valid(ann: dict[str, Any]) -> str | None:
            valid = get_key(ann, "is_valid", NAME, f"{file_name} annotation {ann['id']}")
            return None if valid else "not_valid"

        for ann, img in self.coco_entries(anns, images, skip=not_valid):
            ann_desc = f"{file_name} annotation {ann['id']}"
            person_id, smpl_path, cam_path = get_keys(
                ann, ("person_id", "smpl_param_path", "cam_param_path"), NAME, ann_desc
            )
            img_desc = f"{file_name} image {ann['image_id']}"
            if self.crops:
                frame = get_key(img, "file_name_3840x2160", NAME, img_desc)
                stem = osp.splitext(osp.basename(frame))[0]
                crop_dir = osp.join(
                    self.data_dir, "images_3840x2160", osp.basename(osp.dirname(frame)) + "_crop"
                )
                crop_json = osp.join(crop_dir, f"{stem}_person_id_{person_id}.json")
                if not osp.isfile(crop_json):
                    no_crop += 1
                    self.drop("no_crop_file")
                    continue
                sample = self._read_crop(crop_json)
            else:
                bbox = self._frame_box(get_key(ann, "bbox", NAME, ann_desc), ann_desc)
                if bbox is None:
                    continue
                sample = {
                    "img_path": osp.join(
                        self.data_dir, get_key(img, "file_name_1280x720", NAME, img_desc)
                    ),
                    "img_shape": RESOLUTIONS["720p"],
                    "bbox": bbox,
                }
            cam_path = osp.normpath(osp.join(self.data_dir, cam_path))
            if cam_path not in cams:
                cams[cam_path] = self._read_camera(cam_path)
            sample.update(
                person_id=person_id,
                smpl_param=self._read_smpl(osp.normpath(osp.join(self.data_dir, smpl_path))),
                cam_param=cams[cam_path],  # one dict per frame, shared by its persons
            )
            datalist.append(sample)
        if no_crop:
            logger.info("%s: %d persons of %s skipped: no 4K crop file", NAME, no_crop, file_name)
        return datalist

    def _load_test_boxes(self, file_name: str) -> list[dict[str, Any]]:
        boxes = load_json(osp.join(self.data_dir, file_name), NAME, DOWNLOAD_HINT)
        datalist = []
        for frame, persons in boxes.items():
            stem = osp.splitext(frame)[0]
            for person_id, person in enumerate(persons):
                if self.crops:
                    crop_json = osp.join(
                        self.data_dir, "images_3840x2160", "test_crop",
                        f"{stem}_person_id_{person_id}.json",
                    )  # fmt: skip
                    if not osp.isfile(crop_json):
                        logger.warning("%s: no crop file %s; person skipped", NAME, crop_json)
                        self.drop("no_crop_file")
                        continue
                    sample = self._read_crop(crop_json)
                else:
                    desc = f"{file_name} {frame} person {person_id}"
                    bbox = self._frame_box(get_key(person, "bbox", NAME, desc), desc)
                    if bbox is None:
                        continue
                    sample = {
                        "img_path": osp.join(self.data_dir, "images_1280x720", "test", frame),
                        "img_shape": RESOLUTIONS["720p"],
                        "bbox": bbox,
                    }
                sample["person_id"] = person_id
                datalist.append(sample)
        return datalist

    def _read_smpl(self, src: str) -> dict[str, np.ndarray]:
        """SMPL parameters of one person file (camera frame, neutral), float32."""
        global_orient, body_pose, betas, transl = get_keys(
            load_json(src, NAME, DOWNLOAD_HINT), ("global_orient", "body_pose", "betas", "transl"),
            NAME, src,
        )  # fmt: skip
        pose = np.concatenate((np.reshape(global_orient, -1), np.reshape(body_pose, -1)))
        return {
            "pose": pose.astype(np.float32),
            "shape": np.array(betas, dtype=np.float32),
            "trans": np.array(transl, dtype=np.float32),
        }

    def _read_camera(self, src: str) -> dict[str, np.ndarray]:
        """Intrinsics of one frame's camera file on the sample's image scale, float32."""
        cam = load_json(src, NAME, DOWNLOAD_HINT)
        focal, princpt = get_keys(cam, ("focal", "princpt"), NAME, src)
        if not self.crops:
            focal, princpt = _scale_to_720p(focal), _scale_to_720p(princpt)
        return {
            "focal": np.array(focal, dtype=np.float32),
            "princpt": np.array(princpt, dtype=np.float32),
        }

    # ---- samples ---------------------------------------------------------------------------------

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        data = self.datalist[idx]
        img, img2bb_trans, bb2img_trans, rot, do_flip = self.load_patch(
            data["img_path"], data["bbox"]
        )
        fit_trans = img2bb_trans  # frame px (mirrored when flipped) -> patch px, for the fit
        if self.crops:
            # Relate the 4K frame to the patch (fixed: proper 3x3 homogeneous products; the
            # original multiplied the 2x3 matrices wrongly).
            crop, aug = _homogeneous(data["img2bb_trans_from_orig"]), _homogeneous(img2bb_trans)
            img2bb_trans = (aug @ crop)[:2].astype(np.float32)
            bb2img_trans = (np.linalg.inv(crop) @ np.linalg.inv(aug))[:2].astype(np.float32)
            fit_trans = img2bb_trans
            if do_flip:
                # Fixed: the fit's joints are mirrored in frame px with the crop width; undo that
                # mirror and mirror in crop px instead, so they follow the flipped crop.
                mirror = _mirror(data["img_shape"][1])
                fit_trans = (aug @ mirror @ crop @ mirror)[:2].astype(np.float32)
        inputs = {"img": img}
        meta_info = {"bb2img_trans": bb2img_trans}
        if not self.has_gt:
            return inputs, {"smpl_mesh_cam": np.zeros((SMPL.vertex_num, 3), np.float32)}, meta_info
        smpl = self.fit_targets(
            data["smpl_param"], data["cam_param"], (fit_trans, rot, do_flip), data["img_shape"],
            "smpl", with_mesh=self.data_split != "train",
        )  # fmt: skip
        if self.data_split == "train":
            # The fit is the GT: the dataset joint slots hold the fit's joints.
            valid = np.ones((SMPL.joint_num, 1), dtype=np.float32)
            return body_train_sample(
                img, smpl.joint_img, smpl.joint_cam, valid, smpl.joint_trunc, smpl, True
            )
        return inputs, {"smpl_mesh_cam": smpl.mesh_cam_orig}, meta_info

    # ---- evaluation ------------------------------------------------------------------------------

    @property
    def result_dir(self) -> str:
        """``<result_dir>/AGORA``: one pickle per person for the AGORA server."""
        return osp.join(self.cfg.result_dir, RESULT_SUBDIR)

    def _result_name(self, annot: dict[str, Any]) -> tuple[str, int]:
        """(frame name, person id) of a sample's result file."""
        name = osp.splitext(osp.basename(annot["img_path"]))[0]
        if self.crops:
            name = name.split("_person_id")[0]
        elif self.has_gt:
            name = name.split("_1280x720")[0]
        if not self.has_gt or self.cfg.has_fix("agora_person_id"):
            return name, annot["person_id"]
        # Validation: persons numbered per frame in evaluation order. The reference counts the
        # files already in the folder, so reruns continued the numbering; here it is per run.
        person_id = self._person_count.get(name, 0)
        self._person_count[name] = person_id + 1
        return name, person_id

    def _server_joints(self, out: dict[str, np.ndarray]) -> np.ndarray:
        """(45, 2) joints of the SMPL layer in 4K frame px from heatmap cells."""
        (in_h, in_w), (_, hm_h, hm_w) = self.cfg.input_img_shape, self.cfg.output_hm_shape
        joint = np.asarray(out["smpl_joint_proj"], dtype=np.float64).copy()  # (45, 2) heatmap
        joint[:, 0] *= in_w / hm_w
        joint[:, 1] *= in_h / hm_h  # patch px
        joint = np.concatenate((joint, np.ones_like(joint[:, :1])), 1)
        joint = joint @ np.asarray(out["bb2img_trans"], dtype=np.float64).T  # frame px
        joint[:, 0] *= FULL_RES[1] / self.resolution[1]
        joint[:, 1] *= FULL_RES[0] / self.resolution[0]
        return joint

    def evaluate(
        self, outs: Sequence[dict[str, np.ndarray]], cur_sample_idx: int
    ) -> dict[str, list]:
        """Write the server's pickle per sample; on validation also MPVPE, PA-MPVPE (mm).

        MPVPE: the prediction is translated so that its pelvis (33-set regressor) matches the
        GT's, then the mean vertex distance; PA-MPVPE: after similarity alignment of all
        vertices. Files: ``<result_dir>/AGORA/<frame>_personId_<id>.pkl`` with float32
        ``{'params': {'translation' (1, 3), 'root_pose' (1, 3), 'body_pose' (1, 69),
        'betas' (1, 10)}, 'joints' (1, 45, 2) 4K px}``; ``translation`` is the camera
        translation of the patch's virtual camera.
        """
        os.makedirs(self.result_dir, exist_ok=True)
        pelvis = None
        if self.has_gt:
            regressor = get_smpl(self.cfg.human_model_path).joint_regressor
            pelvis = regressor[SMPL.root_joint_idx].astype(np.float64)  # (6890,)
        eval_result: dict[str, list] = {"pa_mpvpe": [], "mpvpe": []} if self.has_gt else {}
        for n, out in enumerate(outs):
            annot = self.datalist[cur_sample_idx + n]
            if pelvis is not None:
                mesh_gt = np.asarray(out["smpl_mesh_cam_target"], dtype=np.float64)  # (6890, 3) m
                mesh_out = np.asarray(out["smpl_mesh_cam"], dtype=np.float64)
                mesh_aligned = mesh_out - pelvis @ mesh_out + pelvis @ mesh_gt
                eval_result["mpvpe"].append(mean_distance(mesh_aligned, mesh_gt) * 1000)
                eval_result["pa_mpvpe"].append(pa_mean_distance(mesh_out, mesh_gt) * 1000)
            pose = np.asarray(out["smpl_pose"], dtype=np.float32).reshape(1, -1)
            result = {
                "params": {
                    "translation": np.asarray(out["cam_trans"], np.float32).reshape(1, 3),
                    "root_pose": pose[:, :3],
                    "body_pose": pose[:, 3:],
                    "betas": np.asarray(out["smpl_shape"], np.float32).reshape(1, -1),
                },
                "joints": self._server_joints(out).astype(np.float32)[None],
            }
            name, person_id = self._result_name(annot)
            path = osp.join(self.result_dir, f"{name}_personId_{person_id}.pkl")
            with open(path, "wb") as f:
                pickle.dump(result, f)
        return eval_result

    def print_eval_result(self, eval_result: dict[str, list]) -> None:
        """Print where the files are; on validation ``PA MPVPE`` and ``MPVPE`` (``%.2f mm``)."""
        lines = [f"AGORA test results are dumped at: {self.result_dir}"]
        if self.has_gt:
            lines += format_mean_results(
                eval_result, (("pa_mpvpe", "PA MPVPE"), ("mpvpe", "MPVPE"))
            )
        print("\n".join(lines))  # the test program's result, on stdout as the reference
