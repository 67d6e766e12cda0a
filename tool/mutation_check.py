"""Mutation check of the test suite: plant small bugs one at a time and see which survive.

Each mutation replaces one exact piece of source text (it must occur exactly once in its file)
in a private copy of the repository's tracked files, then runs the test suite there with
``pytest -x``; a mutation is *killed* when a test fails, *survived* when the whole suite passes.
The working tree is never touched; the unmutated copy must pass first.

    python tool/mutation_check.py                     # every mutation, whole suite
    python tool/mutation_check.py --list              # the table of mutations
    python tool/mutation_check.py --only proj_mask_valid --tests tests/test_model_losses.py
    python tool/mutation_check.py --out output/mutations.md

A survivor is either a missing test or a mutation that changes no behaviour (say which in the
report). Exit code 0 when every mutation was killed, 1 when one survived, 2 on a bad mutation
or when pytest could not run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    old: str  # exact source text, found exactly once in the file
    new: str
    what: str  # the planted bug in words


P_TRUNC = 'self._reduce(meta_info[f"{p}_joint_trunc"])'
# The body/hand projection loss, told from the face's by the joint_cam loss that follows it.
JOINT_PROJ = (
    'joint_proj, targets["joint_img"][:, :, :2], meta_info["{mask}"]\n'
    "                ),\n"
    '                "joint_cam": self.coord_loss(\n'
    '                    joint_cam, targets["joint_cam"], meta_info["joint_valid"] * is_3d'
)
MUTATIONS: tuple[Mutation, ...] = (
    # -- training losses (main/joint_models.py, main/face_model.py, main/model_base.py)
    Mutation(
        "proj_mask_valid",
        "main/joint_models.py",
        JOINT_PROJ.format(mask="joint_trunc"),
        JOINT_PROJ.format(mask="joint_valid"),
        "body/hand joint_proj loss masked by joint_valid instead of joint_trunc",
    ),
    Mutation(
        "part_img_mask_trunc",
        "main/joint_models.py",
        P_TRUNC,
        'self._reduce(meta_info["joint_trunc"])',
        "<part>_joint_img loss masked by joint_trunc instead of <part>_joint_trunc",
    ),
    Mutation(
        "part_cam_target",
        "main/joint_models.py",
        'joint_cam, targets[f"{p}_joint_cam"]',
        'joint_cam, targets["joint_cam"]',
        "<part>_joint_cam loss compared with joint_cam instead of <part>_joint_cam",
    ),
    Mutation(
        "joint_cam_no_is3d",
        "main/joint_models.py",
        'targets["joint_cam"], meta_info["joint_valid"] * is_3d[:, None, None]',
        'targets["joint_cam"], meta_info["joint_valid"]',
        "body/hand joint_cam loss not masked by is_3D",
    ),
    Mutation(
        "joint_img_no_is3d",
        "main/joint_models.py",
        'self._reduce(meta_info["joint_trunc"]),\n                    is_3d,\n',
        'self._reduce(meta_info["joint_trunc"]),\n',
        "2.5D joint_img loss keeps the depth term of 2D samples",
    ),
    Mutation(
        "face_cam_mask",
        "main/face_model.py",
        'targets["flame_joint_cam"], meta_info["flame_joint_valid"]',
        'targets["flame_joint_cam"], meta_info["joint_valid"]',
        "flame_joint_cam loss masked by joint_valid instead of flame_joint_valid",
    ),
    Mutation(
        "face_jaw_valid",
        "main/face_model.py",
        'meta_info["flame_jaw_pose_valid"][:, None]',
        'meta_info["flame_root_pose_valid"][:, None]',
        "flame_jaw_pose loss masked by the root pose validity",
    ),
    Mutation(
        "root_joint_1",
        "main/model_base.py",
        "return joint - joint[:, root_idx, None, :]",
        "return joint - joint[:, 1, None, :]",
        "root-relative joints taken relative to joint 1",
    ),
    Mutation(
        "rotation_not_detached",
        "main/joint_models.py",
        "self.rotation_net(img_feat, joint_img.detach())",
        "self.rotation_net(img_feat, joint_img)",
        "PositionNet joints enter the RotationNet without detach",
    ),
    # -- networks and losses (common/nets/)
    Mutation(
        "coord_loss_z_from_1",
        "common/nets/loss.py",
        "loss_z = loss[:, :, 2:] * is_3D",
        "loss_z = loss[:, :, 1:] * is_3D",
        "CoordLoss removes y as well as z of 2D samples (shape change caught or not)",
    ),
    Mutation(
        "face_jaw_slice",
        "common/nets/module.py",
        "jaw_pose = pose_param[:, 6:]",
        "jaw_pose = pose_param[:, :6]",
        "FaceRegressor jaw rotation read from the root's outputs",
    ),
    Mutation(
        "feat_without_coords",
        "common/nets/module.py",
        "feat = torch.cat((joint_feat, joint_coord_img), 2)",
        "feat = torch.cat((joint_feat, joint_coord_img * 0), 2)",
        "RotationNet ignores the joint coordinates in its feature vector",
    ),
    Mutation(
        "global_feat_max",
        "common/nets/module.py",
        "global_feat = img_feat.mean((2, 3))  # (B, C)\n        shape_param",
        "global_feat = img_feat.amax((2, 3))  # (B, C)\n        shape_param",
        "RotationNet global feature max-pooled instead of averaged",
    ),
    # -- alignment and metrics
    Mutation(
        "no_reflection_fix",
        "common/utils/transforms.py",
        "        s[-1] = -s[-1]\n",
        "",
        "similarity alignment keeps +s3 in the scale of a reflection case",
    ),
    Mutation(
        "f_score_le",
        "data/metrics.py",
        "recall = float(np.mean(d_gt_to_pred < threshold))",
        "recall = float(np.mean(d_gt_to_pred <= threshold))",
        "F-score recall counts distances equal to the threshold",
    ),
    Mutation(
        "freihand_scale_max",
        "data/metrics.py",
        "* sigma.sum() * s_gt",
        "* sigma.max() * s_gt",
        "FreiHAND alignment scale from the largest singular value only",
    ),
    Mutation(
        "pck_lt",
        "data/metrics.py",
        "(distances[None, :, :] <= thresholds[:, None, None])",
        "(distances[None, :, :] < thresholds[:, None, None])",
        "PCK counts only distances strictly below the threshold",
    ),
    Mutation(
        "mean_distance_squared",
        "data/metrics.py",
        "np.mean(np.sqrt(np.sum((pred - gt) ** 2, axis=1)))",
        "np.mean(np.sum((pred - gt) ** 2, axis=1))",
        "mean joint error without the square root",
    ),
    # -- preprocessing
    Mutation(
        "flip_centre_off_by_one",
        "common/utils/patch.py",
        "c_x = img_width - c_x - 1",
        "c_x = img_width - c_x",
        "flipped box centre at W - x instead of W - 1 - x",
    ),
    Mutation(
        "flip_joint_off_by_one",
        "common/utils/joint_targets.py",
        "joint_img[:, 0] = img_width - 1 - joint_img[:, 0]",
        "joint_img[:, 0] = img_width - joint_img[:, 0]",
        "flipped joints at W - x instead of W - 1 - x",
    ),
    Mutation(
        "aspect_inverted",
        "common/utils/bbox.py",
        "aspect_ratio = input_img_shape[1] / input_img_shape[0]",
        "aspect_ratio = input_img_shape[0] / input_img_shape[1]",
        "box grown to H/W instead of W/H",
    ),
    Mutation(
        "flip_prob_lt",
        "common/utils/augmentation.py",
        "do_flip = random.random() <= FLIP_PROB",
        "do_flip = random.random() < FLIP_PROB",
        "flip gate strict (a measure-zero change: expected to survive)",
    ),
)


def tracked_files(root: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [p for p in out.split("\0") if p]


def copy_tree(root: str, dest: str) -> None:
    """Copy the tracked and the untracked, not ignored files (as they are now) to ``dest``."""
    for rel in tracked_files(root):
        src = os.path.join(root, rel)
        if not os.path.isfile(src):
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target)


def check_mutation(root: str, mutation: Mutation) -> str:
    """The mutated text of ``mutation.path``; raises ValueError when ``old`` is not unique."""
    with open(os.path.join(root, mutation.path), encoding="utf-8") as f:
        text = f.read()
    count = text.count(mutation.old)
    if count != 1:
        raise ValueError(
            f"mutation {mutation.name}: its text occurs {count} times in {mutation.path}"
        )
    return text.replace(mutation.old, mutation.new)


def pytest_command(tests: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]


def run_pytest(copy: str, tests: list[str], timeout: float) -> tuple[int | None, str]:
    """(pytest's exit code or None on a time-out, its last lines) on the unmutated copy."""
    try:
        proc = subprocess.run(
            pytest_command(tests), cwd=copy, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None, "time-out"
    return proc.returncode, "\n".join(proc.stdout.splitlines()[-15:])


def run_one(
    copy: str, mutation: Mutation, tests: list[str], timeout: float
) -> tuple[str, str, float]:
    """Plant ``mutation`` in ``copy``, run the tests, restore the file.

    Returns:
        (outcome, first failing test or '', seconds); outcome 'killed', 'survived', 'timeout'
        or 'error' (pytest itself could not run: bad --tests, no test collected).
    """
    path = os.path.join(copy, mutation.path)
    with open(path, encoding="utf-8") as f:
        original = f.read()
    mutated = check_mutation(copy, mutation)
    with open(path, "w", encoding="utf-8") as f:
        f.write(mutated)
    cmd = pytest_command(tests)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=copy, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", "", time.perf_counter() - start
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)
    seconds = time.perf_counter() - start
    if proc.returncode == 0:
        return "survived", "", seconds
    if proc.returncode not in (1, 2):  # 1: a test failed, 2: collection failed (import error)
        return "error", f"pytest exit {proc.returncode}: {proc.stdout.strip()[-200:]}", seconds
    failed = [
        line.split(" ", 2)[1]
        for line in proc.stdout.splitlines()
        if line.startswith(("FAILED ", "ERROR "))
    ]
    return "killed", failed[0] if failed else f"exit {proc.returncode}", seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations")
    parser.add_argument(
        "--tests", nargs="+", default=["tests"], help="pytest targets (default: tests)"
    )
    parser.add_argument(
        "--ignore", nargs="+", default=[], metavar="PATH", help="test files pytest leaves out"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per mutation")
    parser.add_argument("--list", action="store_true", help="print the mutations and exit")
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)

    tests = [*args.tests, *(f"--ignore={path}" for path in args.ignore)]
    names = {m.name for m in MUTATIONS}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        print(f"error: unknown mutation(s) {unknown}; valid: {sorted(names)}", file=sys.stderr)
        return 2
    selected = [m for m in MUTATIONS if not args.only or m.name in args.only]
    try:
        for mutation in selected:
            check_mutation(ROOT, mutation)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.list:
        for m in selected:
            print(f"{m.name:24s} {m.path:32s} {m.what}")
        return 0

    # SIGTERM unwinds like Ctrl-C, so the copy of the tree is deleted either way.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    rows = [
        "| mutation | file | planted bug | outcome | caught by | s |",
        "|---|---|---|---|---|---|",
    ]
    survivors = errors = 0
    with tempfile.TemporaryDirectory(prefix="mutation_check_") as copy:
        copy_tree(ROOT, copy)
        baseline, tail = run_pytest(copy, tests, args.timeout)
        if baseline != 0:
            print(
                f"error: the unmutated tests do not pass in the copy (pytest exit {baseline}):\n"
                f"{tail}",
                file=sys.stderr,
            )
            return 2
        for mutation in selected:
            outcome, test, seconds = run_one(copy, mutation, tests, args.timeout)
            survivors += outcome == "survived"
            errors += outcome == "error"
            cells = (mutation.name, mutation.path, mutation.what, outcome, test, f"{seconds:.0f}")
            row = "| " + " | ".join(cells) + " |"
            rows.append(row)
            print(row, flush=True)
    table = "\n".join(rows)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(table + "\n")
    killed = len(selected) - survivors - errors
    print(f"\n{killed} killed, {survivors} survived, {errors} could not run")
    return 2 if errors else 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
