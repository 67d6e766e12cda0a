"""Keypoint conventions (common/utils/keypoints.py): invariants of the joint sets, and that the
human models, the datasets and the fixture writers use the one copy of each table."""

from __future__ import annotations

import pytest

from common.utils import keypoints as kp

# name -> (joint names, flip pairs) of every set with a left and a right side.
SIDED_SETS = {
    "SMPL original": (kp.SMPL_ORIG_JOINTS_NAME, kp.SMPL_ORIG_FLIP_PAIRS),
    "SMPL supervision": (kp.SMPL_JOINTS_NAME, kp.SMPL_FLIP_PAIRS),
    "Human3.6M": (kp.H36M_JOINTS_NAME, kp.H36M_FLIP_PAIRS),
    "MPII": (kp.MPII_JOINTS_NAME, kp.MPII_FLIP_PAIRS),
    "MPI-INF-3DHP": (kp.MPI_INF_3DHP_JOINTS_NAME, kp.MPI_INF_3DHP_FLIP_PAIRS),
    "COCO-WholeBody body": (kp.COCO_WHOLEBODY_BODY_JOINTS_NAME, kp.COCO_WHOLEBODY_BODY_FLIP_PAIRS),
}
ONE_HAND_SETS = {
    "MANO": kp.MANO_JOINTS_NAME,
    "InterHand2.6M": kp.INTERHAND_JOINTS_NAME,
    "COCO-WholeBody hand": kp.COCO_HAND_JOINTS_NAME,
}


def _mirror_name(name: str) -> str | None:
    """``L_x`` <-> ``R_x``; None for a joint on the midline."""
    if name[:2] in ("L_", "R_"):
        return {"L_": "R_", "R_": "L_"}[name[:2]] + name[2:]
    return None


@pytest.mark.parametrize("set_name", SIDED_SETS)
def test_flip_pairs_exchange_left_and_right_of_the_same_joint(set_name: str) -> None:
    names, pairs = SIDED_SETS[set_name]
    assert len(set(names)) == len(names), f"{set_name}: repeated joint names"
    flat = [i for pair in pairs for i in pair]
    assert len(flat) == len(set(flat)), f"{set_name}: a joint is in two flip pairs"
    for a, b in pairs:
        assert _mirror_name(names[a]) == names[b], (set_name, names[a], names[b])
    # Every sided joint has its pair; a midline joint is in none.
    sided = {i for i, name in enumerate(names) if _mirror_name(name) is not None}
    assert set(flat) == sided, f"{set_name}: sided joints without a flip pair"
    for name in names:
        mirrored = _mirror_name(name)
        assert mirrored is None or mirrored in names, f"{set_name}: {name} has no other side"


def test_one_hand_sets_name_the_same_21_joints_without_sides() -> None:
    for set_name, names in ONE_HAND_SETS.items():
        assert sorted(names) == sorted(kp.MANO_JOINTS_NAME), set_name
        assert all(_mirror_name(name) is None for name in names), set_name
    assert kp.NO_FLIP_PAIRS == ()
    # The MANO model's 16 joints are the 21 without the fingertips.
    tips = {name for name in kp.MANO_JOINTS_NAME if name.endswith("_4")}
    assert set(kp.MANO_ORIG_JOINTS_NAME) == set(kp.MANO_JOINTS_NAME) - tips and len(tips) == 5
    # The skeleton: a tree over the 21 joints (20 bones, each joint but the wrist has one parent).
    children = [child for _, child in kp.MANO_SKELETON]
    assert len(kp.MANO_SKELETON) == 20 and sorted(children) == list(range(1, 21))
    for parent, child in kp.MANO_SKELETON:
        a, b = kp.MANO_JOINTS_NAME[parent], kp.MANO_JOINTS_NAME[child]
        assert (a == "Wrist" and b.endswith("_1")) or (
            a[:-1] == b[:-1] and int(b[-1]) == int(a[-1]) + 1
        ), (a, b)


def test_roots_and_named_indices_point_at_the_named_joints() -> None:
    assert kp.SMPL_ORIG_JOINTS_NAME[kp.SMPL_ORIG_ROOT_IDX] == "Pelvis"
    assert kp.SMPL_JOINTS_NAME[kp.SMPL_ROOT_IDX] == "Pelvis"
    assert kp.H36M_JOINTS_NAME[kp.H36M_ROOT_IDX] == "Pelvis"
    assert kp.MPI_INF_3DHP_JOINTS_NAME[kp.MPI_INF_3DHP_ROOT_IDX] == "Pelvis"
    assert kp.MANO_JOINTS_NAME[kp.MANO_ROOT_IDX] == "Wrist"
    assert kp.INTERHAND_JOINTS_NAME[kp.INTERHAND_ROOT_IDX] == "Wrist"
    assert kp.INTERHAND_JOINT_NUM == 21
    dropped = {kp.H36M_JOINTS_NAME[i] for i in range(17)} - {
        kp.H36M_JOINTS_NAME[i] for i in kp.H36M_EVAL_JOINTS
    }
    assert dropped == {"Pelvis", "Torso", "Head"}
    assert [kp.COCO_BODY_JOINTS_NAME[i] for i in kp.COCO_BODY_HIPS] == ["L_Hip", "R_Hip"]
    assert [kp.COCO_HAND_JOINTS_NAME[i] for i in kp.COCO_HAND_MCP_IDX] == [
        "Index_1", "Middle_1", "Ring_1", "Pinky_1"
    ]  # fmt: skip


