"""Per-part data of ``tool/bench_learn.py``: body renders as Human3.6M / 3DPW, hand renders as
FreiHAND (``tool/learn_sets.py``, ``tool/learn_hand.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from main.config import PART_PRESETS
from tool import learn_hand as h
from tool.learn_sets import (
    METRICS,
    Paths,
    RenderSettings,
    evaluate_mean_pose,
    first_heldout_body,
    prepare_renders,
    pw3d_summary,
)


@dataclass(frozen=True)
class PartBench:
    """What the benchmark does per part: data sets, schedule, renders, baselines and demo."""

    trainset: str  # --trainset_3d of the training runs
    testset: str
    epochs: int  # the part preset's end epoch
    metrics: tuple[tuple[str, str], ...]  # summary keys and labels
    prepare: Callable[[Paths, RenderSettings], dict[str, Any]]  # render or reuse -> manifest
    mean_pose: Callable[[Paths, dict[str, Any], str], dict[str, float]]  # baseline on data_dir
    summary: Callable[[dict[str, list]], dict[str, float]]  # evaluate results -> metrics
    demo_input: Callable[[str], tuple[str, list[float]]]  # data_dir -> (image, box)
    demo_box: str  # the demo's box flag, also the suffix of its render (``bbox``: ``body``)
    demo_render: str


PART_BENCH = {
    "body": PartBench(
        trainset="Human36M", testset="PW3D", epochs=PART_PRESETS["body"].end_epoch,
        metrics=METRICS, prepare=prepare_renders, mean_pose=evaluate_mean_pose,
        summary=pw3d_summary, demo_input=first_heldout_body, demo_box="bbox", demo_render="body",
    ),
    "hand": PartBench(
        trainset="FreiHAND", testset="FreiHAND", epochs=PART_PRESETS["hand"].end_epoch,
        metrics=h.HAND_METRICS, prepare=h.prepare_hand_renders,
        mean_pose=h.evaluate_hand_mean_pose, summary=h.hand_summary,
        demo_input=h.first_heldout_hand, demo_box="rhand_bbox", demo_render="rhand",
    ),
}  # fmt: skip


__all__ = ["PART_BENCH", "PartBench"]
