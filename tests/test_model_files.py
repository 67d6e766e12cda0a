"""The chumpy-free reader of official model files (common/utils/model_files.py).

The pickles in these tests are typed here in the Python 2 protocol-0 text format (independent of
the stand-in writer), or are the stand-in files of the session fixtures.
"""

from __future__ import annotations

import importlib.util
import pickle
import pickletools
import struct
from pathlib import Path

import numpy as np
import pytest

from common.utils.model_files import (
    ModelFileError,
    load_model_npy,
    load_model_pickle,
    require_file,
)


def test_chumpy_is_not_installed() -> None:
    assert importlib.util.find_spec("chumpy") is None


# ---- protocol-0 pickles typed by hand (what Python 2 wrote with pickle.dump(obj, f)) --------


def _p0_string(data: bytes) -> bytes:
    return b"S'" + b"".join(b"\\x%02x" % byte for byte in data) + b"'\n"


def _p0_array(values: list[float], shape: tuple[int, ...], code: str = "f8") -> bytes:
    fmt = {"f8": "d", "i4": "i"}[code]
    data = struct.pack(f"<{len(values)}{fmt}", *values)
    dims = b"".join(b"I%d\n" % n for n in shape)
    return (
        b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\ntS'b'\ntR"
        b"(I1\n(" + dims + b"tcnumpy\ndtype\n(S'" + code.encode() + b"'\nI0\nI1\ntR"
        b"(I3\nS'<'\nNNNI-1\nI-1\nI0\ntbI00\n" + _p0_string(data) + b"tb"
    )


def _p0_object(module: str, name: str, state_items: bytes) -> bytes:
    return (
        b"ccopy_reg\n_reconstructor\n(c" + module.encode() + b"\n" + name.encode() + b"\n"
        b"c__builtin__\nobject\nNtR(d" + state_items + b"b"
    )


def _p0_dict(items: bytes) -> bytes:
    return b"(d" + items + b"."


def _item(key: str, value: bytes) -> bytes:
    return b"S'" + key.encode() + b"'\n" + value + b"s"


