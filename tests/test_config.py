"""The configuration contract: per-part values of the original, presets, overrides, CLI parsing."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import math
import re

import pytest

from main.config import ConfigError, make_config
from main.config_cli import config_from_args, make_run_parser, parse_gpu_ids

# The original's config.py per part, typed by hand.
EXPECTED = {
    "body": dict(
        bbox_3d_size=2,
        camera_3d_size=2.5,
        input_img_shape=(256, 192),
        output_hm_shape=(8, 8, 6),
        lr_dec_epoch=(4, 6),
        end_epoch=7,
        princpt=(96.0, 128.0),
        k=56.3819,
        trainset_3d=("Human36M",),
        trainset_2d=("MSCOCO", "MPII"),
        testset="PW3D",
    ),
    "hand": dict(
        bbox_3d_size=0.3,
        camera_3d_size=0.4,
        input_img_shape=(256, 256),
        output_hm_shape=(8, 8, 8),
        lr_dec_epoch=(10, 12),
        end_epoch=13,
        princpt=(128.0, 128.0),
        k=7.8125,
        trainset_3d=("FreiHAND", "InterHand26M"),
        trainset_2d=("MSCOCO",),
        testset="FreiHAND",
    ),
    "face": dict(
        bbox_3d_size=0.3,
        camera_3d_size=0.4,
        input_img_shape=(256, 192),
        output_hm_shape=(8, 8, 6),
        lr_dec_epoch=(10, 12),
        end_epoch=13,
        princpt=(96.0, 128.0),
        k=9.0211,
        trainset_3d=(),
        trainset_2d=("FFHQ", "MSCOCO"),
        testset="MSCOCO",
    ),
}


@pytest.mark.parametrize("part", ["body", "hand", "face"])
def test_part_values_match_original(part: str) -> None:
    cfg = make_config(part)
    exp = EXPECTED[part]
    assert cfg.parts == part
    assert cfg.bbox_3d_size == exp["bbox_3d_size"]
    assert cfg.camera_3d_size == exp["camera_3d_size"]
    assert cfg.input_img_shape == exp["input_img_shape"]
    assert cfg.output_hm_shape == exp["output_hm_shape"]
    assert cfg.lr_dec_epoch == exp["lr_dec_epoch"]
    assert cfg.end_epoch == exp["end_epoch"]
    assert cfg.focal == (5000, 5000)
    assert cfg.princpt == exp["princpt"]
    assert cfg.camera_k == pytest.approx(exp["k"], abs=1e-4)
    assert cfg.trainset_3d == exp["trainset_3d"]
    assert cfg.trainset_2d == exp["trainset_2d"]
    assert cfg.testset == exp["testset"]
    # Class-level defaults of the reference.
    assert (cfg.resnet_type, cfg.lr, cfg.lr_dec_factor) == (50, 1e-4, 10)
    assert (cfg.train_batch_size, cfg.test_batch_size, cfg.num_thread) == (48, 64, 40)


def test_output_hm_matches_backbone_stride() -> None:
    for part in ("body", "hand", "face"):
        cfg = make_config(part)
        assert cfg.output_hm_shape[1:] == tuple(s // 32 for s in cfg.input_img_shape)


def test_camera_k_formula_by_hand() -> None:
    # body: sqrt(5000 * 5000 * 2.5^2 / (256 * 192))
    assert make_config("body").camera_k == pytest.approx(math.sqrt(25e6 * 6.25 / 49152))
    assert make_config("hand").camera_k == pytest.approx(5000 * 0.4 / 256)


def test_config_is_frozen_and_three_parts_coexist() -> None:
    body, hand, face = (make_config(p) for p in ("body", "hand", "face"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        body.lr = 1.0  # type: ignore[misc]
    assert (body.input_img_shape, hand.input_img_shape, face.output_hm_shape) == (
        (256, 192),
        (256, 256),
        (8, 8, 6),
    )


def test_directories_follow_output_dir(tmp_path) -> None:
    cfg = make_config("body", output_dir=str(tmp_path / "out"))
    assert cfg.model_dir == str(tmp_path / "out" / "model_dump")
    assert cfg.log_dir == str(tmp_path / "out" / "log")
    assert cfg.result_dir == str(tmp_path / "out" / "result")
    assert cfg.vis_dir == str(tmp_path / "out" / "vis")
    assert not (tmp_path / "out").exists(), "creating a config must not create folders"


def test_overrides() -> None:
    cfg = make_config("body", trainset_2d=(), train_batch_size=2, gpu_ids=[0, 1])
    assert cfg.trainset_2d == () and cfg.train_batch_size == 2 and cfg.gpu_ids == (0, 1)
    assert cfg.num_gpus == 2 and cfg.device == "cuda:0"
    other = make_config("body", testset="Human36M")
    assert other.testset == "Human36M" and cfg.testset == "PW3D"
    assert make_config("body").device == "cpu" and make_config("body").num_gpus == 0


def test_make_config_docstring_examples_build() -> None:
    """The override examples of the make_config docstring are valid settings."""
    doc = make_config.__doc__
    examples = re.findall(r"``(\w+=[^`]+)``", doc)
    assert len(examples) == 4, examples
    overrides = {}
    for example in examples:
        name, value = example.split("=", 1)
        overrides[name] = ast.literal_eval(value)
    cfg = make_config("body", **overrides)
    assert cfg.fixes == frozenset(overrides["fixes"]) and cfg.gpu_ids == (0, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(parts="legs"), "--parts: unknown part 'legs'; valid values: body, hand, face"),
        (dict(parts="body", testset="Nope"), "--testset: unknown dataset 'Nope'"),
        (dict(parts="body", trainset_3d=("H36M",)), "--trainset_3d: unknown dataset 'H36M'"),
        (dict(parts="body", trainset_2d=("COCO",)), "--trainset_2d: unknown dataset 'COCO'"),
        (dict(parts="body", fixes={"no_such_fix"}), "--fix: unknown name(s) no_such_fix"),
        (dict(parts="body", colour="red"), "unknown setting(s) colour"),
        (dict(parts="body", train_batch_size=0), "--train_batch_size: expected a positive"),
    ],
)
def test_bad_values_name_the_argument(kwargs, message) -> None:
    with pytest.raises(ConfigError) as err:
        make_config(**kwargs)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match="valid names: Human36M, MSCOCO, MPII, PW3D"):
        make_config("hand", testset="Freihand")


@pytest.mark.parametrize(
    "text, cuda_count, expected",
    [
        ("0-3", 4, (0, 1, 2, 3)),
        ("0,1,2,3", 4, (0, 1, 2, 3)),
        ("0", 1, (0,)),
        ("2", 4, (2,)),
        ("1-2", 4, (1, 2)),
        ("cpu", 0, ()),
        ("cpu", 2, ()),
        ("CPU", 2, ()),
        (None, 0, ()),
        (None, 3, (0,)),
    ],
)
def test_gpu_parsing(text, cuda_count, expected) -> None:
    assert parse_gpu_ids(text, cuda_count) == expected


@pytest.mark.parametrize(
    "text, cuda_count, message",
    [
        ("0", 0, "no CUDA device; use --gpu cpu"),
        ("0-3", 0, "no CUDA device; use --gpu cpu"),
        ("a-b", 4, "--gpu: cannot parse 'a-b'"),
        ("0-1,3", 4, "--gpu: cannot parse '0-1,3'"),
        ("3-1", 4, "--gpu: cannot parse '3-1'"),
        ("", 4, "--gpu: cannot parse ''"),
        ("0,0", 4, "repeats an index"),
        ("5", 2, "--gpu: device(s) [5] do not exist; 2 CUDA device(s) visible"),
    ],
)
def test_gpu_parsing_errors(text, cuda_count, message) -> None:
    with pytest.raises(ConfigError) as err:
        parse_gpu_ids(text, cuda_count)
    assert message in str(err.value)


def test_gpu_refused_under_torchrun() -> None:
    with pytest.raises(ConfigError, match="--gpu: not allowed under torchrun"):
        parse_gpu_ids("0", 4, distributed=True)
    assert parse_gpu_ids(None, 4, distributed=True) == (0,)
    assert parse_gpu_ids(None, 0, distributed=True) == ()


def _parser() -> argparse.ArgumentParser:
    return make_run_parser("test")


def test_cli_maps_onto_overrides(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    args = _parser().parse_args(
        [
            "--parts", "hand",
            "--gpu", "cpu",
            "--trainset_3d", "FreiHAND",
            "--trainset_2d", "none",
            "--testset", "InterHand26M",
            "--output_dir", str(tmp_path),
            "--train_batch_size", "4",
            "--num_thread", "0",
            "--no_imagenet",
        ]
    )  # fmt: skip
    cfg = config_from_args(args, cuda_count=0)
    assert cfg.parts == "hand" and cfg.gpu_ids == ()
    assert cfg.trainset_3d == ("FreiHAND",) and cfg.trainset_2d == ()
    assert cfg.testset == "InterHand26M"
    assert cfg.output_dir == str(tmp_path)
    assert cfg.train_batch_size == 4 and cfg.num_thread == 0 and cfg.no_imagenet
    # Untouched values keep the hand preset.
    assert cfg.input_img_shape == (256, 256) and cfg.end_epoch == 13


def test_cli_gpu_without_cuda_fails_with_hint(monkeypatch) -> None:
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    args = _parser().parse_args(["--parts", "body", "--gpu", "0"])
    with pytest.raises(ConfigError, match="no CUDA device; use --gpu cpu"):
        config_from_args(args, cuda_count=0)


def test_cli_unknown_fix_is_refused(monkeypatch) -> None:
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    args = _parser().parse_args(["--parts", "body", "--gpu", "cpu", "--fix", "bogus"])
    with pytest.raises(ConfigError, match="--fix: unknown name"):
        config_from_args(args, cuda_count=0)


def test_cli_under_torchrun(monkeypatch) -> None:
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    args = _parser().parse_args(["--parts", "body"])
    cfg = config_from_args(args, cuda_count=0)
    assert cfg.distributed and cfg.device == "cpu" and cfg.num_gpus == 0
    args = _parser().parse_args(["--parts", "body", "--gpu", "0-1"])
    with pytest.raises(ConfigError, match="not allowed under torchrun"):
        config_from_args(args, cuda_count=2)
