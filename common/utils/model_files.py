"""Reading the official SMPL / MANO / FLAME model files without ``chumpy``.

The official ``.pkl`` model files are Python 2 pickles (read with ``encoding='latin1'``). Some of
their arrays are ``chumpy.ch.Ch`` objects, pickled through the generic object reconstructor
(``copy_reg._reconstructor`` + a state dictionary holding the array under ``'x'``); the
``J_regressor`` is a ``scipy.sparse`` matrix pickled under an old module path
(``scipy.sparse.csc``); plain arrays reference ``numpy.core.multiarray``. ``chumpy`` is broken on
current NumPy, so these files are read here with a *restricted* unpickler:

* every ``chumpy.*`` class becomes a placeholder whose array is taken from its ``'x'`` state entry;
* ``scipy.sparse`` compressed matrices (any module path) become a placeholder that is rebuilt as a
  dense array from ``data`` / ``indices`` / ``indptr`` / ``_shape``;
* NumPy's array, dtype and scalar reconstructors are mapped to the installed NumPy;
* any other global raises :class:`ModelFileError` (nothing else can be executed by a model file).

Files that were already cleaned (plain NumPy arrays, as written by smplx's ``clean_ch.py``) go
through the same path. The result is a plain dictionary of NumPy arrays (and the few strings and
numbers the files also hold) that is handed to ``smplx`` as ``data_struct``.
"""

from __future__ import annotations

import codecs
import copyreg
import logging
import os
import pickle
from typing import Any

import numpy as np
import scipy.sparse

logger = logging.getLogger(__name__)

# NumPy reconstructors of the installed version (module paths differ between NumPy 1.x and 2.x;
# Python 2 pickles name ``numpy.core.multiarray``).
_NUMPY_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]
_NUMPY_SCALAR = np.float64(0.0).__reduce__()[0]
_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")

# Python 2 spells these modules differently; the default unpickler maps them only when
# find_class is not overridden.
_BUILTINS = ("__builtin__", "builtins")
_COPYREG = ("copy_reg", "copyreg")
_SAFE_BUILTINS = {"object": object, "set": set, "frozenset": frozenset, "slice": slice}
_SPARSE_FORMATS = {"csc_matrix": "csc", "csr_matrix": "csr", "csc_array": "csc", "csr_array": "csr"}


class ModelFileError(ValueError):
    """A human model file holds something that cannot be read as arrays."""


class ChumpyObject:
    """Placeholder for a pickled ``chumpy`` object; keeps the pickled state untouched."""

    chumpy_class = "chumpy.ch.Ch"

    def __setstate__(self, state: Any) -> None:
        self.state = state


class SparseMatrixObject:
    """Placeholder for a pickled ``scipy.sparse`` compressed matrix (any scipy version)."""

    sparse_format = "csc"

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _chumpy_placeholder(module: str, name: str) -> type:
    return type(name, (ChumpyObject,), {"chumpy_class": f"{module}.{name}"})


def _sparse_placeholder(name: str) -> type:
    return type(name, (SparseMatrixObject,), {"sparse_format": _SPARSE_FORMATS[name]})


