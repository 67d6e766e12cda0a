"""The learning benchmark's report: the Markdown table of every (set, prediction) and the goals."""

from __future__ import annotations

from typing import Any, Sequence

from tool.learn_sets import METRICS, SETS


def results_table(
    results: dict[str, dict[str, dict[str, float]]], metrics: Sequence[tuple[str, str]] = METRICS
) -> str:
    """Markdown table: one row per (set, prediction), one column per metric (mm, or %)."""
    lines = ["| renders | prediction | " + " | ".join(label for _, label in metrics) + " |",
             "|---|---|" + "---:|" * len(metrics)]  # fmt: skip
    for set_key, set_label in SETS:
        for pred in ("untrained", "mean pose", "trained"):
            values = results[set_key][pred]
            cells = " | ".join(f"{values[key]:.1f}" for key, _ in metrics)
            lines.append(f"| {set_label} | {pred} | {cells} |")
    return "\n".join(lines)


def checks(results: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """The two goals as ratios of PA-MPJPE (trained / baseline; goal <= 0.5)."""
    out = {}
    for name, set_key, base in (("train_vs_untrained", "train", "untrained"),
                                ("heldout_vs_mean_pose", "heldout", "mean pose")):  # fmt: skip
        ratio = results[set_key]["trained"]["pa_mpjpe"] / results[set_key][base]["pa_mpjpe"]
        out[name] = {"ratio": round(ratio, 3), "goal": 0.5, "met": bool(ratio <= 0.5)}
    return out


def format_report(report: dict[str, Any]) -> str:
    s, run, man = report["settings"], report["training"], report["renders"]
    head = (
        f"{s.get('parts', 'body')}, device {s['gpu']}; {man['settings']['train_renders']} "
        f"training renders (listed {man['repeats']}x), {man['settings']['heldout_renders']} "
        "held-out, "
        f"{min(s['train_eval'], s['train_renders'])} training renders evaluated; "
        f"{man['size_mb']} MB; trained {run['iterations']} iterations of batch "
        f"{run['batch_size']} in {run['seconds']:.0f} s ({run['epochs']} epochs, "
        f"{run['cpu_seconds']:.0f} CPU s, load average {run['load_average']})"
    )
    metrics = [tuple(m) for m in report.get("metrics", METRICS)]  # (key, label) columns
    lines = [head, "", results_table(report["results"], metrics), ""]
    for name, c in report["checks"].items():
        lines.append(f"{name}: PA-MPJPE ratio {c['ratio']:.3f} (goal <= {c['goal']}): "
                     f"{'met' if c['met'] else 'not met'}")  # fmt: skip
    return "\n".join(lines)
