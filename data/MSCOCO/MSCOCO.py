"""MSCOCO / COCO-WholeBody: 2D body, hand and face samples with NeuralAnnot fits.

``cfg.parts`` selects the branch: 'body' (one sample per person, SMPL fits), 'hand' (one sample
per hand, MANO fits; left hands always mirrored into right hands) or 'face' (one sample per face,
FLAME fits). Layout under ``<data_dir>/MSCOCO/``::

    images/train2017/<file_name>                     training split
    images/val2017/<file_name>                       test split
    annotations/coco_wholebody_train_v1.0.json       COCO-WholeBody v1.0
    annotations/coco_wholebody_val_v1.0.json
    annotations/MSCOCO_train_SMPL_NeuralAnnot.json   {str(ann id): {smpl_param, cam_param}}
    annotations/MSCOCO_train_MANO_NeuralAnnot.json   {str(ann id): {left, right: null or fit}}
    annotations/MSCOCO_train_FLAME_NeuralAnnot.json  {str(ann id): {flame_param, cam_param}}

Differences from the reference: a hand whose MANO fit is null (kept at load time by the reference,
which then crashes on it) gets zero MANO targets with zero MANO validities; face
test samples additionally return ``joint_img``, ``joint_valid`` and ``bb2img_trans``, and the face
branch evaluates the landmark error of the projected FLAME landmarks (the reference has no face
metric).
"""

from __future__ import annotations

import logging
import os.path as osp
from typing import Any, Sequence

import numpy as np

from common.utils.human_models import FLAME, MANO
from common.utils.joint_targets import process_db_coord
from common.utils.keypoints import (
    COCO_BODY_HIPS,
    COCO_FACE_KPT_NUM,
    COCO_HAND_JOINTS_NAME,
    COCO_HAND_MCP_IDX,
    COCO_WHOLEBODY_BODY_FLIP_PAIRS,
    COCO_WHOLEBODY_BODY_JOINTS_NAME,
    FLAME_FROM_COCO_FACE,
)
from common.utils.patch import gen_trans_from_patch_cv
from data.base import PARTS, BaseDataset, dataset_roles
from data.dataset import (
    AnnotationError,
    coco_index,
    get_key,
    get_keys,
    load_json,
    require_path,
)
from data.metrics import landmark_error_px

logger = logging.getLogger(__name__)

Record = dict[str, Any]  # a JSON object or a datalist entry
NAME = "MSCOCO"
DOWNLOAD_HINT = (
    "Download the COCO 2017 images (train2017, val2017), the COCO-WholeBody v1.0 annotations "
    "and the NeuralAnnot SMPL/MANO/FLAME fits (links in the original Pose2Pose README) into "
    "<data_dir>/MSCOCO/ with the layout of the README table 'Data sets'."
)
ANNOT_FILES = {"train": "coco_wholebody_train_v1.0.json", "test": "coco_wholebody_val_v1.0.json"}
IMAGE_DIRS = {"train": "train2017", "test": "val2017"}
FIT_FILES = {
    "body": "MSCOCO_train_SMPL_NeuralAnnot.json",
    "hand": "MSCOCO_train_MANO_NeuralAnnot.json",
    "face": "MSCOCO_train_FLAME_NeuralAnnot.json",
}

# QUIRK: the original reads the two hands of a person in opposite orders per split.
HAND_ORDER = {"train": ("left", "right"), "test": ("right", "left")}


def keypoints_with_validity(
    kpts: Sequence[float], num: int, desc: str
) -> tuple[np.ndarray, np.ndarray]:
    """COCO ``[x, y, score] * num`` -> ``(joint_img (num, 3), joint_valid (num, 1))``, float32.

    Validity is ``score > 0``; the third column is then set to 0 (a zero root-relative depth).
    """
    joint_img = np.array(kpts, dtype=np.float32)
    if joint_img.size != 3 * num:
        raise AnnotationError(f"{NAME}: {desc} must have {3 * num} numbers, got {joint_img.size}")
    joint_img = joint_img.reshape(num, 3)
    joint_valid = (joint_img[:, 2:] > 0).astype(np.float32)
    joint_img[:, 2] = 0
    return joint_img, joint_valid


