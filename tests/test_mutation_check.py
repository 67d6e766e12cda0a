"""tool/mutation_check.py: its mutations still apply, and it tells killed from survived."""

from __future__ import annotations

import os

import pytest

from tool.mutation_check import MUTATIONS, ROOT, check_mutation, copy_tree, run_one

BY_NAME = {m.name: m for m in MUTATIONS}


def test_every_mutation_applies_to_the_current_tree() -> None:
    # A refactor that moves the mutated code must update the table, not silently skip it.
    assert len(BY_NAME) == len(MUTATIONS)
    for mutation in MUTATIONS:
        text = check_mutation(ROOT, mutation)
        assert text != open(os.path.join(ROOT, mutation.path), encoding="utf-8").read()


def test_killed_and_survived_are_told_apart_and_the_copy_is_restored(tmp_path) -> None:
    copy_tree(ROOT, str(tmp_path))
    tests = ["tests/test_transforms.py"]
    outcome, test, _ = run_one(str(tmp_path), BY_NAME["no_reflection_fix"], tests, 300)
    assert outcome == "killed"
    assert "test_transforms.py::" in test
    # The flip gate is not reached by the geometry tests: the mutation survives them.
    outcome, test, _ = run_one(str(tmp_path), BY_NAME["flip_prob_lt"], tests, 300)
    assert (outcome, test) == ("survived", "")
    for name in ("no_reflection_fix", "flip_prob_lt"):
        path = BY_NAME[name].path
        with open(os.path.join(ROOT, path), encoding="utf-8") as a:
            with open(tmp_path / path, encoding="utf-8") as b:
                assert a.read() == b.read()


def test_a_pytest_usage_error_is_not_counted_as_killed(tmp_path) -> None:
    copy_tree(ROOT, str(tmp_path))
    outcome, _, _ = run_one(str(tmp_path), BY_NAME["flip_prob_lt"], ["tests/no_such_file.py"], 300)
    assert outcome == "error"


def test_a_text_that_is_not_unique_is_refused() -> None:
    from tool.mutation_check import Mutation

    with pytest.raises(ValueError, match="occurs 0 times"):
        check_mutation(ROOT, Mutation("x", "main/model.py", "no such text at all", "", ""))
