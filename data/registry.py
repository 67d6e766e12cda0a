"""Dataset name -> class, from a fixed name -> module map (no name evaluation, no path edits)."""

from __future__ import annotations

import importlib

# Every dataset lives in data/NAME/NAME.py as class NAME.
DATASET_MODULES: dict[str, str] = {
    "Human36M": "data.Human36M.Human36M",
    "MSCOCO": "data.MSCOCO.MSCOCO",
    "MPII": "data.MPII.MPII",
    "PW3D": "data.PW3D.PW3D",
    "AGORA": "data.AGORA.AGORA",
    "MPI_INF_3DHP": "data.MPI_INF_3DHP.MPI_INF_3DHP",
    "FreiHAND": "data.FreiHAND.FreiHAND",
    "InterHand26M": "data.InterHand26M.InterHand26M",
    "FFHQ": "data.FFHQ.FFHQ",
}


def get_dataset_class(name: str) -> type:
    """The dataset class called ``name`` (constructed as ``NAME(cfg, transform, data_split)``).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        ImportError: the dataset's module is not part of this code yet.
    """
    if name not in DATASET_MODULES:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_MODULES)}")
    module_name = DATASET_MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        # Only a missing dataset module itself is "not implemented"; other import errors surface.
        if err.name not in (module_name, module_name.rsplit(".", 1)[0]):
            raise
        raise ImportError(
            f"dataset {name!r} is not implemented yet (module {module_name} does not exist)"
        ) from None
    return getattr(module, name)
