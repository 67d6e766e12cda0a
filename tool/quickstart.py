"""One-command quick start on the built-in stand-ins: ``python tool/quickstart.py``.

Makes stand-in human model files and small fixture data sets in each dataset's real format, trains
each available part for a few iterations on CPU with the user commands (``main/train.py``),
tests the snapshot (``main/test.py``), runs the demos, and prints where everything went. No
downloads, no licensed files; everything lands under ``output/quickstart/``.
"""

from __future__ import annotations

import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

# Per part: training sets (3D, 2D) and test set, the presets of main/config.py.
PARTS = {
    "body": dict(trainset_3d="Human36M", trainset_2d="MSCOCO,MPII", testset="PW3D"),
    "hand": dict(trainset_3d="FreiHAND,InterHand26M", trainset_2d="MSCOCO", testset="FreiHAND"),
    "face": dict(trainset_3d="none", trainset_2d="FFHQ,MSCOCO", testset="MSCOCO"),
}


def _run(cmd: list[str], log_path: str) -> None:
    """Run a user command, echo it, keep its output in ``log_path``; stop on failure."""
    shown = [osp.relpath(c, ROOT) if c.startswith(ROOT + osp.sep) else c for c in cmd]
    print("$ python " + " ".join(shown[1:]), flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    with open(log_path) as log:
        tail = log.read().splitlines()[-12:]
    print("\n".join("    " + line for line in tail if line.strip()))
    if proc.returncode != 0:
        sys.exit(f"quick start: command failed (exit {proc.returncode}); full output: {log_path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=osp.join(ROOT, "output", "quickstart"))
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--iterations", type=int, default=4, help="training iterations per part")
    parser.add_argument("--batch_size", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"--parts: {', '.join(unknown)} not available; choose from {', '.join(PARTS)}")

    from tool.make_fixtures import make_fixtures
    from tool.standin import make_standin_models

    out = osp.abspath(args.output)
    models = osp.join(out, "human_model_files")
    data = osp.join(out, "data")
    start = time.time()
    for folder in (models, data):
        shutil.rmtree(folder, ignore_errors=True)
    print(f"stand-in human model files -> {models}")
    make_standin_models(models)
    names = sorted({n for p in parts for k in ("trainset_3d", "trainset_2d", "testset")
                    for n in PARTS[p][k].split(",") if n != "none"})  # fmt: skip
    print(f"fixture data sets ({', '.join(names)}) -> {data}")
    make_fixtures(data, models, names)

    py = sys.executable
    for part in parts:
        preset = PARTS[part]
        part_out = osp.join(out, part)
        shutil.rmtree(part_out, ignore_errors=True)
        common = [
            "--parts", part, "--gpu", "cpu", "--human_model_path", models, "--data_dir", data,
            "--output_dir", part_out, "--trainset_3d", preset["trainset_3d"],
            "--trainset_2d", preset["trainset_2d"], "--testset", preset["testset"],
            "--num_thread", "0",
        ]  # fmt: skip
        print(f"\n== {part}: train {args.iterations} iterations on CPU, then test")
        _run(
            [py, osp.join(ROOT, "main", "train.py"), *common, "--no_imagenet", "--end_epoch", "1",
             "--train_batch_size", str(args.batch_size),
             "--max_itr_per_epoch", str(args.iterations), "--seed", "0"],
            osp.join(out, f"{part}_train.txt"),
        )  # fmt: skip
        _run(
            [py, osp.join(ROOT, "main", "test.py"), *common, "--test_epoch", "0",
             "--test_batch_size", str(args.batch_size)],
            osp.join(out, f"{part}_test.txt"),
        )  # fmt: skip
        demo = osp.join(ROOT, "demo", part, "demo.py")
        if osp.isfile(demo):
            demo_out = osp.join(part_out, "demo")
            _run(
                [
                    py,
                    demo,
                    "--gpu",
                    "cpu",
                    "--human_model_path",
                    models,
                    "--output_dir",
                    demo_out,
                    "--snapshot",
                    osp.join(part_out, "model_dump", "snapshot_0.pth.tar"),
                ],
                osp.join(out, f"{part}_demo.txt"),
            )
            print(f"    demo outputs: {demo_out}")
        print(f"    snapshot: {osp.join(part_out, 'model_dump', 'snapshot_0.pth.tar')}")
        print(f"    logs:     {osp.join(part_out, 'log')}")
    print(f"\nquick start done in {time.time() - start:.0f} s; everything is under {out}")


if __name__ == "__main__":
    main()
