"""Dataset name -> class: one plain dict built from ordinary imports.

Every dataset lives in ``data/NAME/NAME.py`` as class ``NAME`` and declares the parts it serves per
role (:class:`data.base.BaseDataset`); :func:`valid_names` answers which names a role accepts for a
part, which the configuration uses to refuse a combination that cannot run.
"""

from __future__ import annotations

from data.AGORA.AGORA import AGORA
from data.base import ROLES, BaseDataset
from data.FFHQ.FFHQ import FFHQ
from data.FreiHAND.FreiHAND import FreiHAND
from data.Human36M.Human36M import Human36M
from data.InterHand26M.InterHand26M import InterHand26M
from data.MPI_INF_3DHP.MPI_INF_3DHP import MPI_INF_3DHP
from data.MPII.MPII import MPII
from data.MSCOCO.MSCOCO import MSCOCO
from data.PW3D.PW3D import PW3D

# In the reference's order of dataset names.
DATASETS: dict[str, type[BaseDataset]] = {
    "Human36M": Human36M,
    "MSCOCO": MSCOCO,
    "MPII": MPII,
    "PW3D": PW3D,
    "AGORA": AGORA,
    "MPI_INF_3DHP": MPI_INF_3DHP,
    "FreiHAND": FreiHAND,
    "InterHand26M": InterHand26M,
    "FFHQ": FFHQ,
}


def get_dataset_class(name: str) -> type[BaseDataset]:
    """The dataset class called ``name`` (constructed as ``NAME(cfg, transform, data_split)``).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return DATASETS[name]


def valid_names(role: str, part: str) -> list[str]:
    """Names of the datasets that serve ``part`` in ``role`` (``trainset_3d``, ``trainset_2d``
    or ``testset``), in registry order."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; valid: {', '.join(ROLES)}")
    return [name for name, cls in DATASETS.items() if part in cls.parts_for(role)]
