"""Convert the official AGORA SMPL release into the files the Pose2Pose AGORA loader reads.

``python tool/AGORA/agora2coco_smpl.py --dataset_path data/AGORA/data
--human_model_path common/utils/human_model_files`` reads, under the dataset path,

* ``SMPL/*.pkl`` (from ``train_SMPL.zip``; e.g. ``train_0_withjv.pkl``) and
  ``validation_SMPL/SMPL/*.pkl`` (from ``validation_SMPL.zip``): pandas data frames, one row per
  frame, per-person lists in the columns ``gt_path_smpl``, ``gender``, ``kid``, ``occlusion``,
  ``isValid``, ``age``, ``ethnicity``, ``gt_joints_2d``, ``X``, ``Y``, ``Z``, ``Yaw``, and the
  frame's ``imgPath``, ``camX``, ``camY``, ``camZ``, ``camYaw``;
* ``smpl_gt/**.pkl`` (from ``smpl_gt.zip``): per-person SMPL fits (``root_pose``, ``body_pose``,
  ``betas``, ``translation``) in the person's own frame;
* ``<human_model_path>/smpl/SMPL_{MALE,FEMALE,NEUTRAL}.pkl``;

and writes

* ``smpl_params_cam/<folder>/<stem>/<person>.json``: ``{global_orient (3), body_pose (69),
  betas (10), transl (3)}``, the fit re-expressed in the camera frame (m);
* ``cam_params/<folder>/<stem>.json``: ``{focal: [fx, fy], princpt: [cx, cy]}``, 4K px;
* ``AGORA_train_SMPL.json``, ``AGORA_validation_SMPL.json``: ``{images, annotations}`` with image
  ids and annotation ids counting on across the two splits.

``<folder>`` is the data frame's file name before ``_withjv`` (``train_0`` ...) for training and
``validation`` for validation; ``<stem>`` is ``imgPath`` without its extension.

Differences from the original ``agora2coco_smpl.py``: the annotations are appended (the original
built them and wrote empty lists, so the loader saw no person); ``--dataset_path`` and
``--human_model_path`` have defaults; the person-to-camera transform is computed in closed form
instead of a Procrustes fit on the joints (same result to float precision); a frame without
persons gets its own camera file instead of a stale one; tensors saved on a GPU in the
ground-truth files load on a CPU. Kept: children are refitted with the adult SMPL model of their
gender and its 10 shape parameters (AGORA's child model has an 11th), so their camera-frame
parameters are approximate.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import argparse  # noqa: E402
import glob  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402
from tqdm import tqdm  # noqa: E402

from common.utils.bbox import get_bbox  # noqa: E402
from common.utils.human_models import SMPL  # noqa: E402
from tool.AGORA.agora_camera import person_to_camera, scene_camera  # noqa: E402

logger = logging.getLogger(__name__)

ROOT_DIR = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_DATASET_PATH = osp.join(ROOT_DIR, "data", "AGORA", "data")
DEFAULT_HUMAN_MODEL_PATH = osp.join(ROOT_DIR, "common", "utils", "human_model_files")
SPLITS = ("train", "validation")
# split -> (data frame glob under the dataset path, AGORA download holding it)
DATA_FRAMES = {
    "train": (osp.join("SMPL", "*.pkl"), "train_SMPL.zip"),
    "validation": (osp.join("validation_SMPL", "SMPL", "*.pkl"), "validation_SMPL.zip"),
}
PERSON_COLUMNS = (
    "gt_path_smpl", "gender", "kid", "occlusion", "isValid", "age", "ethnicity", "gt_joints_2d",
    "X", "Y", "Z", "Yaw",
)  # fmt: skip
FRAME_COLUMNS = ("imgPath", "camX", "camY", "camZ", "camYaw")
# ground-truth pickle entry -> values used (betas: the first 10, a child's 11th is dropped)
GT_SIZES = {"root_pose": 3, "body_pose": 69, "betas": SMPL.shape_param_dim, "translation": 3}
BBOX_EXTEND = 1.2  # tight box of the 2-D joints, enlarged about its centre


class AgoraFormatError(ValueError):
    """An AGORA input file does not have the expected content; the message names it."""


class _CpuUnpickler(pickle.Unpickler):
    """Unpickler that reads torch tensors onto the CPU, wherever they were saved."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch.storage" and name == "_load_from_bytes":
            return lambda data: torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        return super().find_class(module, name)


