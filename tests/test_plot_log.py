"""tool/plot_log.py on the log of a short training run and on lines in the original's format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from main import train as train_script
from tool import plot_log


def _logged(text: str) -> list[dict[str, float]]:
    """Every iteration line as {field: number}, read by splitting on spaces (not by regex)."""
    rows = []
    for line in text.splitlines():
        tokens = line.split()
        if "itr" not in tokens:
            continue
        at = tokens.index("Epoch")
        itr, per_epoch = tokens[at + 3].rstrip(":").split("/")
        row = {"epoch": float(tokens[at + 1].split("/")[0]), "itr": float(itr),
               "per_epoch": float(per_epoch)}  # fmt: skip
        for name, value in zip(tokens, tokens[1:]):
            if name == "lr:" or name.startswith("loss_"):
                row[name.rstrip(":")] = float(value)
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def train_log(tmp_path_factory, standin_model_dir, fixture_data_dir) -> Path:
    """train_logs.txt of a 1-epoch, 2-iteration body run on the fixtures."""
    out = tmp_path_factory.mktemp("plot_log_run")
    train_script.main([
        "--parts", "body", "--gpu", "cpu", "--human_model_path", str(standin_model_dir),
        "--data_dir", str(fixture_data_dir), "--output_dir", str(out), "--trainset_3d", "Human36M",
        "--trainset_2d", "none", "--num_thread", "0", "--no_imagenet", "--train_batch_size", "1",
        "--max_itr_per_epoch", "2", "--end_epoch", "1", "--seed", "0",
    ])  # fmt: skip
    return out / "log" / "train_logs.txt"


def _panels(fig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Panel title -> (x, y) of its line labelled 'logged'."""
    panels = {}
    for ax in fig.axes:
        (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "logged"]
        panels[ax.get_title()] = (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
    return panels


def test_plotted_series_equal_the_logged_numbers(train_log: Path, tmp_path: Path) -> None:
    rows = _logged(train_log.read_text())
    assert len(rows) == 2  # 1 epoch x 2 iterations
    (run,) = plot_log.parse_log(str(train_log))
    panels = _panels(plot_log.plot_run(run, smooth=3))
    loss_names = [k for k in rows[0] if k.startswith("loss_")]
    assert len(loss_names) >= 5 and set(panels) == set(loss_names) | {"lr"}
    position = [row["epoch"] + row["itr"] / row["per_epoch"] for row in rows]
    for name in loss_names + ["lr"]:
        x, y = panels[name]
        np.testing.assert_array_equal(y, [row[name] for row in rows])
        np.testing.assert_allclose(x, position)
    out = tmp_path / "curves.png"
    plot_log.main([str(train_log), "--out", str(out)])
    assert out.stat().st_size > 10_000


def test_runs_appended_to_one_log_are_split(train_log: Path, tmp_path: Path) -> None:
    text = train_log.read_text()
    doubled = tmp_path / "train_logs.txt"
    doubled.write_text(text + text)
    runs = plot_log.parse_log(str(doubled))
    assert len(runs) == 2
    np.testing.assert_array_equal(runs[0].lr, runs[1].lr)
    assert runs[1].line_numbers[0] == len(text.splitlines()) + runs[0].line_numbers[0]
    with pytest.raises(SystemExit, match="--run 3: the log holds 2 run"):
        plot_log.main([str(doubled), "--out", str(tmp_path / "x.png"), "--run", "3"])


def test_original_format_with_colour_codes(tmp_path: Path) -> None:
    """The original wrote ANSI colour codes into the file and warnings between the lines."""
    lines = []
    values = []
    for itr in range(3):
        v = (1.5 - 0.1 * itr, 0.25 + 0.01 * itr)
        values.append(v)
        lines.append(
            f"\x1b[92m12-01 10:00:{itr:02d}\x1b[0m Epoch 4/7 itr {itr}/2400: lr: 1e-05 speed: "
            f"0.52(0.41s r0.09)s/itr 0.35h/epoch loss_joint_img: {v[0]:.4f} "
            f"loss_smpl_pose: {v[1]:.4f}"
        )
    lines.insert(1, "\x1b[92m12-01 10:00:00\x1b[0m \x1b[93mWRN: something\x1b[0m")
    path = tmp_path / "train_logs.txt"
    path.write_text("\n".join(lines) + "\n")
    (run,) = plot_log.parse_log(str(path))
    np.testing.assert_array_equal(run.losses["joint_img"], [v[0] for v in values])
    np.testing.assert_array_equal(run.losses["smpl_pose"], [v[1] for v in values])
    np.testing.assert_array_equal(run.lr, [1e-5] * 3)
    np.testing.assert_allclose(run.position, [4 + i / 2400 for i in range(3)])


def test_log_without_training_lines_is_named(tmp_path: Path) -> None:
    path = tmp_path / "test_logs.txt"
    path.write_text("12-01 10:00:00 Creating dataset...\n")
    with pytest.raises(SystemExit, match="test_logs.txt: no training line"):
        plot_log.main([str(path), "--out", str(tmp_path / "x.png")])


def test_moving_average_matches_a_loop() -> None:
    values = np.array([4.0, 2.0, 6.0, 1.0, 3.0])
    want = [np.mean(values[max(0, i - 2) : i + 1]) for i in range(len(values))]
    np.testing.assert_allclose(plot_log.moving_average(values, 3), want)
