"""tool/AGORA: camera model, SMPL conversion and 4K cropping on a tiny fake AGORA release.

The fake release has AGORA's real formats: pandas data frames (one row per frame, per-person
lists in the real columns) under ``SMPL/`` and ``validation_SMPL/SMPL/``, SMPL ground-truth
pickles of torch tensors under ``smpl_gt/`` (referenced as ``.obj`` as in the data frames),
3840 x 2160 frames, 1280 x 720 frames and ``AGORA_test_bbox.json``; the SMPL model is the
stand-in. Expected values come from an independent NumPy/SciPy transcription of the camera model
of the AGORA tools typed in this file, from hand-worked numbers, and from OpenCV. The converted
release is then read by the AGORA dataset class in 4K and 720p mode.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torchvision.transforms as T
from scipy.spatial.transform import Rotation

pd = pytest.importorskip(
    "pandas",
    reason="pandas (requirements-tools.txt) is needed to write and read AGORA's data frames",
)

from common.utils.human_models import SMPL  # noqa: E402
from data.AGORA.AGORA import AGORA  # noqa: E402
from main.config import make_config  # noqa: E402
from tool.AGORA import agora2coco_smpl, crop_and_resize_4k_images  # noqa: E402
from tool.AGORA.agora_camera import person_to_camera, project, scene_camera  # noqa: E402

FRAME_H, FRAME_W = 2160, 3840
CROP_H, CROP_W = 512, 384


# ---- independent camera model --------------------------------------------------------------------


@dataclass(frozen=True)
class Cam:
    focal_mm: float
    pos_cm: tuple[float, float, float]
    yaw: float
    pitch: float
    ground: tuple[float, float, float]


CAMS = {  # typed from the AGORA scene table
    "hdri": Cam(50, (0, 0, 170), 0, 0, (0, 0, 0)),
    "cam00": Cam(18, (400, -275, 265), 135, 30, (0, 0, 0)),
}


def other_cam(cam_x, cam_y, cam_z, cam_yaw) -> Cam:
    return Cam(28, (cam_x, cam_y, cam_z), cam_yaw, 0, (0, -1.7, 0))


def u2cv(p_cm) -> np.ndarray:
    x, y, z = np.asarray(p_cm, dtype=np.float64) / 100
    return np.array([y, -z, x])


def ref_to_camera(points, yaw, xyz_cm, cam: Cam) -> np.ndarray:
    """(N, 3) SMPL-frame points (m) of a person -> camera frame (m)."""
    pts = np.asarray(points, dtype=np.float64) * np.array([1, -1, -1])
    pts = Rotation.from_rotvec([0, np.radians(yaw - 90), 0]).apply(pts) + u2cv(xyz_cm)
    pts = pts - (u2cv(cam.pos_cm) + np.array(cam.ground))
    pts = Rotation.from_rotvec([0, np.radians(-cam.yaw), 0]).apply(pts)
    return Rotation.from_rotvec([np.radians(cam.pitch), 0, 0]).apply(pts)


def ref_project(points_cam, cam: Cam) -> np.ndarray:
    f = cam.focal_mm / 36 * 3840
    return points_cam[:, :2] / points_cam[:, 2:] * f + np.array([1920, 1080])


def place(cam: Cam, yaw: float, target_cam) -> list[float]:
    """Unreal X, Y, Z (cm) that put the person's model origin at ``target_cam`` (camera m)."""
    world = (
        Rotation.from_rotvec([0, np.radians(-cam.yaw), 0])
        .inv()
        .apply(Rotation.from_rotvec([np.radians(cam.pitch), 0, 0]).inv().apply(target_cam))
        + u2cv(cam.pos_cm)
        + np.array(cam.ground)
    )
    a, b, c = world
    return [100 * c, 100 * a, -100 * b]


# ---- the fake release ----------------------------------------------------------------------------


@dataclass
class Person:
    gender: str
    valid: bool
    kid: bool
    target: tuple[float, float, float]  # camera-frame position of the model origin, m


@dataclass
class Frame:
    name: str
    cam: Cam
    cam_columns: tuple[float, float, float, float]  # camX, camY, camZ, camYaw
    persons: tuple[Person, ...]


