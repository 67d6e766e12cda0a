"""FreiHAND: right hands, trained through MANO pseudo-GT only, tested by submission.

Layout under ``<data_dir>/FreiHAND/``::

    data/freihand_train_coco.json       COCO format (images carry ``db_idx``), training split
    data/freihand_train_data.json       {str(db_idx): {cam_param, mano_param}}
    data/freihand_eval_coco.json        COCO format, evaluation split
    data/freihand_eval_data.json        {str(db_idx): {cam_param}}
    data/training/..., data/evaluation/...   images (paths from ``file_name``)
    data/evaluation_xyz.json            optional: official evaluation ground truth, for the
    data/evaluation_verts.json          local evaluation
    rootnet_output/bbox_root_freihand_output.json   boxes of the evaluation split

Testing writes ``<result_dir>/FreiHAND/pred.json`` for the official server and, when both ground
truth files are present, evaluates locally with the official formulas.
"""

from __future__ import annotations

import json
import logging
import os
import os.path as osp
from typing import Any, Sequence

import numpy as np

from common.utils.human_models import MANO, get_mano
from data.base import BaseDataset, dataset_roles
from data.dataset import (
    AnnotationError,
    coco_index,
    get_key,
    get_keys,
    hand_train_sample,
    load_json,
    require_path,
)
from data.metrics import (
    FREIHAND_F_THRESHOLDS,
    f_score,
    freihand_align,
    pck_auc,
    point_distances,
)

logger = logging.getLogger(__name__)
NAME = "FreiHAND"
DOWNLOAD_HINT = (
    "Download the FreiHAND images (FreiHAND_pub_v2 and FreiHAND_pub_v2_eval from the FreiHAND "
    "website), the parsed annotation files freihand_{train,eval}_{coco,data}.json and the RootNet "
    "boxes bbox_root_freihand_output.json (links in the original Pose2Pose README) into "
    "<data_dir>/FreiHAND/ with the layout of the README table 'Data sets'."
)
EVAL_GT_FILES = ("evaluation_xyz.json", "evaluation_verts.json")
ROOTNET_FILE = "bbox_root_freihand_output.json"
# Lines of the official scores.txt (means in cm, AUCs and F-scores as fractions).
SCORE_LINES = (
    ("xyz_mean3d", "xyz_err", 100.0),
    ("xyz_auc3d", "xyz_err", None),
    ("xyz_al_mean3d", "xyz_al_err", 100.0),
    ("xyz_al_auc3d", "xyz_al_err", None),
    ("mesh_mean3d", "mesh_err", 100.0),
    ("mesh_auc3d", "mesh_err", None),
    ("mesh_al_mean3d", "mesh_al_err", 100.0),
    ("mesh_al_auc3d", "mesh_al_err", None),
)


