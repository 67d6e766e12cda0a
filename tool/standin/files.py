"""The stand-in model files: which models go to which file, in which of the two formats."""

from __future__ import annotations

import logging
import os
import os.path as osp
import pickle
from typing import Any

import numpy as np

from tool.standin.flame import flame_model
from tool.standin.mano import mano_hand
from tool.standin.pickle_writer import ChumpyArray, Py2Pickler
from tool.standin.smpl import smpl_gender

logger = logging.getLogger(__name__)

VARIANTS = ("chumpy", "numpy")

# Entries stored as chumpy objects in the official files (the rest are plain arrays).
_CHUMPY_KEYS = {
    "smpl": ("v_template", "shapedirs", "posedirs", "weights", "J"),
    "mano": ("shapedirs",),
    "flame": ("v_template", "shapedirs"),
}


def _write_model(
    path: str, data: dict[str, Any], variant: str, chumpy_keys: tuple[str, ...]
) -> None:
    """Pickle ``data`` plus ``'standin': True`` to ``path`` (``chumpy_keys`` as chumpy objects)."""
    data = {**data, "standin": True}
    if variant == "chumpy":
        wrapped = {k: ChumpyArray(v) if k in chumpy_keys else v for k, v in data.items()}
        payload = Py2Pickler().dumps(wrapped)
    else:
        payload = pickle.dumps(data, protocol=4)
    with open(path, "wb") as file:
        file.write(payload)


def _write_npy_dict(path: str, data: dict[str, Any], variant: str) -> None:
    """Save ``data`` plus ``'standin': True`` as a 0-d object array in an ``.npy`` file."""
    data = {**data, "standin": True}
    if variant == "numpy":
        np.save(path, np.array(data, dtype=object), allow_pickle=True)
        return
    holder = np.empty((), dtype=object)
    holder[()] = data
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(
            file, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        file.write(Py2Pickler().dumps(holder))


def make_standin_models(out_dir: str, variant: str = "chumpy") -> None:
    """Write stand-in SMPL, MANO and FLAME files under ``out_dir`` (official layout and names).

    Args:
        out_dir: destination folder (created if missing); the human model folder to pass as
            ``human_model_path``.
        variant: ``'chumpy'`` (Python 2 pickles with chumpy objects, like the official files) or
            ``'numpy'`` (cleaned pickles of plain arrays).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    for sub in ("smpl", "mano", "flame"):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    for gender in ("neutral", "male", "female"):
        path = osp.join(out_dir, "smpl", f"SMPL_{gender.upper()}.pkl")
        _write_model(path, smpl_gender(gender), variant, _CHUMPY_KEYS["smpl"])
    for hand_type in ("right", "left"):
        path = osp.join(out_dir, "mano", f"MANO_{hand_type.upper()}.pkl")
        _write_model(path, mano_hand(hand_type), variant, _CHUMPY_KEYS["mano"])
    flame, static, dynamic = flame_model()
    flame_dir = osp.join(out_dir, "flame")
    _write_model(osp.join(flame_dir, "FLAME_NEUTRAL.pkl"), flame, variant, _CHUMPY_KEYS["flame"])
    _write_model(osp.join(flame_dir, "flame_static_embedding.pkl"), static, variant, ())
    _write_npy_dict(osp.join(flame_dir, "flame_dynamic_embedding.npy"), dynamic, variant)
    logger.info("wrote stand-in %s-style human model files to %s", variant, out_dir)
