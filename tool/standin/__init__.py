"""Stand-in SMPL / MANO / FLAME model files, built from scratch (not the official models).

``tube`` and ``mesh`` build the surfaces, ``skinning`` and ``blend_shapes`` rig them, ``smpl``,
``mano`` and ``flame`` define the three models (``landmarks``: FLAME's landmark embeddings),
``pickle_writer`` writes Python 2 pickles, ``files`` writes the model folder and ``cli`` is the
command line of ``tool/make_standin_models.py``.
"""

from tool.standin.cli import main
from tool.standin.files import VARIANTS, make_standin_models
from tool.standin.flame import flame_model
from tool.standin.mano import mano_hand, mano_model
from tool.standin.smpl import smpl_gender, smpl_model

__all__ = [
    "VARIANTS",
    "flame_model",
    "main",
    "make_standin_models",
    "mano_hand",
    "mano_model",
    "smpl_gender",
    "smpl_model",
]