def coco_face_to_flame(
    joint_img: np.ndarray, joint_valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scatter the 68 COCO-WholeBody face keypoints into the 73-joint FLAME set.

    Args:
        joint_img: (68, 3); joint_valid: (68, 1).

    Returns:
        ``(joint_img (73, 3), joint_valid (73, 1))``; joints without a source are zero (invalid).
    """
    flame_img = np.zeros((FLAME.joint_num, 3), dtype=np.float32)
    flame_valid = np.zeros((FLAME.joint_num, 1), dtype=np.float32)
    for flame_idx, coco_idx in FLAME_FROM_COCO_FACE.items():
        flame_img[flame_idx] = joint_img[coco_idx]
        flame_valid[flame_idx] = joint_valid[coco_idx]
    return flame_img, flame_valid


def body_joints(ann: dict[str, Any], desc: str) -> tuple[np.ndarray, np.ndarray]:
    """The 32-joint body keypoints of a COCO-WholeBody annotation.

    Returns:
        ``(joint_img (32, 3), joint_valid (32, 1))``: px with a zero third column; validity
        ``> 0`` of the labels, Pelvis = midpoint of the hips with the product of their labels.
    """
    body = np.array(get_key(ann, "keypoints", NAME, desc), dtype=np.float32).reshape(17, 3)
    foot = np.array(get_key(ann, "foot_kpts", NAME, desc), dtype=np.float32).reshape(6, 3)
    hands = [
        np.array(get_key(ann, f"{side}hand_kpts", NAME, desc), dtype=np.float32).reshape(21, 3)
        for side in ("left", "right")
    ]
    l_hip, r_hip = body[COCO_BODY_HIPS[0]], body[COCO_BODY_HIPS[1]]
    pelvis = np.array([(l_hip[0] + r_hip[0]) / 2, (l_hip[1] + r_hip[1]) / 2, l_hip[2] * r_hip[2]],
                      dtype=np.float32)  # fmt: skip
    mcps = [hand[list(COCO_HAND_MCP_IDX)] for hand in hands]
    joint_img = np.concatenate([body, pelvis[None], foot, *mcps]).astype(np.float32)  # (32, 3)
    joint_valid = (joint_img[:, 2:] > 0).astype(np.float32)
    joint_img[:, 2] = 0
    return joint_img, joint_valid


class MSCOCO(BaseDataset):
    """COCO-WholeBody, constructed as ``MSCOCO(cfg, transform, data_split)``; the branch is
    ``cfg.parts``."""

    name = NAME
    # Every part; body and hand test runs have no metric (evaluate returns {}, as the original).
    roles = dataset_roles(train=PARTS, test=PARTS)
    can_evaluate = True

    def setup(self) -> None:
        self.parts = self.cfg.parts
        self.img_dir = osp.join(self.root_dir, "images", IMAGE_DIRS[self.data_split])
        self.annot_dir = osp.join(self.root_dir, "annotations")

    # ---- loading ---------------------------------------------------------------------------------

    def load_records(self) -> list[Record]:
        loaders = {"body": self._body_sample, "hand": self._hand_samples, "face": self._face_sample}
        make_samples = loaders[self.parts]
        require_path(self.root_dir, NAME, DOWNLOAD_HINT)
        annot_file = ANNOT_FILES[self.data_split]
        db = load_json(osp.join(self.annot_dir, annot_file), NAME, DOWNLOAD_HINT)
        fits = None
        if self.data_split == "train":
            fits = load_json(osp.join(self.annot_dir, FIT_FILES[self.parts]), NAME, DOWNLOAD_HINT)
        anns, images = coco_index(db, NAME, annot_file)
        datalist = []
        for ann, img in self.coco_entries(anns, images):
            file_name, width, height = get_keys(
                img, ("file_name", "width", "height"), NAME, f"{annot_file} image {ann['image_id']}"
            )
            base = {"img_path": osp.join(self.img_dir, file_name), "img_shape": (height, width)}
            desc = f"{annot_file} annotation {ann['id']}"
            datalist.extend(make_samples(ann, base, fits, desc))
        return datalist

    def _fit(self, fits: dict[str, Any], ann_id: Any, keys: Sequence[str]) -> list[Any]:
        """Values ``keys`` of the NeuralAnnot entry of an annotation (errors name the file)."""
        entry = get_key(fits, str(ann_id), NAME, FIT_FILES[self.parts])
        return get_keys(entry, keys, NAME, f"{FIT_FILES[self.parts]} [{ann_id}]")

    def _bbox(self, box: Any, base: dict[str, Any], entry: str) -> np.ndarray | None:
        height, width = base["img_shape"]
        return self.screen_box(box, width, height, entry)

    # Per-part sample makers: (annotation, image fields, fits or None, description) -> samples.

    def _body_sample(self, ann: Record, base: Record, fits: Any, desc: str) -> list[Record]:
        if self.data_split == "train" and (
            get_key(ann, "iscrowd", NAME, desc) or get_key(ann, "num_keypoints", NAME, desc) == 0
        ):
            self.drop("crowd_or_no_keypoints")
            return []
        bbox = self._bbox(get_key(ann, "bbox", NAME, desc), base, desc)
        if bbox is None:
            return []
        if self.data_split == "test":
            return [dict(base, ann_id=ann["id"], bbox=bbox)]
        smpl_param, cam_param = self._fit(fits, ann["id"], ("smpl_param", "cam_param"))
        joint_img, joint_valid = body_joints(ann, desc)
        return [dict(base, bbox=bbox, joint_img=joint_img, joint_valid=joint_valid,
                     smpl_param=smpl_param, cam_param=cam_param)]  # fmt: skip

    def _hand_samples(self, ann: Record, base: Record, fits: Any, desc: str) -> list[Record]:
        samples = []
        for side in HAND_ORDER[self.data_split]:
            # QUIRK: identity test against False; the test split ignores it.
            if (
                self.data_split == "train"
                and get_key(ann, f"{side}hand_valid", NAME, desc) is False
            ):
                self.drop("hand_not_valid")
                continue
            bbox = self._bbox(
                get_key(ann, f"{side}hand_box", NAME, desc), base, f"{desc} {side}hand_box"
            )
            if bbox is None:
                continue
            if self.data_split == "test":
                samples.append(dict(base, ann_id=ann["id"], bbox=bbox, hand_type=side))
                continue
            joint_img, joint_valid = keypoints_with_validity(
                get_key(ann, f"{side}hand_kpts", NAME, desc),
                MANO.joint_num,
                f"{desc} {side}hand_kpts",
            )
            (fit,) = self._fit(fits, ann["id"], (side,))
            if fit is not None:
                mano_param, cam_param = get_keys(
                    fit, ("mano_param", "cam_param"), NAME, f"{FIT_FILES['hand']} [{ann['id']}]"
                )
                fit = {"mano_param": dict(mano_param, hand_type=side), "cam_param": cam_param}
            samples.append(dict(base, bbox=bbox, joint_img=joint_img, joint_valid=joint_valid,
                                mano=fit, hand_type=side))  # fmt: skip
        return samples

    def _face_sample(self, ann: Record, base: Record, fits: Any, desc: str) -> list[Record]:
        # QUIRK: identity test against False; the test split ignores the flag.
        if self.data_split == "train" and get_key(ann, "face_valid", NAME, desc) is False:
            self.drop("face_not_valid")
            return []
        bbox = self._bbox(get_key(ann, "face_box", NAME, desc), base, f"{desc} face_box")
        if bbox is None:
            return []
        joint_img, joint_valid = coco_face_to_flame(
            *keypoints_with_validity(get_key(ann, "face_kpts", NAME, desc), COCO_FACE_KPT_NUM,
                                     f"{desc} face_kpts")
        )  # fmt: skip
        sample = dict(base, bbox=bbox, joint_img=joint_img, joint_valid=joint_valid)
        if self.data_split == "test":
            return [dict(sample, ann_id=ann["id"])]
        flame_param, cam_param = self._fit(fits, ann["id"], ("flame_param", "cam_param"))
        return [dict(sample, flame_param=flame_param, cam_param=cam_param)]

    # ---- samples ---------------------------------------------------------------------------------

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        data = self.datalist[idx]
        items = {"body": self._body_item, "hand": self._hand_item, "face": self._face_item}
        return items[self.parts](data)

    def _body_item(self, data: dict[str, Any]) -> tuple[dict, dict, dict]:
        img, img2bb_trans, bb2img_trans, rot, do_flip = self.load_patch(
            data["img_path"], data["bbox"]
        )
        if self.data_split != "train":
            return {"img": img}, {}, {"bb2img_trans": bb2img_trans}
        return self.train_sample(
            "body", img, (img2bb_trans, rot, do_flip), data["img_shape"], data["joint_img"], None,
            data["joint_valid"], COCO_WHOLEBODY_BODY_JOINTS_NAME, COCO_WHOLEBODY_BODY_FLIP_PAIRS,
            (data["smpl_param"], data["cam_param"]), is_3d=False,
        )  # fmt: skip

    def _hand_item(self, data: dict[str, Any]) -> tuple[dict, dict, dict]:
        # QUIRK: left hands are always flipped, right hands never.
        img, img2bb_trans, _, rot, do_flip = self.load_patch(
            data["img_path"], data["bbox"], enforce_flip=data["hand_type"] == "left"
        )
        if self.data_split != "train":
            return {"img": img}, {}, {}
        fit = data["mano"]
        return self.train_sample(
            "hand", img, (img2bb_trans, rot, do_flip), data["img_shape"], data["joint_img"], None,
            data["joint_valid"], COCO_HAND_JOINTS_NAME, (),
            None if fit is None else (fit["mano_param"], fit["cam_param"]), is_3d=False,
        )  # fmt: skip

    def _face_item(self, data: dict[str, Any]) -> tuple[dict, dict, dict]:
        img, img2bb_trans, bb2img_trans, rot, do_flip = self.load_patch(
            data["img_path"], data["bbox"]
        )
        if self.data_split != "train":
            # Not in the reference: the annotated landmarks for the face metric.
            zeros = np.zeros((FLAME.joint_num, 3), dtype=np.float32)
            joint_img, _, joint_valid, _ = process_db_coord(
                self.cfg, data["joint_img"], zeros, data["joint_valid"], do_flip,
                data["img_shape"], FLAME.flip_pairs, img2bb_trans, rot, FLAME.joints_name,
                FLAME.joints_name,
            )  # fmt: skip
            targets = {"joint_img": joint_img}
            return {"img": img}, targets, {"joint_valid": joint_valid, "bb2img_trans": bb2img_trans}
        return self.train_sample(
            "face", img, (img2bb_trans, rot, do_flip), data["img_shape"], data["joint_img"], None,
            data["joint_valid"], FLAME.joints_name, FLAME.flip_pairs,
            (data["flame_param"], data["cam_param"]), is_3d=False,
        )  # fmt: skip

    # ---- evaluation ------------------------------------------------------------------------------

    def evaluate(
        self, outs: Sequence[dict[str, np.ndarray]], cur_sample_idx: int
    ) -> dict[str, list]:
        """Face: the landmark error per sample (see :meth:`face_landmark_errors`); body and hand
        have no metric (``{}``, as the reference).

        The face metric is this re-implementation's addition and needs the model's
        ``flame_joint_proj`` output, which the original's outputs (and exported models) lack: such
        samples get None, with a warning.
        """
        if self.parts != "face":
            return {}
        eval_result: dict[str, list] = {"face_err_px": [], "face_nme": []}
        missing = 0
        for n, out in enumerate(outs):
            annot = self.datalist[cur_sample_idx + n]
            if "flame_joint_proj" in out:
                err_px, nme = self.face_landmark_errors(out["flame_joint_proj"], annot)
            else:
                err_px, nme, missing = None, None, missing + 1
            eval_result["face_err_px"].append(err_px)
            eval_result["face_nme"].append(nme)
        if missing:
            logger.warning(
                "%s face: %d of %d outputs lack 'flame_joint_proj' (outputs of the original code "
                "or of an exported model): no landmark error for them", NAME, missing, len(outs),
            )  # fmt: skip
        return eval_result

    def face_landmark_errors(
        self, joint_proj: np.ndarray, annot: dict[str, Any]
    ) -> tuple[float | None, float | None]:
        """Landmark error of one face test sample (the face metric of this re-implementation).

        The projected FLAME joints (73, 2) in heatmap cells go to crop px (x W_in / W_hm,
        y H_in / H_hm) and to original-image px through the test crop's inverse affine
        (unaugmented, so it follows from the box). The error is the mean distance over the valid
        annotated landmarks (FLAME joints 5-72), in px, and that divided by sqrt(w h) of the
        processed face box.

        Returns:
            ``(error_px, normalised_error)``, both None when no landmark is valid.
        """
        in_h, in_w = self.cfg.input_img_shape
        _, hm_h, hm_w = self.cfg.output_hm_shape
        bbox = annot["bbox"]
        joint_patch = np.asarray(joint_proj, dtype=np.float64)[:, :2] * [in_w / hm_w, in_h / hm_h]
        bb2img_trans = gen_trans_from_patch_cv(
            bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2, bbox[2], bbox[3], in_w, in_h, 1.0, 0.0,
            inv=True,
        ).astype(np.float64)  # fmt: skip
        joint_pred = np.dot(joint_patch, bb2img_trans[:, :2].T) + bb2img_trans[:, 2]  # (73, 2) px
        err_px = landmark_error_px(joint_pred, annot["joint_img"][:, :2], annot["joint_valid"])
        if err_px is None:
            return None, None
        return err_px, err_px / float(np.sqrt(bbox[2] * bbox[3]))

    def print_eval_result(self, eval_result: dict[str, list]) -> None:
        """Face: print the mean landmark errors over the samples with valid landmarks."""
        if self.parts != "face":
            return
        errors = [e for e in eval_result.get("face_err_px", []) if e is not None]
        nmes = [e for e in eval_result.get("face_nme", []) if e is not None]
        if not errors:
            print(
                "Face landmark error: no test face has a valid annotated landmark (or the "
                "outputs lack 'flame_joint_proj', see the warnings)"
            )
            return
        print(
            f"Face landmark error ({len(errors)} faces): {np.mean(errors):.2f} px, "
            f"normalised by sqrt(box w*h): {np.mean(nmes):.4f}"
        )
