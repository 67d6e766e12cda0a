"""Keypoint R-CNN detector: strict state-dict loading, the offline error, the detection format.

No weights are downloaded: an untrained network (``weights=None, weights_backbone=None``) is saved
as a state dict and loaded back; torchvision's cache is pointed at an empty temporary folder.
"""

from __future__ import annotations

import os
import urllib.error

import numpy as np
import pytest
import torch

from common import detector as det

SMALL = 160  # network resize of the tests (shorter side, px): fast on a CPU


@pytest.fixture(scope="module")
def untrained_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    from torchvision.models.detection import keypointrcnn_resnet50_fpn

    torch.manual_seed(0)
    model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    path = str(tmp_path_factory.mktemp("detector") / "keypointrcnn.pth")
    state = model.state_dict()
    torch.save(state, path)
    return path, state


@pytest.fixture()
def empty_hub(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert torch.hub.get_dir().startswith(str(tmp_path)), "torch.hub.set_dir was called earlier"
    return torch.hub.get_dir()


def picture() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    img[20:90, 50:80] = (200, 150, 120)  # a person-sized blob
    return img


@pytest.fixture(scope="module")
def loaded(untrained_state) -> tuple[det.KeypointDetector, list[det.Detection], dict]:
    """The detector loaded from the saved file, its detections on :func:`picture` and the raw
    network output of that same call."""
    path, _ = untrained_state
    detector = det.load_detector(path, det_thresh=0.0, max_people=2, min_size=SMALL)
    raw = []
    hook = detector.model.register_forward_hook(lambda module, args, out: raw.append(out[0]))
    people = detector(picture())
    hook.remove()
    return detector, people, raw[0]


def test_saved_state_dict_loads_strictly_and_detects(untrained_state, loaded):
    _, state = untrained_state
    detector, people, _ = loaded
    for name, value in detector.model.state_dict().items():
        assert torch.equal(value, state[name]), name
    # An untrained Keypoint R-CNN does report people (scores above zero).
    assert 1 <= len(people) <= 2
    scores = [p.score for p in people]
    assert scores == sorted(scores, reverse=True) and min(scores) > 0
    for person in people:
        assert person.box_xywh.shape == (4,) and person.box_xywh.dtype == np.float32
        assert person.keypoints.shape == (17, 3) and person.keypoints.dtype == np.float32
        x, y, w, h = person.box_xywh
        assert w >= 0 and h >= 0 and x >= 0 and y >= 0 and x + w <= 128.01 and y + h <= 96.01
        assert person.score <= 1


def test_detections_match_the_raw_network_output(loaded):
    _, people, raw = loaded
    assert len(people) == min(2, int((raw["scores"] > 0).sum()))
    for person, box, kps, kp_scores in zip(
        people, raw["boxes"], raw["keypoints"], raw["keypoints_scores"]
    ):
        x1, y1, x2, y2 = box.tolist()
        np.testing.assert_allclose(person.box_xywh, [x1, y1, x2 - x1, y2 - y1], rtol=1e-6)
        np.testing.assert_allclose(person.keypoints[:, :2], kps[:, :2].numpy())
        np.testing.assert_allclose(person.keypoints[:, 2], kp_scores.numpy())


def test_det_thresh_above_every_score_finds_nobody(untrained_state):
    path, _ = untrained_state
    nobody = det.load_detector(path, det_thresh=1.01, min_size=64)
    assert nobody(picture()[:64, :64]) == []


def test_state_dict_that_does_not_fit_names_the_keys(untrained_state, tmp_path):
    _, state = untrained_state
    kept = "roi_heads.keypoint_predictor.kps_score_lowres.weight"
    path = str(tmp_path / "broken.pth")
    torch.save({kept: state[kept], "extra.weight": torch.zeros(1)}, path)
    num_missing = len([k for k in state if not k.endswith("num_batches_tracked")]) - 1
    with pytest.raises(
        det.DetectorError,
        match=rf"{num_missing} missing keys \['backbone.*" r"1 unexpected keys \['extra.weight'\]",
    ):
        det.load_detector(path, min_size=SMALL)
    with pytest.raises(det.DetectorError, match="--detector_weights .*nowhere.pth: no such file"):
        det.load_detector(str(tmp_path / "nowhere.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(det.DetectorError, match="weights_only=True"):
        det.load_detector(str(tmp_path / "junk.pth"))


def test_offline_without_weights_says_how_to_get_them(empty_hub, monkeypatch):
    expected_file = os.path.join(
        empty_hub, "checkpoints", "keypointrcnn_resnet50_fpn_coco-fc266e95.pth"
    )
    assert det.cached_weights_path() == expected_file
    with pytest.raises(det.DetectorError) as err:
        det.load_detector(download=False)
    message = str(err.value)
    assert expected_file in message and "--detector_weights" in message and "\n" not in message

    def no_network(weights):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(det, "_download_state", no_network)
    with pytest.raises(
        det.DetectorError, match="download failed: .*name resolution.*" "--detector_weights PATH"
    ):
        det.load_detector()


def test_weights_in_the_torchvision_cache_are_used_without_a_path(
    untrained_state, empty_hub, monkeypatch
):
    path, state = untrained_state
    os.makedirs(os.path.dirname(det.cached_weights_path()))
    os.symlink(path, det.cached_weights_path())

    def fail(weights):
        raise AssertionError("must not download when the file is cached")

    monkeypatch.setattr(det, "_download_state", fail)
    read, source = det.read_detector_state()
    assert source == det.cached_weights_path()
    assert read.keys() == state.keys()
    os.remove(det.cached_weights_path())
    with open(det.cached_weights_path(), "wb") as f:
        f.write(b"half a download")
    with pytest.raises(det.DetectorError, match="cached detector weights .*delete the file"):
        det.read_detector_state()


def test_bad_input_and_arguments_are_refused(untrained_state, loaded):
    path, _ = untrained_state
    with pytest.raises(det.DetectorError, match="--max_people"):
        det.load_detector(path, max_people=0)
    detector = loaded[0]
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB, got float32"):
        detector(picture().astype(np.float32))
