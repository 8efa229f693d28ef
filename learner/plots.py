"""PNG plots of an evaluation: confusion matrix, reliability diagram, precision–recall curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(path: Path, matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> None:
    plt = _pyplot()
    size = max(4.0, 0.55 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size), dpi=110)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if count > peak / 2 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=8)
    ax.set_title("confusion matrix (test split)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_reliability(
    path: Path, before: dict, after: dict, ece_before: float, ece_after: float
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for curve, name, ece in (
        (before, "uncalibrated", ece_before),
        (after, "temperature-scaled", ece_after),
    ):
        points = [
            (c, a)
            for c, a, n in zip(curve["confidence"], curve["accuracy"], curve["count"], strict=True)
            if n > 0
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    ax.set_title("reliability (test split, 15 bins)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_precision_recall(path: Path, curves: dict[str, dict]) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for name, curve in curves.items():
        ax.plot(
            curve["recall"],
            curve["precision"],
            label=f"{name} (AP {curve['average_precision']:.2f})",
        )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("precision–recall, one class vs rest (test split)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
