"""Write stand-in SMPL / MANO / FLAME model files (not the official models).

``python tool/make_standin_models.py OUT_DIR [--variant chumpy|numpy]`` writes, in the official
layout and formats::

    OUT_DIR/smpl/SMPL_NEUTRAL.pkl, SMPL_MALE.pkl, SMPL_FEMALE.pkl
    OUT_DIR/mano/MANO_RIGHT.pkl, MANO_LEFT.pkl
    OUT_DIR/flame/FLAME_NEUTRAL.pkl, flame_static_embedding.pkl, flame_dynamic_embedding.npy

with the official dimensions (SMPL 6890 vertices / 13776 faces / 24 joints, 207 pose and 10 shape
blend shapes; MANO 778 / 1538 / 16, 135 pose and 10 shape blend shapes, 45x45 ``hands_components``,
45 ``hands_mean``; FLAME 5023 / 9976 / 5, 36 pose and 300 + 100 shape + expression blend shapes,
51 static and 79x17 dynamic landmark embeddings), the official kinematic trees and a sparse
``J_regressor`` whose rows sum to one. The meshes are a mannequin body, a hand and a head, each one
connected oriented surface built from tubes around the kinematic tree (overlapping parts are joined
by small hidden bridges, so the vertex and face counts come out exact); skinning weights sum to one.
The special vertices the code picks by index (SMPL's nose, eyes, ears, toes, heels and fingers,
MANO's fingertips) are placed at those body parts. Every file holds ``'standin': True``.

``--variant chumpy`` (default) writes Python-2-style pickles as the official files are: protocol 2,
``numpy.core.multiarray`` arrays with Python 2 byte strings, some arrays wrapped as ``chumpy.ch.Ch``
objects through ``copy_reg._reconstructor`` (array under ``'x'``) and the ``J_regressor`` as a
``scipy.sparse.csc.csc_matrix`` -- written without chumpy. ``--variant numpy`` writes cleaned files
(plain NumPy arrays, current scipy sparse matrix) that the ``smplx`` package reads directly.
Blend shapes are stored as float32 to keep the files small. Deterministic (the same bytes for the
same processor type and library versions); takes a few seconds.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# make_standin_models stays importable from here (the README's Python API names this module).
from tool.standin import main, make_standin_models  # noqa: E402

__all__ = ["main", "make_standin_models"]

if __name__ == "__main__":
    main()
