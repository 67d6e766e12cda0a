"""Record what every fixture data set yields, so that a refactor can be checked against it.

For each (dataset, part, split, settings) case of :data:`CASES` the record holds the length of the
data set and, per index, every value of the ``(inputs, targets, meta_info)`` triple in key order:
arrays and tensors as type, dtype, shape and a SHA-256 of their bytes; Python scalars as type and
``repr``; strings with the data folder replaced by ``<data>``. Each item is drawn after seeding
``numpy.random`` and ``random`` with its index (as the dataset tests seed). The record also holds
the key order of the model's training loss dict per part.

``python tool/record_dataset_parity.py OUT.json`` builds stand-in models and fixtures in a
temporary folder and writes the record; ``tests/test_dataset_parity_record.py`` recomputes it and
compares with the frozen copy in ``tests/data/dataset_parity.json``.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision.transforms as T  # noqa: E402

# (dataset, part, split, extra config settings); every split and part each dataset serves.
CASES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("Human36M", "body", "train", {}),
    ("Human36M", "body", "test", {}),
    ("MSCOCO", "body", "train", {}),
    ("MSCOCO", "body", "test", {}),
    ("MSCOCO", "hand", "train", {}),
    ("MSCOCO", "hand", "test", {}),
    ("MSCOCO", "face", "train", {}),
    ("MSCOCO", "face", "test", {}),
    ("MPII", "body", "train", {}),
    ("MPI_INF_3DHP", "body", "train", {}),
    ("PW3D", "body", "train", {}),
    ("PW3D", "body", "validation", {}),
    ("PW3D", "body", "test", {}),
    ("AGORA", "body", "train", {}),
    ("AGORA", "body", "test", {}),
    ("AGORA", "body", "train", {"agora_resolution": "720p"}),
    ("AGORA", "body", "test", {"agora_resolution": "720p", "agora_test_split": "validation"}),
    ("FreiHAND", "hand", "train", {}),
    ("FreiHAND", "hand", "test", {}),
    ("InterHand26M", "hand", "train", {}),
    ("InterHand26M", "hand", "test", {}),
    ("FFHQ", "face", "train", {}),
    ("FFHQ", "face", "test", {}),
)

# The training sets whose first two items make the batch of the loss-order record, per part.
LOSS_BATCH = {"body": "Human36M", "hand": "InterHand26M", "face": "FFHQ"}


def case_name(dataset: str, part: str, split: str, extra: dict[str, Any]) -> str:
    """``'AGORA/body/test/agora_resolution=720p'``-style key of a case."""
    return "/".join([dataset, part, split] + [f"{k}={v}" for k, v in sorted(extra.items())])


def describe(value: Any, data_dir: str) -> list[Any]:
    """A JSON-able description of one sample value: type, dtype, shape and bytes hash."""
    if isinstance(value, torch.Tensor):
        array = value.detach().cpu().contiguous().numpy()
        return ["torch.Tensor", str(value.dtype), list(array.shape), _sha(array)]
    if isinstance(value, np.ndarray):
        return ["numpy.ndarray", value.dtype.str, list(value.shape), _sha(value)]
    if isinstance(value, np.generic):
        return [type(value).__name__, repr(value.item())]
    if isinstance(value, (bool, int, float)) or value is None:
        return [type(value).__name__, repr(value)]
    if isinstance(value, str):
        return ["str", value.replace(data_dir, "<data>")]
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [describe(v, data_dir) for v in value]]
    if isinstance(value, dict):
        return ["dict", [[str(k), describe(v, data_dir)] for k, v in value.items()]]
    raise TypeError(f"describe: no description for a value of type {type(value).__name__}")


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:20]


def record_case(
    dataset: str, part: str, split: str, extra: dict[str, Any], data_dir: str, model_dir: str
) -> dict[str, Any]:
    """Length and per-index descriptions of one case (every index, seeded with the index)."""
    from data.registry import get_dataset_class
    from main.config import make_config

    cfg = make_config(part, data_dir=data_dir, human_model_path=model_dir, **extra)
    db = get_dataset_class(dataset)(cfg, T.ToTensor(), split)
    items = []
    for idx in range(len(db)):
        np.random.seed(idx)
        random.seed(idx)
        triple = db[idx]
        items.append([describe(part_dict, data_dir) for part_dict in triple])
    return {"length": len(db), "items": items}


def loss_order(part: str, data_dir: str, model_dir: str) -> list[str]:
    """Key order of the training loss dict of ``part`` on a batch of two training items."""
    from torch.utils.data import default_collate

    from data.registry import get_dataset_class
    from main.config import make_config
    from main.model import get_model

    cfg = make_config(part, data_dir=data_dir, human_model_path=model_dir, no_imagenet=True)
    db = get_dataset_class(LOSS_BATCH[part])(cfg, T.ToTensor(), "train")
    np.random.seed(0)
    random.seed(0)
    inputs, targets, meta_info = default_collate([db[0], db[1 % len(db)]])
    torch.manual_seed(0)
    model = get_model(cfg, "train")
    model.train()
    with torch.no_grad():
        loss = model(inputs, targets, meta_info, "train")
    return list(loss)


def record(data_dir: str, model_dir: str) -> dict[str, Any]:
    """The whole record: ``{'datasets': {case: ...}, 'loss_order': {part: [keys]}}``."""
    datasets = {
        case_name(*case): record_case(*case, data_dir=data_dir, model_dir=model_dir)
        for case in CASES
    }
    losses = {part: loss_order(part, data_dir, model_dir) for part in LOSS_BATCH}
    return {"datasets": datasets, "loss_order": losses}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="JSON file to write")
    args = parser.parse_args(argv)
    from tool.make_fixtures import make_fixtures
    from tool.make_standin_models import make_standin_models

    with tempfile.TemporaryDirectory() as tmp:
        model_dir, data_dir = osp.join(tmp, "models"), osp.join(tmp, "data")
        make_standin_models(model_dir)
        make_fixtures(data_dir, model_dir)
        result = record(data_dir, model_dir)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