BRUSHIFY_COLS = (150.0, -320.0, 140.0, 25.0)
DATA_FRAMES = {  # data frame file -> (split, image folder, frames)
    "SMPL/train_0_withjv.pkl": ("train", "train_0", (
        Frame("ag_trainset_3dpeople_bfh_hdri_50mm_5_15_00012.png", CAMS["hdri"], (0, 0, 0, 0), (
            Person("male", True, False, (-0.7, 0.1, 7.0)),
            Person("female", True, True, (0.8, 0.3, 7.5)),
        )),
    )),
    "SMPL/train_1_withjv.pkl": ("train", "train_1", (
        Frame("ag_trainset_renderpeople_bfh_brushifyforest_5_15_00003.png",
              other_cam(*BRUSHIFY_COLS), BRUSHIFY_COLS, (
                  Person("female", False, False, (-0.9, 0.0, 6.5)),
                  Person("male", True, False, (0.6, -0.1, 6.0)),
              )),
    )),
    "validation_SMPL/SMPL/validation_0_withjv.pkl": ("validation", "validation", (
        Frame("ag_validationset_renderpeople_bfh_archviz_5_10_cam00_00002.png", CAMS["cam00"],
              (0, 0, 0, 0), (
                  Person("female", True, False, (-0.6, 0.2, 5.0)),
                  Person("male", True, False, (0.7, 0.1, 5.5)),
              )),
        Frame("ag_validationset_renderpeople_bfh_hdri_50mm_5_15_00007.png", CAMS["hdri"],
              (0, 0, 0, 0), ()),
    )),
}  # fmt: skip
PERSON_COLUMNS = (  # per-person lists of an AGORA SMPL data frame row
    "X", "Y", "Z", "Yaw", "gender", "kid", "occlusion", "isValid", "age", "ethnicity",
    "gt_path_smpl", "gt_path_smplx", "gt_joints_2d", "gt_joints_3d",
)  # fmt: skip
TEST_FRAME = "ag_testset_renderpeople_bfh_hdri_50mm_5_15_00001.png"
TEST_BOXES = ([1200.0, 400.0, 500.0, 1300.0], [2300.0, 600.0, 420.0, 1100.0])