def _write(tmp_path: Path, name: str, payload: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(payload)
    return str(path)


def test_reads_chumpy_arrays_and_old_sparse_matrix(tmp_path: Path) -> None:
    ch = _p0_object("chumpy.ch", "Ch", _item("x", _p0_array([1.0, 2.0, 3.0, 4.0], (2, 2)))
                    + _item("_cache", b"(d"))  # fmt: skip
    # 2 x 3 CSC matrix [[0, 0.5, 0], [0.25, 0, 1]]: columns 0..2 hold rows [1], [0], [1].
    csc = _p0_object(
        "scipy.sparse.csc",
        "csc_matrix",
        _item("_shape", b"(I2\nI3\nt")
        + _item("maxprint", b"I50\n")
        + _item("format", b"S'csc'\n")
        + _item("data", _p0_array([0.25, 0.5, 1.0], (3,)))
        + _item("indices", _p0_array([1, 0, 1], (3,), "i4"))
        + _item("indptr", _p0_array([0, 1, 2, 3], (4,), "i4")),
    )
    payload = _p0_dict(
        _item("shapedirs", ch)
        + _item("J_regressor", csc)
        + _item("f", _p0_array([0, 1, 2], (1, 3), "i4"))
        + _item("bs_style", b"S'lbs'\n")
    )
    path = _write(tmp_path, "model.pkl", payload)
    with pytest.raises(ModuleNotFoundError, match="chumpy"):
        with open(path, "rb") as file:
            pickle.load(file, encoding="latin1")  # the plain way needs chumpy
    data = load_model_pickle(path)
    np.testing.assert_array_equal(data["shapedirs"], [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(data["J_regressor"], [[0.0, 0.5, 0.0], [0.25, 0.0, 1.0]])
    np.testing.assert_array_equal(data["f"], [[0, 1, 2]])
    assert data["bs_style"] == "lbs"


def test_reads_cleaned_numpy_pickle(tmp_path: Path) -> None:
    import scipy.sparse

    regressor = scipy.sparse.csc_matrix(np.array([[0.0, 1.0], [0.5, 0.5]]))
    payload = pickle.dumps({"v_template": np.eye(2), "J_regressor": regressor}, protocol=4)
    data = load_model_pickle(_write(tmp_path, "clean.pkl", payload))
    np.testing.assert_array_equal(data["v_template"], np.eye(2))
    np.testing.assert_array_equal(data["J_regressor"], [[0.0, 1.0], [0.5, 0.5]])


def test_refuses_foreign_globals_without_running_them(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    path = _write(tmp_path, "evil.pkl", payload)
    with pytest.raises(ModelFileError, match=r"evil\.pkl.*os\.system"):
        load_model_pickle(path)
    assert not marker.exists()


def test_chumpy_object_without_array_names_file_and_key(tmp_path: Path) -> None:
    derived = _p0_object("chumpy.reordering", "transpose", _item("a", b"I1\n"))
    path = _write(tmp_path, "derived.pkl", _p0_dict(_item("posedirs", derived)))
    with pytest.raises(ModelFileError, match=r"derived\.pkl.*'posedirs'.*chumpy\.reordering"):
        load_model_pickle(path)


@pytest.mark.parametrize(
    ("payload", "pattern"),
    [
        (b"(lp0\nI1\na.", "expected a pickled dictionary"),
        (b"(dp0\nS'v_template'\np1\n", "not a readable model pickle"),
    ],
)
def test_bad_pickles_name_the_file(tmp_path: Path, payload: bytes, pattern: str) -> None:
    path = _write(tmp_path, "bad.pkl", payload)
    with pytest.raises(ModelFileError, match=rf"bad\.pkl.*{pattern}"):
        load_model_pickle(path)


def test_npy_of_a_pickled_dict(tmp_path: Path) -> None:
    path = tmp_path / "embedding.npy"
    np.save(path, np.array({"lmk_face_idx": np.arange(6).reshape(2, 3)}, dtype=object))
    data = load_model_npy(str(path))
    np.testing.assert_array_equal(data["lmk_face_idx"], [[0, 1, 2], [3, 4, 5]])
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros(3))
    with pytest.raises(ModelFileError, match=r"plain\.npy.*pickled dictionary"):
        load_model_npy(str(plain))


def test_require_file_message(tmp_path: Path) -> None:
    missing = tmp_path / "smpl" / "SMPL_NEUTRAL.pkl"
    with pytest.raises(FileNotFoundError) as info:
        require_file(str(missing), "SMPL", "https://smpl.is.tue.mpg.de")
    message = str(info.value)
    assert "SMPL_NEUTRAL.pkl" in message
    assert str(tmp_path / "smpl") in message
    assert "https://smpl.is.tue.mpg.de" in message
    existing = tmp_path / "x.pkl"
    existing.write_bytes(b"")
    assert require_file(str(existing), "SMPL", "https://smpl.is.tue.mpg.de") == str(existing)


# ---- the stand-in files ------------------------------------------------------------------


def _globals_and_opcodes(path: Path) -> tuple[set[str], set[str], int]:
    names, opcodes, proto = set(), set(), 0
    with open(path, "rb") as file:
        for op, arg, _ in pickletools.genops(file):
            opcodes.add(op.name)
            proto = max(proto, op.proto)
            if op.name == "GLOBAL":
                names.add(arg)
    return names, opcodes, proto


def test_chumpy_variant_is_a_python2_style_pickle(standin_model_dir: Path) -> None:
    names, opcodes, proto = _globals_and_opcodes(standin_model_dir / "smpl" / "SMPL_NEUTRAL.pkl")
    assert proto <= 2
    assert {"copy_reg _reconstructor", "chumpy.ch Ch", "scipy.sparse.csc csc_matrix",
            "numpy.core.multiarray _reconstruct", "__builtin__ object"} <= names  # fmt: skip
    assert "BINUNICODE" not in opcodes  # Python 2 byte strings only
    with pytest.raises(ModuleNotFoundError, match="chumpy"):
        with open(standin_model_dir / "smpl" / "SMPL_NEUTRAL.pkl", "rb") as file:
            pickle.load(file, encoding="latin1")
    names, _, proto = _globals_and_opcodes(standin_model_dir / "mano" / "MANO_RIGHT.pkl")
    assert proto <= 2 and "chumpy.ch Ch" in names


@pytest.mark.parametrize(
    "relative",
    [
        "smpl/SMPL_NEUTRAL.pkl", "smpl/SMPL_MALE.pkl", "smpl/SMPL_FEMALE.pkl",
        "mano/MANO_RIGHT.pkl", "mano/MANO_LEFT.pkl", "flame/FLAME_NEUTRAL.pkl",
        "flame/flame_static_embedding.pkl",
    ],
)  # fmt: skip
def test_both_variants_read_the_same(
    standin_model_dir: Path, standin_model_dir_numpy: Path, relative: str
) -> None:
    chumpy_style = load_model_pickle(str(standin_model_dir / relative))
    with open(standin_model_dir_numpy / relative, "rb") as file:
        plain = pickle.load(file)  # cleaned files need no special reader
    assert set(chumpy_style) == set(plain)
    assert chumpy_style["standin"] is True
    for key, value in plain.items():
        expected = value.toarray() if hasattr(value, "toarray") else value
        if isinstance(expected, np.ndarray):
            assert isinstance(chumpy_style[key], np.ndarray), key
            assert chumpy_style[key].dtype == expected.dtype, key
            np.testing.assert_array_equal(chumpy_style[key], expected, err_msg=key)
        else:
            assert chumpy_style[key] == expected, key


def test_dynamic_embedding_variants(standin_model_dir: Path, standin_model_dir_numpy: Path) -> None:
    name = "flame/flame_dynamic_embedding.npy"
    chumpy_style = load_model_npy(str(standin_model_dir / name))
    plain = np.load(standin_model_dir_numpy / name, allow_pickle=True)[()]
    assert chumpy_style["lmk_face_idx"].shape == (79, 17)
    assert chumpy_style["lmk_b_coords"].shape == (79, 17, 3)
    for key in ("lmk_face_idx", "lmk_b_coords"):
        np.testing.assert_array_equal(chumpy_style[key], plain[key])
    # smplx reads it with np.load(..., encoding='latin1'): the Python 2 stream must allow that.
    legacy = np.load(standin_model_dir / name, allow_pickle=True, encoding="latin1")[()]
    np.testing.assert_array_equal(legacy["lmk_b_coords"], plain["lmk_b_coords"])