class FreiHAND(BaseDataset):
    """FreiHAND, constructed as ``FreiHAND(cfg, transform, data_split)``; never flipped."""

    name = NAME
    roles = dataset_roles(train=("hand",), test=("hand",))
    can_evaluate = True

    def finish_loading(self) -> None:
        self.eval_gt = self._load_eval_gt() if self.data_split == "test" else None

    def load_records(self) -> list[dict[str, Any]]:
        require_path(self.root_dir, NAME, DOWNLOAD_HINT)
        split = "train" if self.data_split == "train" else "eval"
        coco_file = f"freihand_{split}_coco.json"
        data_file = f"freihand_{split}_data.json"
        db = load_json(osp.join(self.data_dir, coco_file), NAME, DOWNLOAD_HINT)
        params = load_json(osp.join(self.data_dir, data_file), NAME, DOWNLOAD_HINT)
        anns, images = coco_index(db, NAME, coco_file)
        if self.data_split == "test":
            records = load_json(osp.join(self.root_dir, "rootnet_output", ROOTNET_FILE), NAME,
                                DOWNLOAD_HINT)  # fmt: skip
            rootnet = {get_key(rec, "image_id", NAME, f"{ROOTNET_FILE}[{i}]"): rec
                       for i, rec in enumerate(records)}  # fmt: skip

        datalist = []
        for ann, img in self.coco_entries(anns, images):
            img_desc = f"{coco_file} image {ann['image_id']}"
            file_name, width, height, db_idx = get_keys(
                img, ("file_name", "width", "height", "db_idx"), NAME, img_desc
            )
            entry = get_key(params, str(db_idx), NAME, data_file)
            cam = get_key(entry, "cam_param", NAME, f"{data_file} [{db_idx}]")
            cam_param = {
                key: np.array(get_key(cam, key, NAME, f"{data_file} [{db_idx}] cam_param"),
                              dtype=np.float32)
                for key in ("focal", "princpt")
            }  # fmt: skip
            sample = {
                "img_path": osp.join(self.data_dir, file_name),
                "img_shape": (height, width),
                "db_idx": int(db_idx),
                "cam_param": cam_param,
            }
            if self.data_split == "train":
                ann_desc = f"{coco_file} annotation {ann['id']}"
                bbox = self.screen_box(
                    get_key(ann, "bbox", NAME, ann_desc), width, height, ann_desc
                )
                if bbox is None:
                    continue
                mano_param = get_key(entry, "mano_param", NAME, f"{data_file} [{db_idx}]")
                sample["mano_param"] = dict(mano_param, hand_type="right")
            else:
                # QUIRK: the RootNet box is used as it is (no process_bbox);
                # its root depth is not used by the evaluation.
                record = get_key(rootnet, ann["image_id"], NAME, ROOTNET_FILE)
                bbox = np.array(get_key(record, "bbox", NAME, ROOTNET_FILE), dtype=np.float32)
            sample["bbox"] = bbox
            datalist.append(sample)
        return datalist

    def _load_eval_gt(self) -> dict[str, np.ndarray] | None:
        """The official evaluation ground truth, if both files are in ``data/`` (else None)."""
        paths = [osp.join(self.data_dir, name) for name in EVAL_GT_FILES]
        present = [osp.isfile(path) for path in paths]
        if not any(present):
            return None
        if not all(present):
            missing = [path for path, ok in zip(paths, present) if not ok]
            raise FileNotFoundError(
                f"{NAME}: local evaluation needs both {' and '.join(EVAL_GT_FILES)} (from "
                f"FreiHAND_pub_v2_eval.zip); missing {', '.join(missing)}"
            )
        gt = {}
        for key, path, size in zip(("xyz", "verts"), paths, (MANO.joint_num, MANO.vertex_num)):
            with open(path) as f:
                array = np.array(json.load(f), dtype=np.float64)
            if array.ndim != 3 or array.shape[1:] != (size, 3):
                raise AnnotationError(
                    f"{NAME}: {path} must hold N arrays of {size} x 3, got shape {array.shape}"
                )
            gt[key] = array
        if len(gt["xyz"]) != len(gt["verts"]):
            raise AnnotationError(
                f"{NAME}: {EVAL_GT_FILES[0]} has {len(gt['xyz'])} samples but "
                f"{EVAL_GT_FILES[1]} has {len(gt['verts'])}"
            )
        too_big = [s["db_idx"] for s in self.datalist if s["db_idx"] >= len(gt["xyz"])]
        if too_big:
            raise AnnotationError(
                f"{NAME}: db_idx {too_big[0]} of freihand_eval_coco.json has no ground truth in "
                f"{EVAL_GT_FILES[0]} ({len(gt['xyz'])} samples)"
            )
        return gt

    def __getitem__(self, idx: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        data = self.datalist[idx]
        # QUIRK: FreiHAND samples are never flipped.
        img, img2bb_trans, bb2img_trans, rot, do_flip = self.load_patch(
            data["img_path"], data["bbox"], enforce_flip=False
        )
        if self.data_split != "train":
            return {"img": img}, {}, {"bb2img_trans": bb2img_trans}

        mano = self.fit_targets(
            data["mano_param"], data["cam_param"], (img2bb_trans, rot, do_flip), data["img_shape"],
            "mano",
        )  # fmt: skip
        # FreiHAND's own keypoints are not used: only the MANO pseudo-GT terms act.
        zeros3 = np.zeros((MANO.joint_num, 3), dtype=np.float32)
        zeros1 = np.zeros((MANO.joint_num, 1), dtype=np.float32)
        return hand_train_sample(img, zeros3, zeros3.copy(), zeros1, zeros1.copy(), mano, True)

    def evaluate(
        self, outs: Sequence[dict[str, np.ndarray]], cur_sample_idx: int
    ) -> dict[str, list]:
        """Submission entries and, with the ground truth present, the official metrics.

        ``joint_out`` (21, 3) = MANO regressor x ``out['mano_mesh_cam']`` and ``mesh_out``
        (778, 3), m, in the crop's virtual camera. With ground truth, also per
        sample: ``xyz_err``/``xyz_al_err`` (21,), ``mesh_err``/``mesh_al_err`` (778,) distances
        in m (unaligned / aligned), and ``f5``, ``f15``, ``f5_al``, ``f15_al`` F-scores.
        """
        regressor = get_mano(self.cfg.human_model_path).joint_regressor  # (21, 778)
        eval_result: dict[str, list] = {"joint_out": [], "mesh_out": []}
        for n, out in enumerate(outs):
            mesh_out = np.asarray(out["mano_mesh_cam"], dtype=np.float64)  # (778, 3) m
            joint_out = np.dot(regressor, mesh_out)  # (21, 3) m
            eval_result["joint_out"].append(joint_out.tolist())
            eval_result["mesh_out"].append(mesh_out.tolist())
            if self.eval_gt is None:
                continue
            db_idx = self.datalist[cur_sample_idx + n]["db_idx"]
            for key, value in freihand_sample_scores(
                self.eval_gt["xyz"][db_idx], self.eval_gt["verts"][db_idx], joint_out, mesh_out
            ).items():
                eval_result.setdefault(key, []).append(value)
        return eval_result

    def _submission_order(self, count: int) -> list[int]:
        """Positions of the first ``count`` samples sorted by ``db_idx``: the official evaluator
        pairs row i of pred.json with ground truth i, while the samples follow the annotation
        file (the same order when the file is in db_idx order, as the released one is)."""
        db_idx = [sample["db_idx"] for sample in self.datalist[:count]]
        order = sorted(range(count), key=db_idx.__getitem__)
        if order != list(range(count)):
            logger.warning(
                "%s: the annotations are not in db_idx order; pred.json rows are written in "
                "db_idx order (row i = db_idx i), as the official evaluator pairs them", NAME,
            )  # fmt: skip
        if sorted(db_idx) != list(range(count)):
            logger.warning(
                "%s: the %d db_idx values are not 0..%d: the official evaluator pairs pred.json "
                "row i with ground truth i, so its scores will not match the local ones",
                NAME, count, count - 1,
            )  # fmt: skip
        return order

    def print_eval_result(self, eval_result: dict[str, list]) -> None:
        """Write ``<result_dir>/FreiHAND/pred.json`` and, with ground truth, print the metrics."""
        out_dir = osp.join(self.cfg.result_dir, NAME)
        os.makedirs(out_dir, exist_ok=True)
        pred_path = osp.join(out_dir, "pred.json")
        order = self._submission_order(len(eval_result["joint_out"]))
        with open(pred_path, "w") as f:
            json.dump([[eval_result[key][i] for i in order] for key in ("joint_out", "mesh_out")],
                      f)  # fmt: skip
        print(f"Saved at {pred_path}")
        if "xyz_err" not in eval_result:
            print(
                f"No local evaluation: put {' and '.join(EVAL_GT_FILES)} into {self.data_dir} "
                "or upload pred.json (zipped) to the FreiHAND Codalab server."
            )
            return
        scores = freihand_summary(eval_result)
        score_path = osp.join(out_dir, "scores.txt")
        with open(score_path, "w") as f:
            f.writelines(f"{name}: {value:f}\n" for name, value in scores.items())
        n = len(eval_result["xyz_err"])
        print(
            f"FreiHAND local evaluation ({n} samples, official formulas):\n"
            f"PA MPJPE: {scores['xyz_al_mean3d'] * 10:.2f} mm\n"
            f"PA MPVPE: {scores['mesh_al_mean3d'] * 10:.2f} mm\n"
            f"F@5mm: {scores['f_al_score_5']:.3f}\n"
            f"F@15mm: {scores['f_al_score_15']:.3f}\n"
            f"PA MPJPE AUC (0-50 mm): {scores['xyz_al_auc3d']:.3f}\n"
            f"PA MPVPE AUC (0-50 mm): {scores['mesh_al_auc3d']:.3f}\n"
            "Unaligned (not meaningful: the predictions live in the crop's virtual camera): "
            f"MPJPE {scores['xyz_mean3d'] * 10:.2f} mm, MPVPE {scores['mesh_mean3d'] * 10:.2f} "
            f"mm, F@5mm {scores['f_score_5']:.3f}, F@15mm {scores['f_score_15']:.3f}\n"
            f"Scores written to {score_path}"
        )


def freihand_sample_scores(
    xyz_gt: np.ndarray, verts_gt: np.ndarray, xyz_pred: np.ndarray, verts_pred: np.ndarray
) -> dict[str, Any]:
    """Per-sample quantities of the official FreiHAND evaluation, metres.

    Args:
        xyz_gt, xyz_pred: (21, 3) joints; verts_gt, verts_pred: (778, 3) vertices.

    Returns:
        ``xyz_err``, ``xyz_al_err`` (21,), ``mesh_err``, ``mesh_al_err`` (778,) float32
        distances; ``f5``, ``f15``, ``f5_al``, ``f15_al`` F-scores of the vertices.
    """
    xyz_al = freihand_align(xyz_gt, xyz_pred)
    verts_al = freihand_align(verts_gt, verts_pred)  # the mesh gets its own alignment
    scores: dict[str, Any] = {
        "xyz_err": point_distances(xyz_gt, xyz_pred).astype(np.float32),
        "xyz_al_err": point_distances(xyz_gt, xyz_al).astype(np.float32),
        "mesh_err": point_distances(verts_gt, verts_pred).astype(np.float32),
        "mesh_al_err": point_distances(verts_gt, verts_al).astype(np.float32),
    }
    for threshold in FREIHAND_F_THRESHOLDS:
        mm = round(threshold * 1000)
        scores[f"f{mm}"] = f_score(verts_gt, verts_pred, threshold)
        scores[f"f{mm}_al"] = f_score(verts_gt, verts_al, threshold)
    return scores


def freihand_summary(eval_result: dict[str, list]) -> dict[str, float]:
    """The official ``scores.txt`` values from the per-sample results of :func:`evaluate`.

    Means are the mean over keypoints/vertices of the per-point means over samples, in cm (as the
    official file); AUCs of PCK over 0-50 mm; F-scores are means over samples.
    """
    scores: dict[str, float] = {}
    for name, key, to_cm in SCORE_LINES:
        distances = np.stack(eval_result[key]).astype(np.float64)  # (N, K) m
        if to_cm is None:
            scores[name] = pck_auc(distances)
        else:
            scores[name] = float(np.mean(distances.mean(0))) * to_cm
    for threshold in FREIHAND_F_THRESHOLDS:
        mm = round(threshold * 1000)
        scores[f"f_score_{mm}"] = float(np.mean(eval_result[f"f{mm}"]))
        scores[f"f_al_score_{mm}"] = float(np.mean(eval_result[f"f{mm}_al"]))
    return scores
