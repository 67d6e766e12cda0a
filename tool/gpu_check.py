"""Everything a GPU must confirm, in one run: ``python tool/gpu_check.py [--out DIR]``.

Sections (each written to ``DIR/gpu_check.md`` and ``DIR/gpu_check.json`` as soon as it ends, so a
run cut short keeps what it finished):

* ``environment``: torch, CUDA device, bfloat16 support.
* ``cuda vs cpu``: test-mode outputs of every part on CUDA against the CPU, float32 with TF32
  switched off (largest absolute difference, limit 1e-4).
* ``train.py --gpu 0`` and ``test.py``: a few DataParallel iterations on fixtures, then the test.
* ``torchrun``: the same training under DDP (one process per visible GPU, at most 2).
* ``train step``: fp32, fp32 from jittered weights (1e-6), bf16, channels_last, bf16+channels_last
  and torch.compile on one fixed batch at a realistic batch size: images/s, ratio to fp32, and
  the total loss after N iterations against fp32, judged against the fp32-vs-jittered-fp32 gap
  of the same run (the drift of training itself). Without bfloat16 support, ``--amp bf16`` must
  be refused with a clear message.
* ``peak memory``: allocated GPU memory of one fp32 and one bf16 step per batch size.
* ``loop``: DataLoader workers feeding the fp32 step, ratio to the pure step.
* ``test-mode crops/s`` per batch size.
* ``render``: the body demo rendered headless (EGL on CUDA, OSMesa on CPU).

``--cpu_smoke`` runs the CPU-possible paths quickly (body only, tiny batches, no compile, OSMesa)
so that CI keeps this tool working; it measures nothing worth reporting. Exit code 1 when a
section failed.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from typing import Callable, Sequence  # noqa: E402

import torch  # noqa: E402

from tool.gpu_report import FAIL, INFO, PASS, SKIP, Report, Section  # noqa: E402
from tool.gpu_sections import SECTIONS, CheckContext  # noqa: E402

logger = logging.getLogger("gpu_check")


def environment_facts(device: str) -> dict[str, str]:
    facts = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
    }
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        facts["gpu"] = (
            f"{props.name}, {props.total_memory / 2**30:.0f} GiB, {torch.cuda.device_count()} visible"
        )
        facts["bf16 supported"] = str(torch.cuda.is_bf16_supported())
    return facts


def run_sections(
    report: Report,
    sections: Sequence[tuple[str, Callable[[CheckContext], Section]]],
    ctx: CheckContext,
    budget_s: float,
) -> None:
    """Run each section, recording failures as FAIL and skipping what the time budget excludes."""
    for name, check in sections:
        if time.time() - report.start > budget_s:
            report.add(Section(name, SKIP, f"time budget of {budget_s:.0f} s spent"))
            continue
        logger.info("section %s", name)
        start = time.time()
        try:
            section = check(ctx)
        except Exception as err:  # noqa: BLE001 - every failure lands in the report
            section = Section(name, FAIL, f"{type(err).__name__}: {err}")
        section.name = name
        section.seconds = time.time() - start
        report.add(section)
        logger.info("%s: %s - %s", name, section.status, section.summary.splitlines()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="output/gpu_check", help="report folder")
    parser.add_argument("--cpu_smoke", action="store_true", help="quick CPU run of every path")
    parser.add_argument("--budget_s", type=float, default=300.0, help="stop starting sections")
    parser.add_argument("--batch_size", type=int, default=32, help="train step batch on CUDA")
    parser.add_argument("--iters", type=int, default=50, help="train step iterations on CUDA")
    parser.add_argument("--workers", type=int, default=8, help="loader workers of the loop")
    parser.add_argument("--only", nargs="+", help="run only these sections")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    cuda = torch.cuda.is_available() and not args.cpu_smoke
    if not cuda and not args.cpu_smoke:
        print("gpu_check: no CUDA device; use --cpu_smoke for the CPU paths", file=sys.stderr)
        return 2
    names = [name for name, _ in SECTIONS]
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        print(f"gpu_check: unknown section(s) {unknown}; valid: {names}", file=sys.stderr)
        return 2
    device = "cuda" if cuda else "cpu"
    title = "Pose2Pose GPU check" + (
        " (CPU smoke run: no figure here is a GPU figure)" if not cuda else ""
    )
    report = Report(args.out, title, environment_facts(device))
    selected = [(n, c) for n, c in SECTIONS if not args.only or n in args.only]
    with CheckContext.create(device, args) as ctx:
        run_sections(report, selected, ctx, args.budget_s)
    report.write()
    failed = report.failed
    counts = {s: sum(x.status == s for x in report.sections) for s in (PASS, FAIL, INFO, SKIP)}
    print(f"gpu_check: {counts}; report {report.md_path}")
    if failed:
        print(f"gpu_check: failed sections: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
