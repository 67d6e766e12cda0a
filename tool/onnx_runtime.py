"""onnxruntime side of the ONNX export: a CPU session of an exported file, a run on a batch of
crops, and the largest difference of two output sets."""

from __future__ import annotations

import os.path as osp
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime

INPUT_NAME = "img"
INSTALL_HINT = "pip install -r requirements-export.txt"


def ort_session(path: str, num_threads: int | None = None) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session of an exported file.

    Args:
        path: the ``.onnx`` file.
        num_threads: intra-op threads (None: onnxruntime's default, one per core).

    Raises:
        FileNotFoundError: no file at ``path``.
        ImportError: onnxruntime is missing.
    """
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(f"onnxruntime is not installed: {INSTALL_HINT}") from err
    if not osp.isfile(path):
        raise FileNotFoundError(f"ONNX file not found: {path}")
    options = onnxruntime.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def run_onnx(session: onnxruntime.InferenceSession, img: np.ndarray) -> dict[str, np.ndarray]:
    """Run an exported model on a batch of crops.

    Args:
        session: from :func:`ort_session`.
        img: (B, 3, H_in, W_in) RGB crops in [0, 1] (converted to float32).

    Returns:
        Output name -> array, batch first (see the module docstring).
    """
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, {INPUT_NAME: np.ascontiguousarray(img, dtype=np.float32)})
    return dict(zip(names, values, strict=True))


def max_abs_diff(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest absolute difference of every output; shape mismatches raise ValueError."""
    diffs = {}
    for name, value in expected.items():
        if name not in got or got[name].shape != value.shape:
            found = got[name].shape if name in got else "nothing"
            raise ValueError(f"output {name}: expected shape {value.shape}, got {found}")
        diffs[name] = float(np.abs(got[name].astype(np.float64) - value).max())
    return diffs
