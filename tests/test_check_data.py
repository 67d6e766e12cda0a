"""tool/check_data.py: the preflight scan on the fixtures, clean and with injected defects."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torchvision.transforms as T

from data.registry import get_dataset_class
from main.config import make_config
from tool import check_data
from tool.data_checks import record_problems

BODY_SETS = ["--trainset_3d", "Human36M,AGORA", "--trainset_2d", "MSCOCO,MPII", "--testset", "PW3D"]


def _argv(models: Path, data: Path, *more: str) -> list[str]:
    return ["--parts", "body", "--data_dir", str(data), "--human_model_path", str(models),
            "--no_progress", *BODY_SETS, *more]  # fmt: skip


def _run(capsys, models: Path, data: Path, tmp: Path, workers: str) -> tuple[int, dict, str]:
    report_path = tmp / "report.json"
    code = check_data.main(_argv(models, data, "--workers", workers, "--json", str(report_path)))
    out = capsys.readouterr().out
    return code, json.loads(report_path.read_text()), out


def _dataset(data: Path, models: Path, name: str, split: str):
    cfg = make_config("body", data_dir=str(data), human_model_path=str(models))
    return get_dataset_class(name)(cfg, T.ToTensor(), split)


def test_clean_fixtures(capsys, tmp_path, standin_model_dir, fixture_data_dir) -> None:
    code, report, out = _run(capsys, standin_model_dir, fixture_data_dir, tmp_path, "2")
    assert code == 0, out
    assert report["defects"] == [] and "0 defect(s)" in out
    # Stand-in model files are named loudly, one warning per file.
    assert len(report["warnings"]) == 3 and all("STAND-IN" in w for w in report["warnings"])
    rows = {(r["dataset"], r["split"]): r for r in report["datasets"]}
    assert set(rows) == {("Human36M", "train"), ("AGORA", "train"), ("MSCOCO", "train"),
                         ("MPII", "train"), ("PW3D", "test")}  # fmt: skip
    for (name, split), row in rows.items():
        ds = _dataset(fixture_data_dir, standin_model_dir, name, split)
        assert row["kept"] == len(ds) > 0
        assert row["dropped"] == ds.drop_counts
        assert row["images"] == len({r["img_path"] for r in ds.datalist})
    # The fixtures exercise the original's rules; every dropped annotation is counted.
    assert rows[("Human36M", "train")]["dropped"]["frame_not_sampled"] >= 1
    assert rows[("MSCOCO", "train")]["dropped"]["crowd_or_no_keypoints"] >= 1
    mpii = json.loads((fixture_data_dir / "MPII/data/annotations/train.json").read_text())
    row = rows[("MPII", "train")]
    assert row["kept"] + sum(row["dropped"].values()) == len(mpii["annotations"])
    # The table prints every row with its kept count and reasons.
    for (name, split), row in rows.items():
        line = next(x for x in out.splitlines() if x.split()[:2] == [name, split])
        assert int(line.split()[2]) == row["kept"]
        for reason, count in row["dropped"].items():
            assert f"{reason} {count}" in line


def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture(scope="module")
def broken(tmp_path_factory, standin_model_dir, fixture_data_dir) -> tuple[Path, dict[str, str]]:
    """A copy of the fixtures with six defects; returns (data dir, {defect: file})."""
    data = tmp_path_factory.mktemp("broken") / "data"
    shutil.copytree(fixture_data_dir, data)
    h36m = _dataset(data, standin_model_dir, "Human36M", "train")
    agora = _dataset(data, standin_model_dir, "AGORA", "train")
    mpii = _dataset(data, standin_model_dir, "MPII", "train")
    coco = _dataset(data, standin_model_dir, "MSCOCO", "train")
    jpeg, png = Path(h36m.datalist[0]["img_path"]), Path(agora.datalist[0]["img_path"])
    assert jpeg.suffix == ".jpg" and png.suffix == ".png"
    _truncate(jpeg)
    _truncate(png)
    missing = Path(mpii.datalist[1]["img_path"])
    missing.unlink()
    # NaN box: the annotation of the kept MPII record 2.
    annot = data / "MPII/data/annotations/train.json"
    db = json.loads(annot.read_text())
    name = Path(mpii.datalist[2]["img_path"]).name
    image_id = next(img["id"] for img in db["images"] if img["file_name"].endswith(name))
    ann = next(a for a in db["annotations"] if a["image_id"] == image_id)
    ann["bbox"][2] = math.nan
    annot.write_text(json.dumps(db))
    # The SMPL fit of the kept MSCOCO record: removed from the fit file.
    fits_path = data / "MSCOCO/annotations/MSCOCO_train_SMPL_NeuralAnnot.json"
    fits = json.loads(fits_path.read_text())
    coco_db = json.loads((data / "MSCOCO/annotations/coco_wholebody_train_v1.0.json").read_text())
    kept_name = Path(coco.datalist[0]["img_path"]).name
    kept_ids = {img["id"] for img in coco_db["images"] if img["file_name"].endswith(kept_name)}
    for a in coco_db["annotations"]:
        if a["image_id"] in kept_ids:
            fits.pop(str(a["id"]), None)
    fits_path.write_text(json.dumps(fits))
    # Malformed JSON: the PW3D test annotation cut in the middle.
    pw3d = data / "PW3D/data/3DPW_test.json"
    _truncate(pw3d, 0.5)
    files = {"jpeg": str(jpeg), "png": str(png), "missing": str(missing), "nan_box": str(annot),
             "fit": str(fits_path), "json": str(pw3d)}  # fmt: skip
    return data, files


def test_injected_defects(capsys, tmp_path, standin_model_dir, broken) -> None:
    data, files = broken
    code, report, out = _run(capsys, standin_model_dir, data, tmp_path, "2")
    assert code == 1
    defects = report["defects"]
    by_file = {d["file"]: d for d in defects}
    assert set(by_file) == set(files.values()), out
    assert len(defects) == len(files)
    assert "JPEG without its end-of-image marker" in by_file[files["jpeg"]]["problem"]
    # OpenCV refuses this truncated PNG outright (libpng read error); a shorter cut than the
    # tail is caught by the IEND check instead: either way a bad image.
    png = by_file[files["png"]]["problem"]
    assert png.startswith("bad image: ") and ("IEND" in png or "cannot be decoded" in png)
    assert by_file[files["missing"]]["problem"] == "image not found"
    assert "NaN or infinite" in by_file[files["nan_box"]]["problem"]
    assert by_file[files["nan_box"]]["entry"].startswith("annotation ")
    assert "has no key" in by_file[files["fit"]]["problem"]
    assert "is not valid JSON" in by_file[files["json"]]["problem"]
    # Image defects name the record that uses the file.
    assert by_file[files["jpeg"]]["entry"].startswith("record 0")
    # One printed line per defect, each naming its file.
    lines = [x for x in out.splitlines() if x.startswith("DEFECT ")]
    assert sorted(x.split()[1].split(":")[0] for x in lines) == sorted(files.values())
    rows = {(r["dataset"], r["split"]): r for r in report["datasets"]}
    assert rows[("PW3D", "test")]["kept"] is None and rows[("MSCOCO", "train")]["kept"] is None
    # The NaN box is also a drop of the loader, and the kept count is still len(dataset).
    mpii = _dataset(data, standin_model_dir, "MPII", "train")
    assert rows[("MPII", "train")]["kept"] == len(mpii)
    assert rows[("MPII", "train")]["dropped"].get("non_finite_bbox") == 1


def test_same_report_in_one_process(capsys, tmp_path, standin_model_dir, broken) -> None:
    """Without worker processes the defects are the same."""
    data, files = broken
    code, report, _ = _run(capsys, standin_model_dir, data, tmp_path, "1")
    assert code == 1 and {d["file"] for d in report["defects"]} == set(files.values())


def test_record_problems() -> None:
    good = {
        "img_path": "a.jpg",
        "bbox": [1.0, 2.0, 3.0, 4.0],
        "smpl_param": {"pose": [0.0] * 3},
        "cam_param": {"focal": [1, 1], "princpt": [0, 0]},
    }
    assert record_problems(good) == []
    bad = dict(good, smpl_param={"pose": [0.0, math.inf]})
    assert record_problems(bad) == ["non-finite value (NaN or inf) in smpl_param.pose"]
    assert record_problems(dict(good, smpl_param=None)) == [
        "missing fit: smpl_param is null (the loader needs it)"
    ]
    no_cam = {k: v for k, v in good.items() if k != "cam_param"}
    assert record_problems(no_cam) == ["fit record has no camera (cam_param)"]
    assert record_problems(dict(good, cam_param={"focal": [1, 1]})) == [
        "camera cam_param has no princpt"
    ]
    assert record_problems(dict(good, mano=None)) == []  # a hand without a fit is allowed
