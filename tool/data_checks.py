"""The checks of the preflight scan (``tool/check_data.py``): records, images, model files.

A *defect* is one problem that would stop or silently spoil a run: a missing or undecodable
image, a non-finite number, a malformed file, a missing fit, a fit without its camera. Each is one
:class:`Defect` naming the file and, where there is one, the entry. Records that the dataset's own
loader leaves out by the original's rules (empty boxes, crowd, frame sub-sampling) are not defects;
the loader counts them (``drop_counts``).

The image check is the loader's own decode (:func:`common.utils.image_io.decode_img`, which
refuses truncated JPEG/PNG files through :mod:`common.utils.image_check`); each file is decoded
once, in a worker process.
"""

from __future__ import annotations

import json
import math
import os.path as osp
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from common.utils.image_check import BadImageError
from common.utils.image_io import decode_img
from common.utils.model_files import ModelFileError, load_model_npy, load_model_pickle

# A fit that the loader turns into targets: None in a record means the fit is missing.
REQUIRED_FITS = ("smpl_param", "flame_param", "cam_param")
# Hand fits whose None is the loader's documented "hand without a fit" (zero MANO targets and
# validities; MSCOCO and InterHand2.6M).
OPTIONAL_FITS = ("mano", "mano_param")
CAMERA_KEYS = ("focal", "princpt")
ENTRY_KEYS = ("ann_id", "img_id", "db_idx", "person_id", "hand_type")
# The model files each part's network reads (under --human_model_path).
MODEL_FILES = {
    "body": ("smpl/SMPL_NEUTRAL.pkl", "smpl/SMPL_MALE.pkl", "smpl/SMPL_FEMALE.pkl"),
    "hand": ("mano/MANO_RIGHT.pkl", "mano/MANO_LEFT.pkl"),
    "face": (
        "flame/FLAME_NEUTRAL.pkl",
        "flame/flame_static_embedding.pkl",
        "flame/flame_dynamic_embedding.npy",
    ),
}


@dataclass(frozen=True)
class Defect:
    """One problem: ``file`` (path), ``entry`` (record or annotation id, '' for a whole file),
    ``problem`` (words) and where it was met (``dataset``, ``split``; '' for model files)."""

    dataset: str
    split: str
    file: str
    entry: str
    problem: str

    def line(self) -> str:
        """The report line: ``file [entry]: problem (dataset split)``."""
        where = f" ({self.dataset} {self.split})" if self.dataset else ""
        entry = f" [{self.entry}]" if self.entry else ""
        return f"{self.file}{entry}: {self.problem}{where}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def entry_name(record: Mapping[str, Any], index: int) -> str:
    """``record <index>`` plus the record's own ids (``ann_id 12``, ``hand_type left``)."""
    ids = [f"{key} {record[key]}" for key in ENTRY_KEYS if key in record]
    return ", ".join([f"record {index}", *ids])


def _non_finite(value: Any) -> bool:
    """Whether a number, array or list of numbers holds a NaN or an infinity."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fc" and not bool(np.isfinite(value).all())
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (int, float, list)):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return False  # mixed content (strings): not a numeric list
        return not bool(np.isfinite(array).all())
    return False


def _walk(value: Any, path: str, out: list[str]) -> None:
    """Append a problem for every non-finite leaf, missing fit or camera without focal/princpt."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if item is None:
                if key in REQUIRED_FITS:
                    out.append(f"missing fit: {sub} is null (the loader needs it)")
                elif key not in OPTIONAL_FITS:
                    out.append(f"{sub} is null")
                continue
            _walk(item, sub, out)
        has_fit = any(str(k).endswith("_param") and k != "cam_param" for k in value)
        if has_fit and "cam_param" not in value:
            out.append(f"fit {path or 'record'} has no camera (cam_param)")
        if path.endswith("cam_param"):
            missing = [k for k in CAMERA_KEYS if k not in value]
            if missing:
                out.append(f"camera {path} has no {', '.join(missing)}")
        return
    if _non_finite(value):
        out.append(f"non-finite value (NaN or inf) in {path}")