def draw_frame(joints_2d: list[np.ndarray], seed: int) -> np.ndarray:
    """A 4K BGR frame: flat background, a colour ramp and each person's joints as discs."""
    rng = np.random.default_rng(seed)
    img = np.empty((FRAME_H, FRAME_W, 3), np.uint8)
    img[:] = rng.integers(40, 200, 3)
    img[:, :, 1] = (np.arange(FRAME_W) // 30 % 256).astype(np.uint8)[None]
    for joints in joints_2d:
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        for x, y in joints:
            cv2.circle(img, (int(round(x)), int(round(y))), 14, color, -1)
    return img


def write_image(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def write_720p(path: Path, img: np.ndarray) -> None:
    write_image(path, cv2.resize(img, (1280, 720), interpolation=cv2.INTER_AREA))


@pytest.fixture(scope="module")
def release(tmp_path_factory, standin_model_dir):
    """The fake AGORA download in ``<root>/AGORA/data`` plus the truth it was made from."""
    root = tmp_path_factory.mktemp("agora_release")
    ds = root / "AGORA" / "data"
    smpl = SMPL(str(standin_model_dir))
    rng = np.random.default_rng(11)
    truth, gt_count, frame_seed = {}, 0, 0
    for df_rel, (split, folder, frames) in DATA_FRAMES.items():
        rows = []
        for frame in frames:
            columns = {k: [] for k in PERSON_COLUMNS}
            for person in frame.persons:
                yaw = float(rng.uniform(0, 360))
                xyz = place(frame.cam, yaw, person.target)
                betas = rng.normal(0, 0.6, 11 if person.kid else 10)
                gt = {
                    "root_pose": torch.tensor(rng.normal(0, 0.15, (1, 3)), dtype=torch.float32,
                                              requires_grad=True),
                    "body_pose": torch.tensor(rng.normal(0, 0.15, (1, 69)), dtype=torch.float32),
                    "betas": torch.tensor(betas[None], dtype=torch.float32),
                    "translation": torch.tensor(rng.uniform(-0.1, 0.1, (1, 3)),
                                                dtype=torch.float32),
                }  # fmt: skip
                gt_rel = f"smpl_gt/{split}set_renderpeople_adults_bfh/person_{gt_count:03d}_0_0"
                gt_count += 1
                (ds / gt_rel).parent.mkdir(parents=True, exist_ok=True)
                with open(ds / f"{gt_rel}.pkl", "wb") as f:
                    pickle.dump(gt, f)
                g = {k: v.detach().double().numpy()[0] for k, v in gt.items()}
                with torch.no_grad():
                    joints = smpl.layer(person.gender)(
                        global_orient=gt["root_pose"].detach(), body_pose=gt["body_pose"],
                        betas=gt["betas"][:, :10],
                    ).joints[0].double().numpy()  # fmt: skip
                joints_cam = ref_to_camera(joints + g["translation"], yaw, xyz, frame.cam)
                joints_2d = ref_project(joints_cam, frame.cam)
                values = {
                    "X": xyz[0], "Y": xyz[1], "Z": xyz[2], "Yaw": yaw, "gender": person.gender,
                    "kid": person.kid, "occlusion": float(rng.uniform(0, 60)),
                    "isValid": person.valid, "age": "31-50", "ethnicity": "white",
                    "gt_path_smpl": f"{gt_rel}.obj", "gt_path_smplx": f"{gt_rel}.obj",
                    "gt_joints_2d": joints_2d, "gt_joints_3d": joints_cam,
                }  # fmt: skip
                for key in PERSON_COLUMNS:
                    columns[key].append(values[key])
                truth[frame.name, len(columns["X"]) - 1] = dict(
                    gt=g, joints_cam=joints_cam, joints_2d=joints_2d
                )
            cam_columns = dict(
                zip(("camX", "camY", "camZ", "camYaw"), frame.cam_columns, strict=True)
            )
            rows.append({"imgPath": frame.name, **columns, **cam_columns})
            img = draw_frame(columns["gt_joints_2d"], frame_seed)
            frame_seed += 1
            write_image(ds / "images_3840x2160" / folder / frame.name, img)
            write_720p(ds / "images_1280x720" / folder / f"{frame.name[:-4]}_1280x720.png", img)
        (ds / df_rel).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_pickle(ds / df_rel)
    test_img = draw_frame([np.array([[b[0] + b[2] / 2, b[1] + b[3] / 2]]) for b in TEST_BOXES], 99)
    write_image(ds / "images_3840x2160" / "test" / TEST_FRAME, test_img)
    write_720p(ds / "images_1280x720" / "test" / TEST_FRAME, test_img)
    (ds / "AGORA_test_bbox.json").write_text(
        json.dumps({TEST_FRAME: [{"bbox": b} for b in TEST_BOXES]})
    )
    return {"root": root, "ds": ds, "truth": truth}


@pytest.fixture(scope="module")
def converted(release, standin_model_dir):
    """The release after the README's commands (test split cropped by two worker processes)."""
    ds = str(release["ds"])
    agora2coco_smpl.main(["--dataset_path", ds, "--human_model_path", str(standin_model_dir)])
    crop = ["--dataset_path", ds, "--out_height", str(CROP_H), "--out_width", str(CROP_W)]
    crop_and_resize_4k_images.main(crop + ["--splits", "train", "validation", "--num_workers", "0"])
    crop_and_resize_4k_images.main(crop + ["--splits", "test", "--num_workers", "2"])
    return release


def load(path: Path):
    return json.loads(path.read_text())


def all_annotations(ds: Path):
    """(split, image, annotation) of both converted JSON files."""
    out = []
    for split in ("train", "validation"):
        db = load(ds / f"AGORA_{split}_SMPL.json")
        images = {img["id"]: img for img in db["images"]}
        out += [(split, images[a["image_id"]], a) for a in db["annotations"]]
    return out


def expected_crop(bbox):
    """Independent crop box and (2, 3) affine: aspect 384:512, x1.25, centre to centre."""
    x, y, w, h = bbox
    cx, cy = x + w / 2, y + h / 2
    if w / h > CROP_W / CROP_H:
        h = w * CROP_H / CROP_W
    else:
        w = h * CROP_W / CROP_H
    w, h = 1.25 * w, 1.25 * h
    sx, sy = CROP_W / w, CROP_H / h
    affine = np.array([[sx, 0, CROP_W / 2 - sx * cx], [0, sy, CROP_H / 2 - sy * cy]])
    return np.array([cx - w / 2, cy - h / 2, w, h]), affine


# ---- camera model --------------------------------------------------------------------------------


def test_focal_lengths_and_scene_rules():
    assert scene_camera("x_hdri_50mm_cam00.png", 1, 2, 3, 4).focal == pytest.approx(
        (5333.3333, 5333.3333)
    )  # 'hdri' is tested first
    cam = scene_camera("ag_validationset_archviz_5_10_cam01_00000.png", 1, 2, 3, 4)
    assert cam.focal == pytest.approx((1920.0, 1920.0))
    assert (cam.position_cm, cam.yaw_deg, cam.pitch_deg) == ((400, 225, 265), -135, 30)
    other = scene_camera("ag_trainset_brushifyforest_00001.png", 10, 20, 30, 40)
    assert other.focal == pytest.approx((2986.6667, 2986.6667))
    assert (other.position_cm, other.yaw_deg, other.pitch_deg) == ((10, 20, 30), 40, 0)
    assert scene_camera("ag2_frame.png", 0, 0, 0, 0).pitch_deg == 15
    assert scene_camera("a.png", 0, 0, 0, 0).princpt == (1920.0, 1080.0)


def test_hand_worked_projections():
    hdri = scene_camera("hdri.png", 0, 0, 0, 0)
    # Yaw 90: no rotation; person 5 m ahead at the camera's height (170 cm).
    rot, t = person_to_camera(90.0, np.array([500.0, 0.0, 170.0]), hdri)
    pts = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]]) @ rot.T + t
    np.testing.assert_allclose(pts, [[0, 0, 5], [0.1, 0, 5], [0, -0.1, 5]], atol=1e-12)
    np.testing.assert_allclose(
        project(pts, hdri), [[1920, 1080], [1920 + 5333.3333 * 0.02, 1080],
                             [1920, 1080 - 5333.3333 * 0.02]], atol=1e-3)  # fmt: skip
    # Yaw 180: the model's x axis turns away from the camera (90 degrees about y).
    rot, t = person_to_camera(180.0, np.array([500.0, 0.0, 170.0]), hdri)
    np.testing.assert_allclose(rot @ [0.1, 0, 0] + t, [0, 0, 4.9], atol=1e-12)
    # Other scenes: camera from the data frame, 1.7 m ground-plane offset.
    other = scene_camera("scene.png", 0, 0, 170, 0)
    rot, t = person_to_camera(90.0, np.array([500.0, 0.0, 0.0]), other)
    np.testing.assert_allclose(t, [0, 3.4, 5], atol=1e-12)
    np.testing.assert_allclose(project(t[None], other), [[1920, 1080 + 2986.6667 * 0.68]],
                               atol=1e-3)  # fmt: skip


