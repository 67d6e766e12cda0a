"""Keypoint conventions: the joint sets of the human models and of the datasets, in one place.

Plain data: joint names, flip pairs (index pairs exchanged by a horizontal mirror), root joints
and the index maps between sets. Joint names follow one vocabulary across sets ("L_Wrist",
"Index_1", ...), so a joint of one set is found in another by name
(:func:`common.utils.transforms.transform_joint_to_other_db`). Left/right joints are named
``L_*`` / ``R_*``; the hand sets (MANO, InterHand2.6M, COCO-WholeBody hands) name one hand and
have no flip pairs; FLAME names its 73 joints by their index.

The tables are those of the original code, in its order; the classes of
:mod:`common.utils.human_models` and the datasets under ``data/`` point at them.
"""

from __future__ import annotations

# ---- SMPL -------------------------------------------------------------------------------------

# The model's own 24 joints (kinematic tree order).
SMPL_ORIG_JOINTS_NAME = (
    "Pelvis", "L_Hip", "R_Hip", "Torso", "L_Knee", "R_Knee", "Spine", "L_Ankle",
    "R_Ankle", "Chest", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head",
    "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand",
)  # fmt: skip
SMPL_ORIG_FLIP_PAIRS = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21),
                        (22, 23))  # fmt: skip
SMPL_ORIG_ROOT_IDX = 0
# Supervision joint set (33): body joints, the four MCPs of each hand, face and foot keypoints.
SMPL_JOINTS_NAME = (
    "Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
    "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist",
    "L_Index_1", "L_Middle_1", "L_Ring_1", "L_Pinky_1",
    "R_Index_1", "R_Middle_1", "R_Ring_1", "R_Pinky_1",
    "Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear",
    "L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel",
)  # fmt: skip
SMPL_FLIP_PAIRS = (
    (1, 2), (3, 4), (5, 6), (8, 9), (10, 11), (12, 13), (14, 18), (15, 19), (16, 20), (17, 21),
    (23, 24), (25, 26), (27, 30), (28, 31), (29, 32),
)  # fmt: skip
SMPL_ROOT_IDX = 0
# PositionNet joint set (25): the supervision set without the hand MCPs, in this order.
SMPL_POS_JOINTS_NAME = (
    "Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
    "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist",
    "L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel",
    "L_Ear", "R_Ear", "L_Eye", "R_Eye", "Nose",
)  # fmt: skip
# Index of each PositionNet joint in the supervision set.
SMPL_POS_JOINT_IDX = tuple(SMPL_JOINTS_NAME.index(name) for name in SMPL_POS_JOINTS_NAME)

# ---- MANO (one hand) --------------------------------------------------------------------------

MANO_ORIG_JOINTS_NAME = (
    "Wrist", "Index_1", "Index_2", "Index_3", "Middle_1", "Middle_2", "Middle_3",
    "Pinky_1", "Pinky_2", "Pinky_3", "Ring_1", "Ring_2", "Ring_3",
    "Thumb_1", "Thumb_2", "Thumb_3",
)  # fmt: skip
# 21 joints: the wrist, then four joints per finger from the MCP to the tip.
MANO_JOINTS_NAME = (
    "Wrist", "Thumb_1", "Thumb_2", "Thumb_3", "Thumb_4", "Index_1", "Index_2", "Index_3",
    "Index_4", "Middle_1", "Middle_2", "Middle_3", "Middle_4", "Ring_1", "Ring_2", "Ring_3",
    "Ring_4", "Pinky_1", "Pinky_2", "Pinky_3", "Pinky_4",
)  # fmt: skip
MANO_SKELETON = ((0, 1), (0, 5), (0, 9), (0, 13), (0, 17), (1, 2), (2, 3), (3, 4), (5, 6), (6, 7),
                 (7, 8), (9, 10), (10, 11), (11, 12), (13, 14), (14, 15), (15, 16), (17, 18),
                 (18, 19), (19, 20))  # fmt: skip
MANO_ROOT_IDX = 0
NO_FLIP_PAIRS: tuple[tuple[int, int], ...] = ()  # one-hand sets: a left hand is mirrored whole

# ---- FLAME ------------------------------------------------------------------------------------

# 73 joints named by index: 5 kinematic joints (root, neck, jaw, eyeballs), 51 inner face
# landmarks (eyebrows, nose, eyes, mouth), 17 contour landmarks.
FLAME_JOINTS_NAME = tuple(str(i) for i in range(73))
FLAME_FLIP_PAIRS = (
    (3, 4),  # eyeballs
    (5, 14), (6, 13), (7, 12), (8, 11), (9, 10),  # eyebrows
    (19, 23), (20, 22),  # below nose
    (24, 33), (25, 32), (26, 31), (27, 30), (28, 35), (29, 34),  # eyes
    (36, 42), (37, 41), (38, 40), (43, 47), (44, 46),  # mouth
    (48, 52), (49, 51), (53, 55),  # lips
    (56, 72), (57, 71), (58, 70), (59, 69), (60, 68), (61, 67), (62, 66), (63, 65),  # contour
)  # fmt: skip
FLAME_ROOT_IDX = 0