def record_problems(record: Mapping[str, Any]) -> list[str]:
    """What is wrong with one loader record, apart from its image (see the module docstring)."""
    out: list[str] = []
    if not isinstance(record.get("img_path"), str):
        out.append("record has no img_path")
    _walk({k: v for k, v in record.items() if k not in ("img_path", "img_shape")}, "", out)
    return out


def check_image(path: str) -> tuple[str, str | None, tuple[int, int] | None]:
    """Decode ``path`` as the loader does. Returns ``(path, problem or None, (H, W) or None)``."""
    try:
        img = decode_img(path, order="BGR", check=True)
    except FileNotFoundError:
        return path, "image not found", None
    except BadImageError as err:
        return path, f"bad image: {err.reason}", None
    except OSError as err:  # unreadable (permissions, I/O error)
        return path, f"cannot read the image ({err})", None
    return path, None, (int(img.shape[0]), int(img.shape[1]))


def init_worker() -> None:
    """Worker process start: one OpenCV thread per process (the processes are the parallelism)."""
    import cv2

    cv2.setNumThreads(1)


def check_images(paths: Sequence[str]) -> tuple[list[tuple], float]:
    """:func:`check_image` of a chunk of paths in one worker; returns (results, busy seconds)."""
    start = time.perf_counter()
    results = [check_image(path) for path in paths]
    return results, time.perf_counter() - start


@contextmanager
def json_reads() -> Iterator[list[str]]:
    """Record the path of every file read with ``json.load`` inside the block (in read order).

    The loaders read their annotation files with ``json.load``; the list tells the scan which
    file a malformed-JSON error or a dropped NaN box belongs to.
    """
    original = json.load
    files: list[str] = []

    def recording_load(fp: Any, *args: Any, **kwargs: Any) -> Any:
        files.append(str(getattr(fp, "name", "?")))
        return original(fp, *args, **kwargs)

    json.load = recording_load
    try:
        yield files
    finally:
        json.load = original


def check_model_files(parts: str, human_model_path: str) -> tuple[list[Defect], list[str]]:
    """Read the model files of ``parts``; returns (defects, warnings).

    Defects: a missing or unreadable file, a missing or non-finite ``J_regressor`` (the joint
    regressor), or one whose columns do not match ``v_template``. Warnings: stand-in files
    (marked ``'standin': True`` by ``tool/standin``), which give meaningless results on real data.
    """
    defects: list[Defect] = []
    warnings: list[str] = []
    for rel in MODEL_FILES[parts]:
        path = osp.join(human_model_path, rel)
        if not osp.isfile(path):
            defects.append(Defect("", "", path, "", "model file not found (--human_model_path)"))
            continue
        try:
            data = load_model_npy(path) if path.endswith(".npy") else load_model_pickle(path)
        except (ModelFileError, OSError, EOFError) as err:
            defects.append(Defect("", "", path, "", f"malformed model file: {err}"))
            continue
        if data.get("standin") is True:
            warnings.append(
                f"STAND-IN MODEL FILE {path}: written by tool/make_standin_models.py for tests; "
                "a real run needs the official files (results with it are meaningless)"
            )
        if "J_regressor" in data or rel.endswith(("SMPL_NEUTRAL.pkl", "MANO_RIGHT.pkl")):
            defects += _regressor_defects(path, data)
    return defects, warnings


def _regressor_defects(path: str, data: Mapping[str, Any]) -> list[Defect]:
    if "J_regressor" not in data:
        return [Defect("", "", path, "J_regressor", "model file has no joint regressor")]
    regressor = np.asarray(data["J_regressor"], dtype=np.float64)
    if not np.isfinite(regressor).all():
        return [Defect("", "", path, "J_regressor", "non-finite value in the joint regressor")]
    vertices = np.asarray(data.get("v_template", np.zeros((regressor.shape[-1], 3)))).shape[0]
    if regressor.ndim != 2 or regressor.shape[1] != vertices:
        return [
            Defect("", "", path, "J_regressor", f"joint regressor of shape {regressor.shape} "
                   f"does not match the {vertices} template vertices")
        ]  # fmt: skip
    return []
