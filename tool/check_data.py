"""Preflight scan of the data sets of a run, before training or testing on them.

``python tool/check_data.py --parts body [--trainset_3d ... --trainset_2d ... --testset ...]
--data_dir D --human_model_path M [--workers N] [--json report.json]``

The flags and presets are those of ``main/train.py`` and ``main/test.py``: the scan loads every
training set (split 'train') and the test set (split 'test') with the dataset's own record
loader, then checks the records it keeps (:mod:`tool.data_checks`): every image exists and
decodes completely (each file once, in ``--workers`` processes), boxes, keypoints and fits are
finite, fits and cameras are present; and the part's human model files and joint regressors.
Every defect is one line naming the file (and entry); any defect makes the exit code 1. Records
that the loader drops by the original's rules are counted per reason in the summary table; its
``kept`` column is ``len(dataset)``.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from typing import Any, Iterator, Sequence  # noqa: E402

from tqdm import tqdm  # noqa: E402

from main.config import Config, ConfigError  # noqa: E402
from main.config_cli import add_common_args, add_data_args, config_from_args  # noqa: E402
from tool.data_checks import (  # noqa: E402
    Defect,
    check_images,
    check_model_files,
    entry_name,
    init_worker,
    json_reads,
    record_problems,
)

logger = logging.getLogger("check_data")

CHUNK = 64  # images per task handed to a worker
LOAD_ERRORS = (ValueError, KeyError, IndexError, TypeError, OSError)


def scan_jobs(cfg: Config) -> list[tuple[str, str]]:
    """``(dataset, split)`` of a run: the training sets ('train'), then the test set ('test')."""
    jobs = [(name, "train") for name in (*cfg.trainset_3d, *cfg.trainset_2d)]
    jobs.append((cfg.testset, "test"))
    return list(dict.fromkeys(jobs))


def _culprit(err: BaseException, files: Sequence[str], root: str) -> str:
    """The file a loader error belongs to: the JSON file being parsed, a missing file, else the
    last annotation file read (or the dataset folder)."""
    if isinstance(err, json.JSONDecodeError) and files:
        return files[-1]
    if isinstance(err, OSError) and err.filename:
        return str(err.filename)
    return files[-1] if files else root


def _box_defects(ds: Any, name: str, split: str, files: Sequence[str]) -> list[Defect]:
    """The boxes with a NaN/inf coordinate that the loader's box screen dropped."""
    screen = ds.box_screen
    count = screen.counts.get("non-finite", 0)
    out = []
    for entry in screen.entries.get("non-finite", []):
        file = next((f for f in files if osp.basename(f) in entry), files[0] if files else "")
        problem = "box with a NaN or infinite coordinate (the loader drops it)"
        out.append(Defect(name, split, file or ds.root_dir, entry, problem))
    hidden = count - len(out)
    if hidden > 0:
        out.append(Defect(name, split, out[-1].file, "", f"{hidden} more boxes with a NaN or "
                          "infinite coordinate (the loader drops them)"))  # fmt: skip
    return out


def load_dataset(cfg: Config, name: str, split: str) -> tuple[Any, list[Defect]]:
    """Construct ``name`` for ``split`` with its own loader; returns (dataset or None, defects)."""
    import torchvision.transforms as T

    from data.registry import get_dataset_class

    cls = get_dataset_class(name)
    root = osp.join(cfg.data_dir, name)
    with json_reads() as files:
        try:
            ds = cls(cfg, T.ToTensor(), split)
        except LOAD_ERRORS as err:
            problem = f"cannot load the records: {type(err).__name__}: {err}"
            return None, [Defect(name, split, _culprit(err, files, root), "", problem)]
    return ds, _box_defects(ds, name, split, files)


def _image_results(
    pool: Any, paths: list[str], desc: str, progress: bool
) -> Iterator[tuple[list[tuple], float]]:
    chunks = [paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK)]
    results = (
        map(check_images, chunks) if pool is None else pool.imap_unordered(check_images, chunks)
    )
    with tqdm(total=len(paths), desc=desc, unit="img", disable=not progress,
              file=sys.stderr) as bar:  # fmt: skip
        for result in results:
            bar.update(len(result[0]))
            yield result


def scan_dataset(
    ds: Any, name: str, split: str, pool: Any, progress: bool
) -> tuple[list[Defect], int, float]:
    """Check the kept records of ``ds`` and their images; returns (defects, images, busy s)."""
    defects = []
    first_use: dict[str, tuple[str, tuple]] = {}  # image -> (entry of its first record, shape)
    for index, record in enumerate(ds.datalist):
        entry = entry_name(record, index)
        path = record.get("img_path", ds.root_dir)
        defects += [Defect(name, split, path, entry, p) for p in record_problems(record)]
        if isinstance(record.get("img_path"), str):
            first_use.setdefault(path, (entry, tuple(record.get("img_shape", ()))))
    busy = 0.0
    for results, seconds in _image_results(pool, list(first_use), f"{name} {split}", progress):
        busy += seconds
        for path, problem, shape in results:
            entry, annotated = first_use[path]
            if problem is not None:
                defects.append(Defect(name, split, path, entry, problem))
            elif annotated and shape != tuple(int(v) for v in annotated):
                problem = (f"image is {shape[0]}x{shape[1]} (HxW), the annotation says "
                           f"{annotated[0]}x{annotated[1]}")  # fmt: skip
                defects.append(Defect(name, split, path, entry, problem))
    return defects, len(first_use), busy