def _as_array(value: Any) -> np.ndarray:
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def load_smpl_gt(path: str) -> dict[str, np.ndarray]:
    """An AGORA SMPL ground-truth pickle (torch tensors or arrays).

    Returns:
        float64 ``root_pose`` (3,), ``body_pose`` (69,), ``betas`` (10,) (the first 10 of a
        child's 11), ``translation`` (3,); axis-angle, metres.

    Raises:
        FileNotFoundError: no file (the message names ``smpl_gt.zip``).
        AgoraFormatError: a key is missing or has too few values.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"AGORA SMPL ground truth not found: {path}. Unzip smpl_gt.zip (AGORA website, "
            "downloads) into the dataset path."
        )
    with open(path, "rb") as f:
        data = _CpuUnpickler(f).load()
    out = {}
    for key, size in GT_SIZES.items():
        if not isinstance(data, dict) or key not in data:
            raise AgoraFormatError(f"{path}: expected a dict with the keys {', '.join(GT_SIZES)}")
        value = _as_array(data[key]).reshape(-1)
        if value.size < size:
            raise AgoraFormatError(f"{path}: {key} has {value.size} values, expected {size}")
        out[key] = value[:size]
    return out


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a data-frame value (NumPy scalars -> Python scalars)."""
    return value.item() if isinstance(value, np.generic) else value


def _write_json(path: str, obj: Any) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)


def data_frame_files(dataset_path: str, split: str) -> list[tuple[str, str]]:
    """(data frame pickle, image folder name) of a split, sorted by file name.

    Raises:
        FileNotFoundError: no data frame (the message names the download).
    """
    pattern, download = DATA_FRAMES[split]
    files = sorted(glob.glob(osp.join(dataset_path, pattern)))
    if not files:
        raise FileNotFoundError(
            f"no AGORA {split} data frames {osp.join(dataset_path, pattern)}. Unzip {download} "
            "(AGORA website, downloads) into the dataset path."
        )
    if split == "train":
        return [(f, osp.basename(f).split("_withjv")[0].removesuffix(".pkl")) for f in files]
    return [(f, "validation") for f in files]


def read_data_frame(path: str) -> Any:
    """An AGORA data frame pickle (needs pandas, see requirements-tools.txt)."""
    try:
        import pandas as pd
    except ImportError as err:
        raise ImportError(
            "reading AGORA's data frames needs pandas: pip install -r requirements-tools.txt"
        ) from err
    frame = pd.read_pickle(path)
    missing = [c for c in FRAME_COLUMNS + PERSON_COLUMNS if c not in frame.columns]
    if missing:
        raise AgoraFormatError(
            f"{path}: columns {', '.join(missing)} missing; expected an AGORA SMPL data frame "
            "(train_SMPL.zip / validation_SMPL.zip)"
        )
    return frame