def test_derived_sets_are_subsets_of_the_smpl_supervision_set() -> None:
    # PositionNet's 25 joints: the supervision set without the 8 hand MCPs.
    pos = [kp.SMPL_JOINTS_NAME[i] for i in kp.SMPL_POS_JOINT_IDX]
    assert tuple(pos) == kp.SMPL_POS_JOINTS_NAME
    mcps = {name for name in kp.SMPL_JOINTS_NAME if name[2:] in kp.COCO_HAND_MCP_NAMES}
    assert len(mcps) == 8 and set(pos) == set(kp.SMPL_JOINTS_NAME) - mcps
    # Every joint of the MSCOCO body set is supervised through the SMPL set, by name.
    assert set(kp.COCO_WHOLEBODY_BODY_JOINTS_NAME) == set(kp.SMPL_JOINTS_NAME) - {"Neck"}
    assert kp.COCO_WHOLEBODY_BODY_JOINTS_NAME[:17] == kp.COCO_BODY_JOINTS_NAME


def test_coco_keypoint_names_are_torchvisions() -> None:
    from torchvision.models.detection import KeypointRCNN_ResNet50_FPN_Weights

    # The names the detector reports (torchvision's metadata; no weights are read).
    names = KeypointRCNN_ResNet50_FPN_Weights.COCO_V1.meta["keypoint_names"]
    assert kp.COCO_KEYPOINT_NAMES == tuple(names)


def test_coco_face_and_flame_maps_are_inverse() -> None:
    forward = kp.FLAME_FROM_COCO_FACE  # FLAME joint -> COCO face keypoint
    assert sorted(forward.values()) == list(range(kp.COCO_FACE_KPT_NUM))
    assert sorted(forward) == list(range(5, 73))  # the 68 landmarks; not the 5 kinematic joints
    assert len(kp.COCO_FACE_FROM_FLAME) == kp.COCO_FACE_KPT_NUM
    for coco, flame in enumerate(kp.COCO_FACE_FROM_FLAME):
        assert forward[flame] == coco
    # The contour (COCO 0-16) is FLAME's last 17 joints, in the same order.
    assert kp.COCO_FACE_FROM_FLAME[:17] == tuple(range(56, 73))


def test_flame_flip_pairs_mirror_landmarks_only() -> None:
    pairs = kp.FLAME_FLIP_PAIRS
    flat = [i for pair in pairs for i in pair]
    assert len(flat) == len(set(flat)) and all(0 <= i < 73 for i in flat)
    assert not {0, 1, 2} & set(flat)  # root, neck and jaw lie on the midline
    assert (3, 4) in pairs  # the eyeballs
    # The contour runs from one ear to the other: landmark 56 + k <-> 72 - k, the chin (64) fixed.
    contour = {a: b for a, b in pairs if a >= 56}
    assert contour == {56 + k: 72 - k for k in range(8)}
    assert len(kp.FLAME_JOINTS_NAME) == 73 and kp.FLAME_JOINTS_NAME[kp.FLAME_ROOT_IDX] == "0"


def test_users_hold_the_modules_tables() -> None:
    from common.utils import person_boxes
    from common.utils.human_models import FLAME, MANO, SMPL
    from data.Human36M.Human36M import Human36M
    from data.InterHand26M.InterHand26M import InterHand26M
    from data.MPI_INF_3DHP.MPI_INF_3DHP import MPI_INF_3DHP
    from data.MPII.MPII import MPII

    assert SMPL.joints_name is kp.SMPL_JOINTS_NAME and SMPL.flip_pairs is kp.SMPL_FLIP_PAIRS
    assert SMPL.orig_joints_name is kp.SMPL_ORIG_JOINTS_NAME
    assert SMPL.orig_flip_pairs is kp.SMPL_ORIG_FLIP_PAIRS
    assert SMPL.pos_joint_idx is kp.SMPL_POS_JOINT_IDX
    assert MANO.joints_name is kp.MANO_JOINTS_NAME and MANO.skeleton is kp.MANO_SKELETON
    assert FLAME.joints_name is kp.FLAME_JOINTS_NAME and FLAME.flip_pairs is kp.FLAME_FLIP_PAIRS
    assert (SMPL.joint_num, SMPL.pos_joint_num, MANO.joint_num, FLAME.joint_num) == (
        len(SMPL.joints_name), len(SMPL.pos_joints_name), 21, 73)  # fmt: skip
    assert Human36M.joints_name is kp.H36M_JOINTS_NAME
    assert Human36M.flip_pairs is kp.H36M_FLIP_PAIRS
    assert MPII.joints_name is kp.MPII_JOINTS_NAME and MPII.flip_pairs is kp.MPII_FLIP_PAIRS
    assert MPI_INF_3DHP.joints_name is kp.MPI_INF_3DHP_JOINTS_NAME
    assert InterHand26M.joints_name is kp.INTERHAND_JOINTS_NAME
    assert person_boxes.COCO_KEYPOINT_NAMES is kp.COCO_KEYPOINT_NAMES


def test_fixture_writers_use_the_modules_tables() -> None:
    from tool import fixtures_body, fixtures_hand_face, fixtures_mscoco

    assert fixtures_body.MPII_JOINTS is kp.MPII_JOINTS_NAME
    assert fixtures_body.MPI_INF_3DHP_JOINTS is kp.MPI_INF_3DHP_JOINTS_NAME
    assert fixtures_hand_face.INTERHAND_JOINTS_NAME is kp.INTERHAND_JOINTS_NAME
    assert fixtures_mscoco.COCO_BODY_NAMES is kp.COCO_BODY_JOINTS_NAME
    assert fixtures_mscoco.COCO_FOOT_NAMES is kp.COCO_FOOT_JOINTS_NAME
    assert fixtures_mscoco.COCO_FACE_FROM_FLAME is kp.COCO_FACE_FROM_FLAME