class _ModelUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the globals a human model file may legitimately name."""

    def __init__(self, file: Any, path: str) -> None:
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _chumpy_placeholder(module, name)
        if module.startswith("scipy.sparse") and name in _SPARSE_FORMATS:
            return _sparse_placeholder(name)
        if module in _NUMPY_MODULES and name == "_reconstruct":
            return _NUMPY_RECONSTRUCT
        if module in _NUMPY_MODULES and name == "scalar":
            return _NUMPY_SCALAR
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "numpy.dtypes" and name.endswith("DType"):
            return np.dtype
        if module in _COPYREG and name in ("_reconstructor", "__newobj__"):
            return getattr(copyreg, name)
        if module in _BUILTINS and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if module == "_codecs" and name == "encode":
            return codecs.encode
        raise ModelFileError(
            f"{self.path}: the pickle refers to {module}.{name}, which is not allowed in a human "
            "model file (expected NumPy arrays, chumpy arrays or a scipy.sparse matrix)"
        )


def _to_array(value: Any, path: str, key: str) -> Any:
    """Turn chumpy / sparse placeholders (recursively) into NumPy arrays; keep other values."""
    if isinstance(value, ChumpyObject):
        state = value.state
        if not isinstance(state, dict) or "x" not in state:
            raise ModelFileError(
                f"{path}: entry {key!r} is a {value.chumpy_class} object without an array under "
                "'x' (a derived chumpy expression); convert the file with chumpy installed "
                "(smplx tools/clean_ch.py) and use the cleaned file"
            )
        return np.asarray(_to_array(state["x"], path, key))
    if isinstance(value, SparseMatrixObject):
        state = value.state
        try:
            shape = tuple(int(n) for n in state.get("_shape", state.get("shape")))
            data = np.asarray(_to_array(state["data"], path, key))
            indices = np.asarray(_to_array(state["indices"], path, key))
            indptr = np.asarray(_to_array(state["indptr"], path, key))
            matrix_class = (
                scipy.sparse.csc_matrix if value.sparse_format == "csc" else scipy.sparse.csr_matrix
            )
            return matrix_class((data, indices, indptr), shape=shape).toarray()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(
                f"{path}: entry {key!r} is a scipy sparse matrix that cannot be rebuilt ({exc})"
            ) from exc
    if isinstance(value, dict):
        return {k: _to_array(v, path, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_to_array(v, path, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray) and value.dtype == object:
        flat = [_to_array(v, path, f"{key}[{i}]") for i, v in enumerate(value.ravel())]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(value.shape)
    return value


def _unpickle(file: Any, path: str) -> Any:
    try:
        return _ModelUnpickler(file, path).load()
    except ModelFileError:
        raise
    except Exception as exc:  # a corrupt or truncated file: name it
        raise ModelFileError(
            f"{path}: not a readable model pickle ({type(exc).__name__}: {exc})"
        ) from exc


def _as_dict(obj: Any, path: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ModelFileError(f"{path}: expected a pickled dictionary, found {type(obj).__name__}")
    data = {str(key): _to_array(value, path, str(key)) for key, value in obj.items()}
    if data.get("standin") is True:
        logger.info("%s is a stand-in model file (tool/make_standin_models.py)", path)
    return data


def load_model_pickle(path: str) -> dict[str, Any]:
    """Read an official (chumpy-style, Python 2) or cleaned SMPL/MANO/FLAME ``.pkl`` file.

    Args:
        path: the ``.pkl`` file.

    Returns:
        Dictionary key -> value; chumpy arrays and sparse matrices become dense NumPy arrays
        (dtype as stored), strings and numbers are kept.

    Raises:
        FileNotFoundError: the file does not exist.
        ModelFileError: the file is not a pickled dictionary, names a global other than NumPy /
            chumpy / scipy.sparse classes, or holds a chumpy object without an array under ``'x'``
            (the message names the file and the key).
    """
    with open(path, "rb") as file:
        return _as_dict(_unpickle(file, path), path)


# Arrays every SMPL / MANO / FLAME file must hold, and how their shapes relate (V vertices,
# J joints): smplx reads them without checking and fails deep inside with no file named.
BODY_MODEL_KEYS = (
    "v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f",
)  # fmt: skip


def check_body_model_arrays(data: dict[str, Any], path: str) -> dict[str, Any]:
    """Check the arrays of a body model file before smplx uses them; returns ``data``.

    Expected: ``v_template`` (V, 3), ``shapedirs`` (V, 3, S), ``posedirs`` (V, 3, P),
    ``J_regressor`` (J, V), ``weights`` (V, J), ``kintree_table`` (2, J), ``f`` (F, 3).

    Raises:
        ModelFileError: a key is missing or an array has another shape (file and key named).
    """
    missing = [key for key in BODY_MODEL_KEYS if key not in data]
    if missing:
        raise ModelFileError(
            f"{path}: missing key(s) {', '.join(missing)}; the file is not a complete SMPL/MANO/"
            "FLAME model: download it again"
        )
    shapes = {key: tuple(getattr(data[key], "shape", ())) for key in BODY_MODEL_KEYS}
    vertices = shapes["v_template"][0] if len(shapes["v_template"]) == 2 else None
    joints = shapes["J_regressor"][0] if len(shapes["J_regressor"]) == 2 else None
    expected = {
        "v_template": (vertices, 3),
        "shapedirs": (vertices, 3, None),
        "posedirs": (vertices, 3, None),
        "J_regressor": (joints, vertices),
        "weights": (vertices, joints),
        "kintree_table": (2, joints),
        "f": (None, 3),
    }
    for key, want in expected.items():
        got = shapes[key]
        if vertices is None or len(got) != len(want) or any(
            w is not None and g != w for g, w in zip(got, want)
        ):
            text = "(" + ", ".join("*" if w is None else str(w) for w in want) + ")"
            raise ModelFileError(
                f"{path}: key {key!r} has shape {got}, expected {text}; the file is damaged or "
                "not an SMPL/MANO/FLAME model: download it again"
            )
    return data


def load_model_npy(path: str) -> dict[str, Any]:
    """Read a ``.npy`` file holding a pickled dictionary (``flame_dynamic_embedding.npy``).

    Args:
        path: the ``.npy`` file (a 0-d object array whose item is a dictionary).

    Returns:
        The dictionary with its arrays converted as in :func:`load_model_pickle`.

    Raises:
        FileNotFoundError: the file does not exist.
        ModelFileError: not a ``.npy`` file of a pickled dictionary.
    """
    with open(path, "rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
        except ValueError as exc:
            raise ModelFileError(f"{path}: not a .npy file ({exc})") from exc
        if dtype != np.dtype(object) or shape != ():
            raise ModelFileError(
                f"{path}: expected a .npy file holding one pickled dictionary (object array of "
                f"shape ()), found dtype {dtype} and shape {shape}"
            )
        array = _unpickle(file, path)
    item = array.item() if isinstance(array, np.ndarray) else array
    return _as_dict(item, path)


def require_file(path: str, model: str, website: str) -> str:
    """Return ``path`` if it exists, else raise a :class:`FileNotFoundError` saying where it goes.

    Args:
        path: the expected model file.
        model: model name for the message (``'SMPL'``, ``'MANO'``, ``'FLAME'``).
        website: where the file is obtained.
    """
    if not os.path.isfile(path):
        folder, name = os.path.split(path)
        raise FileNotFoundError(
            f"{model} model file {name} not found: put it in the folder {folder} (the human model "
            f"folder is set by --human_model_path). The {model} files are obtained, after "
            f"registration, from {website}; for tests and the quick start, "
            "`python tool/make_standin_models.py DIR` writes stand-in files instead."
        )
    return path


__all__ = [
    "ChumpyObject",
    "ModelFileError",
    "SparseMatrixObject",
    "load_model_npy",
    "load_model_pickle",
    "require_file",
]
