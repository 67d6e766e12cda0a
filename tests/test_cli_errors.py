"""One line ``error: <message>`` and exit code 2 for the project's own errors (train/test)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from common.utils.human_models import SMPL
from common.utils.model_files import ModelFileError, load_model_pickle
from data.box_screen import BoxScreen
from data.dataset import AnnotationError, load_json
from main import test as test_script
from main import train as train_script
from main.cli_errors import run_cli
from main.config import ConfigError


def _one_error_line(capsys, call, argv) -> str:
    with pytest.raises(SystemExit) as info:
        run_cli(call, argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()  # the run log also writes to the console
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], captured.err
    assert "Traceback" not in captured.err + captured.out
    return errors[0]


def _test_args(models: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--parts", "body", "--gpu", "cpu", "--human_model_path", str(models),
        "--data_dir", str(data), "--output_dir", str(out), "--testset", "PW3D",
        "--num_thread", "0", *extra,
    ]  # fmt: skip


def test_bad_config_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys) -> None:
    argv = ["--parts", "body", "--gpu", "cpu", "--output_dir", str(tmp_path), "--end_epoch", "0"]
    line = _one_error_line(capsys, train_script.main, argv)
    assert line.startswith("error: --end_epoch: expected a positive integer")
    with pytest.raises(ConfigError, match="--end_epoch"):
        run_cli(train_script.main, argv + ["--debug"])
    line = _one_error_line(capsys, train_script.main, argv[:-2] + ["--max_itr_per_epoch", "0"])
    assert "--max_itr_per_epoch" in line
    line = _one_error_line(capsys, test_script.main, argv[:-2])
    assert line == "error: --test_epoch: required (or --snapshot PATH)"
    for bad in ("0", "-1e-4", "nan"):
        line = _one_error_line(capsys, train_script.main, argv[:-2] + [f"--lr={bad}"])
        assert line.startswith("error: --lr: expected a positive learning rate"), line


def test_learning_rate_is_checked_by_the_config() -> None:
    from main.config import make_config

    assert make_config("body", lr=1e-3).lr == 1e-3
    with pytest.raises(ConfigError, match="--lr: expected a positive learning rate"):
        make_config("body", lr=0.0)


def test_unexpected_exceptions_keep_their_traceback() -> None:
    def broken(argv):
        return 1 // 0

    with pytest.raises(ZeroDivisionError):
        run_cli(broken, [])


def test_bad_snapshot_and_missing_model_file(
    tmp_path, capsys, standin_model_dir, fixture_data_dir
) -> None:
    garbage = tmp_path / "garbage.pth.tar"
    garbage.write_bytes(b"not a snapshot")
    args = _test_args(standin_model_dir, fixture_data_dir, tmp_path, "--snapshot", str(garbage))
    line = _one_error_line(capsys, test_script.main, args)
    assert f"cannot read snapshot {garbage}" in line

    empty = tmp_path / "no_models"
    empty.mkdir()
    args = _test_args(empty, fixture_data_dir, tmp_path, "--snapshot", str(garbage))
    line = _one_error_line(capsys, test_script.main, args)
    assert "SMPL_NEUTRAL.pkl not found" in line and str(empty / "smpl") in line


def test_malformed_annotation_json_is_named(tmp_path, capsys) -> None:
    path = tmp_path / "annotations.json"
    path.write_text('{"images": [1, 2,\n  "annotations": ]}')
    with pytest.raises(AnnotationError, match=r"annotations\.json is not valid JSON .* line 2"):
        load_json(str(path), "MSCOCO", "download it")
    line = _one_error_line(capsys, lambda argv: load_json(str(path), "MSCOCO", "-"), [])
    assert str(path) in line


def test_malformed_box_value_names_dataset_and_entry() -> None:
    screen = BoxScreen("MSCOCO", "train")
    assert screen.screen([1, 2, 30, 40], "annotation 6")
    for box in (["a", 2, 30, 40], [1, 2, 30], None):
        with pytest.raises(AnnotationError, match=r"MSCOCO train: annotation 7: malformed box"):
            screen.screen(box, "annotation 7")


@pytest.mark.parametrize("change", ["missing", "shape"])
def test_model_file_missing_key_or_wrong_shape_is_named(
    tmp_path, capsys, standin_model_dir, change
) -> None:
    models = tmp_path / "models"
    shutil.copytree(standin_model_dir / "smpl", models / "smpl")
    path = models / "smpl" / "SMPL_NEUTRAL.pkl"
    data = load_model_pickle(str(path))
    if change == "missing":
        del data["weights"]
        expected = "missing key(s) weights"
    else:
        data["posedirs"] = np.zeros((6890, 207), dtype=np.float64)
        expected = "key 'posedirs' has shape (6890, 207), expected (6890, 3, *)"
    with open(path, "wb") as file:
        pickle.dump(data, file)
    with pytest.raises(ModelFileError, match=str(path)) as info:
        SMPL(str(models)).layer()
    assert expected in str(info.value)
    line = _one_error_line(capsys, lambda argv: SMPL(str(models)).layer(), [])
    assert str(path) in line and expected in line


def test_error_from_a_loader_worker_is_its_own_message(capsys) -> None:
    from data.bad_samples import BadDataError

    text = (
        "Caught BadDataError in DataLoader worker process 1.\nOriginal Traceback (most recent "
        "call last):\n  File \"x.py\", line 3, in f\n    raise err\n"
        "data.bad_samples.BadDataError: 3 bad images in this epoch, more than the allowed share\n"
    )

    def worker_failed(argv):
        raise BadDataError(text)

    line = _one_error_line(capsys, worker_failed, [])
    assert line == "error: 3 bad images in this epoch, more than the allowed share"