def test_camera_chain_matches_an_independent_transcription():
    rng = np.random.default_rng(0)
    points = rng.normal(0, 0.5, (20, 3))
    for name, cols in (("a_cam00_b.png", (0, 0, 0, 0)), ("a_cam03_b.png", (0, 0, 0, 0)),
                       ("forest.png", (120, -80, 160, 30))):  # fmt: skip
        cam = scene_camera(name, *cols)
        ref = Cam(cam.focal_mm, cam.position_cm, cam.yaw_deg, cam.pitch_deg, cam.ground_plane_m)
        yaw, xyz = rng.uniform(0, 360), rng.uniform(-300, 300, 3)
        rot, t = person_to_camera(yaw, xyz, cam)
        np.testing.assert_allclose(points @ rot.T + t, ref_to_camera(points, yaw, xyz, ref),
                                   atol=1e-12)  # fmt: skip
        assert np.linalg.det(rot) == pytest.approx(1.0)


# ---- conversion ----------------------------------------------------------------------------------


def test_annotations_are_written_with_ids_across_splits(converted):
    ds = converted["ds"]
    train, val = load(ds / "AGORA_train_SMPL.json"), load(ds / "AGORA_validation_SMPL.json")
    assert [i["id"] for i in train["images"]] == [0, 1]
    assert [i["id"] for i in val["images"]] == [2, 3]  # ids continue after training
    assert [a["id"] for a in train["annotations"]] == [0, 1, 2, 3]  # the original wrote []
    assert [a["id"] for a in val["annotations"]] == [4, 5]
    assert train["images"][1] == {
        "id": 1,
        "file_name_3840x2160": "images_3840x2160/train_1/"
                               "ag_trainset_renderpeople_bfh_brushifyforest_5_15_00003.png",
        "file_name_1280x720": "images_1280x720/train_1/"
                              "ag_trainset_renderpeople_bfh_brushifyforest_5_15_00003_1280x720.png",
    }  # fmt: skip
    ann = train["annotations"][2]
    stem = "ag_trainset_renderpeople_bfh_brushifyforest_5_15_00003"
    assert ann["image_id"] == 1 and ann["person_id"] == 0
    assert ann["smpl_param_path"] == f"./smpl_params_cam/train_1/{stem}/0.json"
    assert ann["cam_param_path"] == f"./cam_params/train_1/{stem}.json"
    assert (ann["gender"], ann["kid"], ann["is_valid"]) == ("female", False, False)
    assert (ann["age"], ann["ethnicity"]) == ("31-50", "white")
    assert [a["kid"] for a in train["annotations"]] == [False, True, False, False]
    for _, img, a in all_annotations(ds):
        joints = converted["truth"][Path(img["file_name_3840x2160"]).name,
                                    a["person_id"]]["joints_2d"]  # fmt: skip
        lo, hi = joints.min(0), joints.max(0)
        w, h = 1.2 * (hi - lo)
        c = (lo + hi) / 2
        np.testing.assert_allclose(a["bbox"], [c[0] - w / 2, c[1] - h / 2, w, h], rtol=1e-5)