class Converter:
    """Re-expresses AGORA SMPL fits in the camera frame and collects the COCO-like records.

    Args:
        dataset_path: the AGORA folder (``data/AGORA/data``); outputs are written there.
        human_model_path: folder with ``smpl/SMPL_{MALE,FEMALE,NEUTRAL}.pkl``.
    """

    def __init__(self, dataset_path: str, human_model_path: str) -> None:
        self.dataset_path = dataset_path
        self.smpl = SMPL(human_model_path)
        self.image_id = 0
        self.ann_id = 0
        self.kids = 0

    def camera_fit(
        self, gt: dict[str, np.ndarray], gender: str, rot: np.ndarray, trans: np.ndarray
    ) -> dict[str, list[float]]:
        """SMPL parameters in the camera frame of a fit whose points map by ``R @ x + t``.

        The root rotation acts about the rest-pose pelvis ``p``, so the new translation is
        ``R (p + translation) + t - p``; body pose and shape are unchanged.
        """
        layer = self.smpl.layer(gender)
        with torch.no_grad():
            out = layer(
                global_orient=torch.tensor(gt["root_pose"][None], dtype=torch.float32),
                body_pose=torch.tensor(gt["body_pose"][None], dtype=torch.float32),
                betas=torch.tensor(gt["betas"][None], dtype=torch.float32),
            )
        pelvis = out.joints[0, 0].numpy().astype(np.float64)  # (3,), m
        root = rot @ Rotation.from_rotvec(gt["root_pose"]).as_matrix()
        transl = rot @ (pelvis + gt["translation"]) + trans - pelvis
        return {
            "global_orient": Rotation.from_matrix(root).as_rotvec().tolist(),
            "body_pose": gt["body_pose"].tolist(),
            "betas": gt["betas"].tolist(),
            "transl": transl.tolist(),
        }

    def convert_frame(self, row: Any, folder: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Image record and annotation records of one data-frame row; writes its JSON files."""
        img_path = row["imgPath"]
        stem = img_path[:-4]
        image = {
            "id": self.image_id,
            "file_name_3840x2160": f"images_3840x2160/{folder}/{img_path}",
            "file_name_1280x720": f"images_1280x720/{folder}/{stem}_1280x720.png",
        }
        camera = scene_camera(img_path, row["camX"], row["camY"], row["camZ"], row["camYaw"])
        cam_rel = f"cam_params/{folder}/{stem}.json"
        annotations = []
        for person_id, gt_rel in enumerate(row["gt_path_smpl"]):
            gt = load_smpl_gt(osp.join(self.dataset_path, osp.splitext(gt_rel)[0] + ".pkl"))
            position = np.array([row[c][person_id] for c in ("X", "Y", "Z")], dtype=np.float64)
            rot, trans = person_to_camera(float(row["Yaw"][person_id]), position, camera)
            gender = _plain(row["gender"][person_id])
            if gender not in SMPL.genders:
                raise AgoraFormatError(
                    f"{img_path} person {person_id}: gender {gender!r}, expected one of "
                    f"{', '.join(SMPL.genders)}"
                )
            param_rel = f"smpl_params_cam/{folder}/{stem}/{person_id}.json"
            _write_json(
                osp.join(self.dataset_path, param_rel), self.camera_fit(gt, gender, rot, trans)
            )
            joints_2d = np.reshape(np.asarray(row["gt_joints_2d"][person_id], np.float64), (-1, 2))
            bbox = get_bbox(joints_2d, np.ones(len(joints_2d)), extend_ratio=BBOX_EXTEND)
            kid = bool(_plain(row["kid"][person_id]))
            self.kids += kid
            annotations.append({
                "id": self.ann_id,
                "image_id": self.image_id,
                "person_id": person_id,
                "smpl_param_path": f"./{param_rel}",
                "cam_param_path": f"./{cam_rel}",
                "gender": gender,
                "kid": kid,
                "occlusion": _plain(row["occlusion"][person_id]),
                "is_valid": bool(_plain(row["isValid"][person_id])),
                "age": _plain(row["age"][person_id]),
                "ethnicity": _plain(row["ethnicity"][person_id]),
                "bbox": [float(v) for v in bbox],
            })  # fmt: skip
            self.ann_id += 1
        _write_json(
            osp.join(self.dataset_path, cam_rel),
            {"focal": list(camera.focal), "princpt": list(camera.princpt)},
        )
        self.image_id += 1
        return image, annotations

    def convert_split(self, split: str) -> str:
        """Convert the data frames of ``split``; returns the written ``AGORA_<split>_SMPL.json``."""
        images, annotations = [], []
        for path, folder in data_frame_files(self.dataset_path, split):
            frame = read_data_frame(path)
            for _, row in tqdm(frame.iterrows(), total=len(frame), desc=osp.basename(path)):
                image, anns = self.convert_frame(row, folder)
                images.append(image)
                annotations.extend(anns)
        out_path = osp.join(self.dataset_path, f"AGORA_{split}_SMPL.json")
        _write_json(out_path, {"images": images, "annotations": annotations})
        logger.info(
            "%s: %d images, %d persons -> %s", split, len(images), len(annotations), out_path
        )
        return out_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset_path", default=DEFAULT_DATASET_PATH,
                        help="AGORA folder with SMPL/, validation_SMPL/ and smpl_gt/ "
                        "(default: data/AGORA/data)")  # fmt: skip
    parser.add_argument("--human_model_path", default=DEFAULT_HUMAN_MODEL_PATH,
                        help="folder with smpl/SMPL_{MALE,FEMALE,NEUTRAL}.pkl "
                        "(default: common/utils/human_model_files)")  # fmt: skip
    parser.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS),
                        help="splits to convert (default: train validation)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not osp.isdir(args.dataset_path):
        sys.exit(f"agora2coco_smpl: --dataset_path {args.dataset_path} is not a folder")
    converter = Converter(args.dataset_path, args.human_model_path)
    try:
        for split in args.splits:
            converter.convert_split(split)
    except (FileNotFoundError, AgoraFormatError, ImportError) as err:
        sys.exit(f"agora2coco_smpl: {err}")
    if converter.kids:
        logger.info(
            "%d child persons were refitted with the adult SMPL model and 10 shape parameters "
            "(approximate, as the original)", converter.kids,
        )  # fmt: skip


if __name__ == "__main__":
    main()
