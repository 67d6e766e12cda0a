"""MultipleDatasets index mapping, annotation helpers, registry and metrics."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from data.dataset import (
    AnnotationError,
    MultipleDatasets,
    coco_index,
    get_image,
    get_key,
    get_nested,
    load_json,
    merge_coco,
)
from data.metrics import (
    H36M_EVAL_JOINTS,
    H36M_JOINTS_NAME,
    format_mean_results,
    h36m_eval_joints,
    h36m_test_regressor,
    load_h36m_regressor,
    mean_distance,
    pa_mean_distance,
    regress_root_relative,
)
from data.registry import DATASETS, get_dataset_class
from main.config import DATASET_NAMES


class Fake:
    """A dataset whose item ``i`` is ``(name, i)``."""

    def __init__(self, name: str, n: int) -> None:
        self.name, self.n = name, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return (self.name, i)


# ---- MultipleDatasets ------------------------------------------------------------------------


def test_concatenation_mapping() -> None:
    db = MultipleDatasets([Fake("a", 3), Fake("b", 1), Fake("c", 4)], make_same_len=False)
    assert len(db) == 8
    expected = [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("c", 0), ("c", 1), ("c", 2), ("c", 3)]
    assert [db[i] for i in range(8)] == expected
    for bad in (8, 100, -1):
        with pytest.raises(IndexError):
            db[bad]


def test_same_len_mapping_matches_spec_example() -> None:
    # The original's balancing: max 10, L = 3 -> K = 3: positions 0-8 map to 0,1,2,... and 9 is random.
    db = MultipleDatasets([Fake("big", 10), Fake("small", 3)], make_same_len=True)
    assert len(db) == 20
    assert [db[i] for i in range(10)] == [("big", i) for i in range(10)]
    assert [db[10 + i] for i in range(9)] == [("small", i % 3) for i in range(9)]
    for seed in range(5):
        random.seed(seed)
        got = db[19]
        random.seed(seed)
        assert got == ("small", random.randint(0, 2))
    with pytest.raises(IndexError):
        db[20]


def test_same_len_random_tail_is_uniform_over_the_dataset() -> None:
    db = MultipleDatasets([Fake("big", 7), Fake("small", 4)], make_same_len=True)
    # small: K = 1, positions 4-6 of its lap are random draws in [0, 3].
    random.seed(0)
    seen = {db[7 + 5][1] for _ in range(200)}
    assert seen == {0, 1, 2, 3}
    assert [db[7 + i] for i in range(4)] == [("small", i) for i in range(4)]


def test_nested_groups_as_the_trainer_builds_them() -> None:
    group3d = MultipleDatasets([Fake("h36m", 5)], make_same_len=False)
    group2d = MultipleDatasets([Fake("coco", 2), Fake("mpii", 2)], make_same_len=False)
    db = MultipleDatasets([group3d, group2d], make_same_len=True)
    assert len(db) == 10  # 2 * max(5, 4)
    assert [db[5 + i] for i in range(4)] == [("coco", 0), ("coco", 1), ("mpii", 0), ("mpii", 1)]


def test_empty_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        MultipleDatasets([], make_same_len=False)
    for same_len in (True, False):
        with pytest.raises(ValueError, match="Fake has no sample"):
            MultipleDatasets([Fake("a", 2), Fake("b", 0)], make_same_len=same_len)


# ---- annotation helpers ----------------------------------------------------------------------


def test_coco_index_keeps_annotation_file_order() -> None:
    parts = [
        {"images": [{"id": 7, "w": 1}], "annotations": [{"id": 30, "image_id": 7}], "info": {}},
        {
            "images": [{"id": 2}],
            "annotations": [{"id": 4, "image_id": 2}, {"id": 1, "image_id": 7}],
        },
    ]
    merged = merge_coco(parts)
    assert [a["id"] for a in merged["annotations"]] == [30, 4, 1]
    assert "info" not in merged
    anns, images = coco_index(merged, "X", "x.json")
    assert [a["id"] for a in anns] == [30, 4, 1]
    assert get_image(images, anns[2], "X") == {"id": 7, "w": 1}
    with pytest.raises(AnnotationError, match="image_id 9"):
        get_image(images, {"id": 5, "image_id": 9}, "X")
    with pytest.raises(AnnotationError, match="'annotations'"):
        coco_index({"images": []}, "X", "x.json")


def test_coco_index_names_a_missing_id_and_prints_nothing(capsys) -> None:
    data = {
        "images": [{"id": 1}],
        "annotations": [{"id": 3, "image_id": 1}, {"id": 3, "image_id": 1, "k": 2}],
    }
    anns, images = coco_index(data, "X", "x.json")
    assert anns == [{"id": 3, "image_id": 1, "k": 2}] and list(images) == [1]  # last entry wins
    assert capsys.readouterr().out == ""  # pycocotools' progress lines are swallowed
    with pytest.raises(AnnotationError, match=r"x.json annotations\[0\] has no key 'image_id'"):
        coco_index({"images": [], "annotations": [{"id": 1}]}, "X", "x.json")
    categories = {"images": [], "annotations": [{"id": 1, "image_id": 1}], "categories": []}
    with pytest.raises(AnnotationError, match="has no key 'category_id'"):
        coco_index(categories, "X", "x.json")


def test_missing_key_and_file_errors_name_everything(tmp_path) -> None:
    with pytest.raises(
        AnnotationError, match=r"Human36M: annotation entry image 12 has no key 'cam_idx'"
    ):
        get_key({"id": 12}, "cam_idx", "Human36M", "image 12")
    tree = {"1": {"2": {"3": 5}}}
    assert get_nested(tree, (1, 2, 3), "H", "f.json") == 5
    with pytest.raises(AnnotationError, match=r"f.json has no entry \[1\]\[2\]\[4\]"):
        get_nested(tree, (1, 2, 4), "H", "f.json")
    path = str(tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="missing.json.*download me"):
        load_json(path, "PW3D", "download me")


# ---- registry --------------------------------------------------------------------------------


def test_registry_covers_the_config_names() -> None:
    assert set(DATASETS) == set(DATASET_NAMES)
    for name, cls in DATASETS.items():
        assert cls.__module__ == f"data.{name}.{name}" and cls.__name__ == name


def test_registry_errors() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'Nope'.*Human36M"):
        get_dataset_class("Nope")


def test_registry_returns_the_classes() -> None:
    assert get_dataset_class("Human36M").__name__ == "Human36M"
    assert get_dataset_class("PW3D").__name__ == "PW3D"


# ---- metrics ---------------------------------------------------------------------------------


def test_mean_distance_hand_worked() -> None:
    a = np.zeros((2, 3))
    b = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    assert mean_distance(a, b) == pytest.approx(3.0)


def test_pa_distance_invariant_to_similarity() -> None:
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(14, 3)) * 300
    noisy = gt + rng.normal(size=(14, 3)) * 20
    R = Rotation.from_rotvec([0.3, -1.2, 0.5]).as_matrix()
    moved = 1.7 * noisy @ R.T + np.array([100.0, -50.0, 2000.0])
    assert pa_mean_distance(moved, gt) == pytest.approx(pa_mean_distance(noisy, gt), rel=1e-9)
    assert pa_mean_distance(1.3 * gt @ R.T + 5, gt) == pytest.approx(0.0, abs=1e-9)
    # Independent Umeyama (SVD of the cross-covariance) on the noisy copy.
    mu_a, mu_b = noisy.mean(0), gt.mean(0)
    A, B = noisy - mu_a, gt - mu_b
    U, S, Vt = np.linalg.svd(A.T @ B / len(A))
    D = np.diag([1, 1, np.sign(np.linalg.det(Vt.T @ U.T))])
    Rr = Vt.T @ D @ U.T
    c = np.trace(np.diag(S) @ D) / A.var(0).sum()
    aligned = c * A @ Rr.T + mu_b
    exp = np.linalg.norm(aligned - gt, axis=1).mean()
    assert pa_mean_distance(noisy, gt) == pytest.approx(exp, rel=1e-9)


def test_regress_root_relative() -> None:
    reg = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    mesh = np.array([[0.0, 0, 0], [2.0, 0, 0], [1.0, 1, 1]])
    np.testing.assert_allclose(regress_root_relative(reg, mesh), [[0, 0, 0], [0, 1, 1]])


def test_h36m_eval_joints_and_test_regressor(tmp_path) -> None:
    rng = np.random.default_rng(3)
    reg, mesh = rng.random((17, 40)), rng.normal(size=(40, 3))
    joints = np.einsum("jv,vc->jc", reg, mesh)  # (17, 3), computed apart from the helper
    expected = np.delete(joints - joints[0], [0, 7, 9], axis=0)  # not Pelvis, Torso, Head
    np.testing.assert_allclose(h36m_eval_joints(reg, mesh), expected, rtol=1e-12)
    missing = str(tmp_path / "no_data")
    assert h36m_test_regressor(missing, "train") is None  # no file is needed to train
    with pytest.raises(FileNotFoundError, match="J_regressor_h36m_smpl.npy"):
        h36m_test_regressor(missing, "test")


def test_h36m_tables() -> None:
    assert len(H36M_JOINTS_NAME) == 17
    assert [H36M_JOINTS_NAME[i] for i in (0, 7, 9)] == ["Pelvis", "Torso", "Head"]
    assert sorted(set(range(17)) - set(H36M_EVAL_JOINTS)) == [0, 7, 9]


def test_regressor_file_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="J_regressor_h36m_smpl.npy.*Pose2Pose"):
        load_h36m_regressor(str(tmp_path))
    (tmp_path / "Human36M").mkdir()
    np.save(tmp_path / "Human36M" / "J_regressor_h36m_smpl.npy", np.zeros((17, 10)))
    with pytest.raises(ValueError, match=r"expected shape \(17, 6890\)"):
        load_h36m_regressor(str(tmp_path))


def test_format_mean_results() -> None:
    lines = format_mean_results({"mpjpe": [1.0, 2.0], "x": [4.0]}, (("mpjpe", "MPJPE"), ("x", "X")))
    assert lines == ["MPJPE: 1.50 mm", "X: 4.00 mm"]