def test_camera_files(converted):
    ds = converted["ds"]
    folder = ds / "cam_params" / "validation"
    cam = load(folder / "ag_validationset_renderpeople_bfh_archviz_5_10_cam00_00002.json")
    assert cam["focal"] == pytest.approx([1920.0, 1920.0]) and cam["princpt"] == [1920, 1080]
    # A frame without persons still gets its camera (the original reused a stale one).
    empty = load(folder / "ag_validationset_renderpeople_bfh_hdri_50mm_5_15_00007.json")
    assert empty["focal"] == pytest.approx([5333.3333, 5333.3333])


def test_camera_frame_parameters_reproduce_the_ground_truth(converted, standin_model_dir):
    ds, truth = converted["ds"], converted["truth"]
    smpl = SMPL(str(standin_model_dir))
    checked = 0
    for _, img, a in all_annotations(ds):
        t = truth[Path(img["file_name_3840x2160"]).name, a["person_id"]]
        param = load(ds / a["smpl_param_path"])
        assert {k: len(v) for k, v in param.items()} == {
            "global_orient": 3,
            "body_pose": 69,
            "betas": 10,
            "transl": 3,
        }
        np.testing.assert_allclose(param["body_pose"], t["gt"]["body_pose"], atol=1e-7)
        np.testing.assert_allclose(param["betas"], t["gt"]["betas"][:10], atol=1e-7)
        with torch.no_grad():
            joints = smpl.layer(a["gender"])(
                global_orient=torch.tensor([param["global_orient"]], dtype=torch.float32),
                body_pose=torch.tensor([param["body_pose"]], dtype=torch.float32),
                betas=torch.tensor([param["betas"]], dtype=torch.float32),
            ).joints[0].double().numpy() + np.array(param["transl"])  # fmt: skip
        np.testing.assert_allclose(joints, t["joints_cam"], atol=2e-5)  # m
        cam = load(ds / a["cam_param_path"])
        uv = joints[:, :2] / joints[:, 2:] * cam["focal"] + cam["princpt"]
        np.testing.assert_allclose(uv, t["joints_2d"], atol=0.05)  # 4K px
        checked += 1
    assert checked == 6