# ---- Human3.6M (also the joints of J_regressor_h36m_smpl.npy; the 3DPW protocol) ---------------

H36M_JOINTS_NAME = (
    "Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck",
    "Head", "Head_top", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist",
)  # fmt: skip
H36M_FLIP_PAIRS = ((1, 4), (2, 5), (3, 6), (14, 11), (15, 12), (16, 13))
H36M_ROOT_IDX = 0
# Evaluation joints: all but Pelvis, Torso and Head.
H36M_EVAL_JOINTS = (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)

# ---- MPII -------------------------------------------------------------------------------------

MPII_JOINTS_NAME = (
    "R_Ankle", "R_Knee", "R_Hip", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Thorax", "Neck",
    "Head_top", "R_Wrist", "R_Elbow", "R_Shoulder", "L_Shoulder", "L_Elbow", "L_Wrist",
)  # fmt: skip
MPII_FLIP_PAIRS = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))

# ---- MPI-INF-3DHP -----------------------------------------------------------------------------

MPI_INF_3DHP_JOINTS_NAME = (
    "Head_top", "Neck", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow", "L_Wrist",
    "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Torso", "Head",
)  # fmt: skip
MPI_INF_3DHP_FLIP_PAIRS = ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13))
MPI_INF_3DHP_ROOT_IDX = MPI_INF_3DHP_JOINTS_NAME.index("Pelvis")

# ---- InterHand2.6M (per hand: right hand 0-20, left hand 21-41, same order) ---------------------

INTERHAND_JOINTS_NAME = (
    "Thumb_4", "Thumb_3", "Thumb_2", "Thumb_1", "Index_4", "Index_3", "Index_2", "Index_1",
    "Middle_4", "Middle_3", "Middle_2", "Middle_1", "Ring_4", "Ring_3", "Ring_2", "Ring_1",
    "Pinky_4", "Pinky_3", "Pinky_2", "Pinky_1", "Wrist",
)  # fmt: skip
INTERHAND_JOINT_NUM = len(INTERHAND_JOINTS_NAME)
INTERHAND_ROOT_IDX = INTERHAND_JOINTS_NAME.index("Wrist")

# ---- COCO / COCO-WholeBody --------------------------------------------------------------------

# COCO's 17 body keypoints, in the shared vocabulary.
COCO_BODY_JOINTS_NAME = (
    "Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder", "L_Elbow",
    "R_Elbow", "L_Wrist", "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle",
)  # fmt: skip
# The same 17 keypoints by COCO's own names ("left_eye"), as detectors report them.
COCO_KEYPOINT_NAMES = tuple(
    {"L_": "left_", "R_": "right_"}.get(name[:2], name[:2].lower()) + name[2:].lower()
    for name in COCO_BODY_JOINTS_NAME
)
# COCO-WholeBody's 6 foot keypoints.
COCO_FOOT_JOINTS_NAME = ("L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe",
                         "R_Heel")  # fmt: skip
# COCO-WholeBody's 21 keypoints of each hand carry MANO's names in MANO's order.
COCO_HAND_JOINTS_NAME = MANO_JOINTS_NAME
# The four MCPs (index, middle, ring, pinky) among the 21 hand keypoints.
COCO_HAND_MCP_NAMES = ("Index_1", "Middle_1", "Ring_1", "Pinky_1")
COCO_HAND_MCP_IDX = tuple(COCO_HAND_JOINTS_NAME.index(name) for name in COCO_HAND_MCP_NAMES)
# The body set that MSCOCO trains on (32): 17 COCO keypoints, Pelvis (the midpoint of the hips),
# 6 foot keypoints, the MCPs of the left then the right hand.
COCO_WHOLEBODY_BODY_JOINTS_NAME = (
    COCO_BODY_JOINTS_NAME + ("Pelvis",) + COCO_FOOT_JOINTS_NAME
    + tuple(f"L_{name}" for name in COCO_HAND_MCP_NAMES)
    + tuple(f"R_{name}" for name in COCO_HAND_MCP_NAMES)
)  # fmt: skip
COCO_WHOLEBODY_BODY_FLIP_PAIRS = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
    (18, 21), (19, 22), (20, 23), (24, 28), (25, 29), (26, 30), (27, 31),
)  # fmt: skip
COCO_BODY_HIPS = (COCO_BODY_JOINTS_NAME.index("L_Hip"), COCO_BODY_JOINTS_NAME.index("R_Hip"))
COCO_FACE_KPT_NUM = 68
# FLAME joint i <- COCO-WholeBody face keypoint: i + 12 for i = 5..55 (inner landmarks),
# i - 56 for i = 56..72 (contour); joints 0-4 (root, neck, jaw, eyeballs) have no source.
FLAME_FROM_COCO_FACE = {**{i: i + 12 for i in range(5, 56)}, **{i: i - 56 for i in range(56, 73)}}
# The inverse: the FLAME joint of each of the 68 COCO-WholeBody face keypoints.
COCO_FACE_FROM_FLAME = tuple(sorted(FLAME_FROM_COCO_FACE, key=FLAME_FROM_COCO_FACE.__getitem__))
