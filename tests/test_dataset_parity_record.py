"""Every fixture data set yields exactly what it yielded when ``tests/data/dataset_parity.json``
was recorded (``tool/record_dataset_parity.py``, before the dataset interface was restructured).

All indices of every case are compared: length, key order, value types, dtypes, shapes and the
bytes of every array; and the key order of the training loss dict per part. The record is frozen
data: regenerate it only for an intended change of the samples, and say so in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tool.record_dataset_parity import CASES, LOSS_BATCH, case_name, loss_order, record_case

RECORD = json.loads((Path(__file__).parent / "data" / "dataset_parity.json").read_text())


def test_record_covers_every_case() -> None:
    assert set(RECORD["datasets"]) == {case_name(*case) for case in CASES}
    assert set(RECORD["loss_order"]) == set(LOSS_BATCH)
    assert all(entry["length"] > 0 for entry in RECORD["datasets"].values())


@pytest.mark.parametrize("case", CASES, ids=[case_name(*case) for case in CASES])
def test_dataset_items_match_the_record(case, fixture_data_dir, standin_model_dir) -> None:
    expected = RECORD["datasets"][case_name(*case)]
    got = record_case(*case, data_dir=str(fixture_data_dir), model_dir=str(standin_model_dir))
    got = json.loads(json.dumps(got))  # tuples -> lists, as in the file
    assert got["length"] == expected["length"]
    for idx, (item, want) in enumerate(zip(got["items"], expected["items"])):
        for name, part, part_want in zip(("inputs", "targets", "meta_info"), item, want):
            assert part == part_want, f"{case_name(*case)} index {idx}: {name} differs"


@pytest.mark.parametrize("part", sorted(LOSS_BATCH))
def test_loss_dict_order_matches_the_record(part, fixture_data_dir, standin_model_dir) -> None:
    got = loss_order(part, str(fixture_data_dir), str(standin_model_dir))
    assert got == RECORD["loss_order"][part]