def test_ground_truth_pickles_of_tensors_and_arrays(tmp_path):
    path = tmp_path / "kid.pkl"
    betas = np.arange(11, dtype=np.float32) / 10
    with open(path, "wb") as f:
        gt = {
            "root_pose": torch.ones(1, 3, requires_grad=True),
            "body_pose": np.zeros((1, 69)),
            "betas": torch.tensor(betas[None]),
            "translation": [[1.0, 2.0, 3.0]],
            "joints": torch.zeros(1, 45, 3),
        }
        pickle.dump(gt, f)
    gt = agora2coco_smpl.load_smpl_gt(str(path))
    np.testing.assert_allclose(gt["betas"], betas[:10])  # a child's 11th component dropped
    np.testing.assert_allclose(gt["translation"], [1, 2, 3])
    assert gt["root_pose"].shape == (3,) and gt["body_pose"].shape == (69,)
    with open(path, "wb") as f:
        pickle.dump({"root_pose": torch.ones(1, 3)}, f)
    with pytest.raises(agora2coco_smpl.AgoraFormatError, match="kid.pkl.*body_pose"):
        agora2coco_smpl.load_smpl_gt(str(path))
    with pytest.raises(FileNotFoundError, match="smpl_gt.zip"):
        agora2coco_smpl.load_smpl_gt(str(tmp_path / "none.pkl"))


