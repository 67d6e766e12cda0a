"""The declarations of data/samples.py against the frozen dataset record and the model.

The record (``tests/data/dataset_parity.json``) holds the key order of every item that every
fixture data set yields; each training item must carry exactly the declared keys in the declared
order, and the model must refuse a training batch that lacks a declared key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.registry import DATASETS
from data.samples import TRAIN_SAMPLE, Inputs, keys

RECORD = json.loads((Path(__file__).parent / "data" / "dataset_parity.json").read_text())
# the training items of the data sets that serve the part in the training lists
TRAIN_CASES = sorted(
    name
    for name in RECORD["datasets"]
    if name.split("/")[2] == "train"
    and name.split("/")[1] in DATASETS[name.split("/")[0]].parts_for("trainset_3d")
)


def _key_order(part_record: list) -> list[str]:
    kind, entries = part_record
    assert kind == "dict"
    return [key for key, _ in entries]


@pytest.mark.parametrize("case", TRAIN_CASES)
def test_training_items_carry_the_declared_keys_in_order(case: str) -> None:
    part = case.split("/")[1]
    targets_decl, meta_decl = TRAIN_SAMPLE[part]
    items = RECORD["datasets"][case]["items"]
    assert items and len(TRAIN_CASES) >= 10
    for inputs, targets, meta_info in items:
        assert _key_order(inputs) == list(keys(Inputs))
        assert _key_order(targets) == list(keys(targets_decl)), case
        assert _key_order(meta_info) == list(keys(meta_decl)), case


def test_every_part_declares_disjoint_meta_and_target_keys() -> None:
    for part, (targets_decl, meta_decl) in TRAIN_SAMPLE.items():
        assert "is_3D" in keys(meta_decl) and keys(meta_decl)[-1] == "is_3D", part
        assert not set(keys(targets_decl)) & set(keys(meta_decl)), part