def make_pool(workers: int) -> Any:
    """``workers`` decoding processes, or None for 1 (decode in this process).

    The workers are forked from a fresh server process that has imported the decoder (torch
    included) once: no fork of this process, which holds torch's threads, and no import per
    worker.
    """
    if workers <= 1:
        return None
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tool.data_checks"])
    return ctx.Pool(workers, initializer=init_worker)


def peak_memory_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest finished child, MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"main": round(own, 1), "largest_worker": round(children, 1)}


def scan(
    cfg: Config, workers: int = 1, progress: bool = True, check_models: bool = True
) -> dict[str, Any]:
    """Run the scan of ``cfg``'s data sets; returns the report (see :func:`write_report`)."""
    start = time.perf_counter()
    defects: list[Defect] = []
    warnings: list[str] = []
    if check_models:
        defects, warnings = check_model_files(cfg.parts, cfg.human_model_path)
    rows = []
    images = 0
    busy = load_s = check_s = 0.0
    pool = make_pool(workers)
    pool_s = time.perf_counter() - start
    try:
        for name, split in scan_jobs(cfg):
            tic = time.perf_counter()
            ds, found = load_dataset(cfg, name, split)
            load_s += time.perf_counter() - tic
            row: dict[str, Any] = {"dataset": name, "split": split, "kept": None, "dropped": {}}
            if ds is not None:
                tic = time.perf_counter()
                more, n_images, seconds = scan_dataset(ds, name, split, pool, progress)
                check_s += time.perf_counter() - tic
                found += more
                images += n_images
                busy += seconds
                row.update(kept=len(ds), dropped=dict(ds.drop_counts), images=n_images)
            row["defects"] = len(found)
            rows.append(row)
            defects += found
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    wall = time.perf_counter() - start
    return {
        "parts": cfg.parts,
        "data_dir": cfg.data_dir,
        "human_model_path": cfg.human_model_path,
        "datasets": rows,
        "defects": [d.as_dict() for d in defects],
        "defect_lines": [d.line() for d in defects],
        "warnings": warnings,
        "images": images,
        "workers": workers,
        "wall_s": round(wall, 3),  # everything, worker start included
        "pool_start_s": round(pool_s, 3),
        "load_s": round(load_s, 3),  # the datasets' record loaders
        "check_s": round(check_s, 3),  # record checks and image decoding
        "images_per_s": round(images / check_s, 1) if check_s > 0 else None,
        # Decoding time measured inside the workers (their busy time).
        "images_per_s_per_worker": round(images / busy, 1) if busy > 0 else None,
        "peak_memory_mb": peak_memory_mb(),
    }


def summary_table(report: dict[str, Any]) -> str:
    """The per-dataset table: dataset, split, kept, images, defects, dropped by reason."""
    lines = [
        f"{'dataset':<14}{'split':<7}{'kept':>7}{'images':>8}{'defects':>9}  dropped by reason"
    ]
    for row in report["datasets"]:
        kept = "-" if row["kept"] is None else row["kept"]
        dropped = ", ".join(f"{k} {v}" for k, v in row["dropped"].items()) or "none"
        if row["kept"] is None:
            dropped = "records not loaded (see the defect)"
        lines.append(f"{row['dataset']:<14}{row['split']:<7}{kept:>7}{row.get('images', 0):>8}"
                     f"{row['defects']:>9}  {dropped}")  # fmt: skip
    return "\n".join(lines)


def write_report(report: dict[str, Any], path: str) -> None:
    """Write the report as JSON: ``datasets`` (the table rows), ``defects`` (dataset, split,
    file, entry, problem), ``warnings``, image count, speed and peak memory."""
    with open(path, "w") as f:
        json.dump(report, f, indent=1)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    add_data_args(parser)
    parser.add_argument(
        "--workers", type=int, default=min(8, os.cpu_count() or 1), help="image decoding processes"
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="write the report here")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers: expected a positive integer, got {args.workers}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scan; returns the exit code (0 clean, 1 defects, 2 bad arguments)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        cfg = config_from_args(args, cuda_count=0)
    except ConfigError as err:
        print(f"check_data: {err}", file=sys.stderr)
        return 2
    report = scan(cfg, workers=args.workers, progress=not args.no_progress)
    for warning in report["warnings"]:
        logger.warning("!!! %s", warning)
    print(summary_table(report))
    for line in report["defect_lines"]:
        print(f"DEFECT {line}")
    print(f"{len(report['defects'])} defect(s); {report['images']} images checked in "
          f"{report['wall_s']:.1f} s with {report['workers']} worker(s)")  # fmt: skip
    if args.json:
        write_report(report, args.json)
    return 1 if report["defects"] else 0


if __name__ == "__main__":
    sys.exit(main())