def test_ground_truth_saved_on_a_gpu_loads_on_the_cpu(tmp_path, monkeypatch):
    """Tensors pickled on a GPU carry a 'cuda' location that a CPU-only torch cannot restore."""
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    data = pickle.dumps({"root_pose": torch.full((1, 3), 0.5), "body_pose": torch.zeros(1, 69),
                         "betas": torch.zeros(1, 10), "translation": torch.ones(1, 3)})  # fmt: skip
    monkeypatch.undo()
    path = tmp_path / "gpu.pkl"
    path.write_bytes(data)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            pickle.loads(data)
    gt = agora2coco_smpl.load_smpl_gt(str(path))
    np.testing.assert_array_equal(gt["root_pose"], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(gt["translation"], [1, 1, 1])


def test_missing_downloads_are_named(tmp_path, standin_model_dir):
    with pytest.raises(SystemExit, match=r"SMPL/\*\.pkl.*train_SMPL\.zip"):
        agora2coco_smpl.main(["--dataset_path", str(tmp_path),
                              "--human_model_path", str(standin_model_dir)])  # fmt: skip
    with pytest.raises(SystemExit, match="run tool/AGORA/agora2coco_smpl.py first"):
        crop_and_resize_4k_images.main(["--dataset_path", str(tmp_path), "--splits", "train"])
    with pytest.raises(SystemExit, match="AGORA_test_bbox.json"):
        crop_and_resize_4k_images.main(["--dataset_path", str(tmp_path), "--splits", "test"])


def test_a_missing_frame_is_reported_after_the_others(tmp_path):
    (tmp_path / "AGORA_test_bbox.json").write_text(
        json.dumps({"gone.png": [{"bbox": [1, 2, 3, 4]}], TEST_FRAME: [{"bbox": TEST_BOXES[0]}]})
    )
    write_image(tmp_path / "images_3840x2160" / "test" / TEST_FRAME, draw_frame([], 1))
    with pytest.raises(SystemExit, match=r"1 frame\(s\) not found.*gone\.png"):
        crop_and_resize_4k_images.main(["--dataset_path", str(tmp_path), "--splits", "test",
                                        "--num_workers", "0"])  # fmt: skip
    assert (
        tmp_path / "images_3840x2160/test_crop" / f"{TEST_FRAME[:-4]}_person_id_0.json"
    ).exists()


# ---- cropping ------------------------------------------------------------------------------------


def crop_items(ds: Path):
    """(frame path, crop stem path, 4K bbox) of every annotated and every test person."""
    items = []
    for _, img, a in all_annotations(ds):
        frame = Path(img["file_name_3840x2160"])
        stem = f"{frame.stem}_person_id_{a['person_id']}"
        items.append((ds / frame, ds / "images_3840x2160" / f"{frame.parent.name}_crop" / stem,
                      a["bbox"]))  # fmt: skip
    for i, box in enumerate(TEST_BOXES):
        items.append(
            (
                ds / "images_3840x2160/test" / TEST_FRAME,
                ds / "images_3840x2160/test_crop" / f"{TEST_FRAME[:-4]}_person_id_{i}",
                box,
            )
        )
    return items


def test_crops_and_their_files(converted):
    items = crop_items(converted["ds"])
    assert len(items) == 8  # 6 annotated persons (valid or not) + 2 test boxes
    for frame_path, stem, bbox in items:
        info = load(stem.with_suffix(".json"))
        box, affine = expected_crop(bbox)
        assert (info["resized_height"], info["resized_width"]) == (CROP_H, CROP_W)
        np.testing.assert_allclose(info["bbox_orig"], box, rtol=1e-9)
        np.testing.assert_allclose(info["affine_mat"], affine, rtol=1e-4, atol=2e-2)
        assert info["img2bb_trans"] == info["affine_mat"]  # the key the loader reads, too
        frame = cv2.imread(str(frame_path)).astype(np.float32)
        expected = cv2.warpAffine(frame, affine, (CROP_W, CROP_H), flags=cv2.INTER_LINEAR)
        patch = cv2.imread(str(stem.with_suffix(".png")))
        assert patch.shape == (CROP_H, CROP_W, 3)
        diff = np.abs(patch.astype(np.float32) - np.rint(expected))
        assert diff.mean() < 0.05 and np.percentile(diff, 99.9) <= 2


# ---- the converted release in the AGORA loader ---------------------------------------------------


def dataset(release, tmp_path, split, resolution, test_split="validation"):
    cfg = make_config(
        "body", data_dir=str(release["root"]), human_model_path=str(release["models"]),
        output_dir=str(tmp_path), agora_resolution=resolution, agora_test_split=test_split,
        testset="AGORA",
    )  # fmt: skip
    return AGORA(cfg, T.ToTensor(), split)


@pytest.fixture(scope="module")
def loaded(converted, standin_model_dir):
    return {**converted, "models": standin_model_dir}


def patch_to_frame(meta, x, y):
    return np.asarray(meta["bb2img_trans"], np.float64) @ [x, y, 1.0]


def box_centre(bbox, resolution):
    """Frame-px centre of the patch of a 4K box: the crop's centre in 4K mode; in 720p mode the
    scaled box's centre after ``process_bbox``, whose clamping step drops one px of width and
    height (a quirk of the original)."""
    x, y, w, h = bbox
    if resolution == "4k":
        return [x + w / 2, y + h / 2]
    x, y, w, h = x / 3, y / 3, w / 3 - 1, h / 3 - 1
    return [x + w / 2, y + h / 2]


@pytest.mark.parametrize("resolution", ["4k", "720p"])
def test_training_samples_load(loaded, tmp_path, resolution):
    ds = dataset(loaded, tmp_path, "train", resolution)
    assert len(ds) == 3  # four training persons, one of them not valid
    for i in range(len(ds)):
        inputs, targets, meta = ds[i]
        assert tuple(inputs["img"].shape) == (3, 256, 192)
        assert inputs["img"].std() > 0.02  # image content, not an empty crop
        assert targets["smpl_pose"].shape == (72,) and np.isfinite(targets["smpl_pose"]).all()
        assert meta["is_3D"] == 1.0


@pytest.mark.parametrize("resolution", ["4k", "720p"])
def test_validation_samples_map_back_to_the_annotated_boxes(loaded, tmp_path, resolution):
    ds = dataset(loaded, tmp_path, "test", resolution, test_split="validation")
    anns = [a for split, _, a in all_annotations(loaded["ds"]) if split == "validation"]
    assert len(ds) == len(anns) == 2
    for i, ann in enumerate(anns):
        _, targets, meta = ds[i]
        centre = patch_to_frame(meta, 96, 128)  # patch centre -> frame px
        np.testing.assert_allclose(centre, box_centre(ann["bbox"], resolution), atol=0.05)
        if resolution == "4k":  # the crop's corner is the enlarged box's corner
            box, _ = expected_crop(ann["bbox"])
            np.testing.assert_allclose(patch_to_frame(meta, 0, 0), box[:2], atol=0.05)
        mesh = np.asarray(targets["smpl_mesh_cam"], np.float64)
        assert mesh.shape == (6890, 3) and 4.0 < mesh[:, 2].mean() < 6.5


@pytest.mark.parametrize("resolution", ["4k", "720p"])
def test_official_test_samples_map_back_to_the_detections(loaded, tmp_path, resolution):
    ds = dataset(loaded, tmp_path, "test", resolution, test_split="test")
    assert len(ds) == len(TEST_BOXES)
    for i, bbox in enumerate(TEST_BOXES):
        inputs, _, meta = ds[i]
        assert inputs["img"].std() > 0.02
        centre = patch_to_frame(meta, 96, 128)
        np.testing.assert_allclose(centre, box_centre(bbox, resolution), atol=0.05)
