"""Does active learning save human labels? Simulated annotators, each strategy against random.

Per seed: a stratified held-out test set; a seed set of 5 labels per class; then rounds that each
add a batch chosen by a strategy (10 % of every batch uniform random, the audit stream), a model
trained from scratch on the labels so far, and its test macro-F1. The same network trained on
the whole pool gives the full-data score. Prints learning curves (mean ± std over seeds), the
area under them, the labels needed to reach 95 % of the full-data score, cold start against a
random seed set, and the true precision and coverage of pseudo-labels; writes a PNG.

    .venv/bin/python benchmarks/active_learning.py --dataset piped
    .venv/bin/python benchmarks/active_learning.py --data DIR --modality crop --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import textwrap
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from al_simulation import (  # noqa: E402
    DEFAULT_DATA,
    DEFAULT_SCHEDULES,
    LABEL_FROM,
    PRESETS,
    Curve,
    Dataset,
    LinearLearner,
    NetworkLearner,
    Protocol,
    Schedule,
    SeedStart,
    Simulation,
    load_dataset,
    preset_dataset,
)

from learner.strategies import DEFAULT_STRATEGY, STRATEGIES  # noqa: E402

OUT = Path("/tmp/loupe-bench/active-learning")
ROUNDS = {"default": 10, "large": 20}

_SIMULATION: Simulation | None = None
"""Set in the parent before the workers fork; they inherit it (and its arrays) for free."""


# ---------------------------------------------------------------------------- running


def _worker_init(threads: int) -> None:
    import ctypes

    import torch

    torch.set_num_threads(threads)
    # glibc: keep large buffers mapped instead of re-faulting them every batch (see PERF.md).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-4, 0)  # M_MMAP_MAX


def _seed_start(seed: int) -> SeedStart:
    return _SIMULATION.seed_start(seed)


def _curve(strategy: str, base: SeedStart) -> Curve:
    return _SIMULATION.curve(strategy, base)


def run(simulation: Simulation, seeds: int, *, workers: int, threads: int, progress: bool):
    """Every seed's start, then every (seed, strategy) curve, on ``workers`` processes."""
    from tqdm import tqdm

    global _SIMULATION
    _SIMULATION = simulation
    strategies = simulation.protocol.strategies
    bar = tqdm(
        total=seeds * (1 + len(strategies)),
        unit="run",
        desc="simulate",
        disable=not progress,
        file=sys.stderr,
    )
    starts: dict[int, SeedStart] = {}
    curves: list[Curve] = []
    if workers <= 1:
        _worker_init(threads)
        for seed in range(seeds):
            starts[seed] = _seed_start(seed)
            bar.update(1)
            for strategy in strategies:
                curves.append(_curve(strategy, starts[seed]))
                bar.update(1)
        bar.close()
        return starts, curves
    with ProcessPoolExecutor(
        workers, mp_context=get_context("fork"), initializer=_worker_init, initargs=(threads,)
    ) as pool:
        pending: set[Future] = {pool.submit(_seed_start, seed) for seed in range(seeds)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                bar.update(1)
                if isinstance(result, SeedStart):
                    starts[result.seed] = result
                    pending |= {pool.submit(_curve, s, result) for s in strategies}
                else:
                    curves.append(result)
    bar.close()
    return starts, curves


# ---------------------------------------------------------------------------- summaries


def _mean(values) -> float:  # type: ignore[no-untyped-def]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _std(values) -> float:  # type: ignore[no-untyped-def]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.std(finite)) if finite else math.nan


def summarise(starts: dict[int, SeedStart], curves: list[Curve], protocol: Protocol) -> dict:
    from learner.agreement import labels_to_reach, learning_curve_area

    full = {seed: s.full_f1 for seed, s in starts.items()}
    per_seed: dict[str, dict[int, Curve]] = {}
    for c in curves:
        per_seed.setdefault(c.strategy, {})[c.seed] = c
    aulc = {
        name: {seed: learning_curve_area(c.labels, c.f1) for seed, c in runs.items()}
        for name, runs in per_seed.items()
    }
    strategies: dict[str, dict] = {}
    for name in protocol.strategies:
        runs = per_seed[name]
        reach = {s: labels_to_reach(c.labels, c.f1, 0.95 * full[s]) for s, c in runs.items()}
        # A seed that never reaches the target counts as the whole budget: a lower bound.
        censored = [
            r if r is not None else c.labels[-1]
            for r, c in zip(reach.values(), runs.values(), strict=True)
        ]
        reached = [r for r in reach.values() if r is not None]
        f1 = np.array([runs[s].f1 for s in sorted(runs)])
        entry = {
            "aulc": _mean(aulc[name].values()),
            "aulc_std": _std(aulc[name].values()),
            "labels_to_95": _mean(censored),
            "labels_to_95_reached": len(reached),
            "labels_to_95_mean_of_reached": _mean(reached),
            "final_f1": float(f1[:, -1].mean()),
            "final_f1_std": float(f1[:, -1].std()),
            "curve": {
                "labels": runs[min(runs)].labels,
                "mean": f1.mean(axis=0).tolist(),
                "std": f1.std(axis=0).tolist(),
                "per_seed": f1.tolist(),
            },
            "audit_labels": _mean(c.audit for c in runs.values()),
            "pseudo_labels": _pseudo_summary([c.pseudo for c in runs.values()]),
            "pseudo_labels_large_audit": _pseudo_summary(
                [c.pseudo_large_audit for c in runs.values()]
            ),
            "seconds_per_seed": _mean(c.seconds for c in runs.values()),
        }
        if "random" in aulc and name != "random":
            diff = [aulc[name][s] - aulc["random"][s] for s in runs if s in aulc["random"]]
            entry |= {
                "aulc_minus_random": _mean(diff),
                "aulc_minus_random_std": _std(diff),
                "seeds_better_than_random": int(sum(d > 0 for d in diff)),
            }
        strategies[name] = entry
    values = list(starts.values())
    strategies["cold-start"] = {
        "aulc": None,
        "labels_to_95": None,
        "note": "first batch only (no model yet): judged on the seed set, against a uniform "
        "random seed set of the same size; both are label-blind",
        "seed_set_labels": len(values[0].start),
        "seed_set_f1": _mean(s.cold_start_f1 for s in values),
        "seed_set_f1_std": _std(s.cold_start_f1 for s in values),
        "random_seed_set_f1": _mean(s.uniform_start_f1 for s in values),
        "random_seed_set_f1_std": _std(s.uniform_start_f1 for s in values),
        "stratified_seed_set_f1": _mean(s.start_f1 for s in values),
        "seeds_better_than_random": int(sum(s.cold_start_f1 > s.uniform_start_f1 for s in values)),
        "classes_covered": _mean(s.cold_start_classes for s in values),
        "random_classes_covered": _mean(s.uniform_start_classes for s in values),
    }
    headline = DEFAULT_STRATEGY if DEFAULT_STRATEGY in strategies else protocol.strategies[0]
    return {
        "strategies": strategies,
        "pseudo_labels": strategies[headline]["pseudo_labels"]
        | {"strategy": headline, "large_audit": strategies[headline]["pseudo_labels_large_audit"]},
        "full_data_f1": _mean(full.values()),
        "full_data_f1_std": _std(full.values()),
        "start_f1": _mean(s.start_f1 for s in values),
    }


def _pseudo_summary(results: list[dict]) -> dict:
    """Means over seeds; precision over the seeds that accepted any pseudo-label."""
    return {
        "precision": _mean(r["precision"] for r in results),
        "coverage": _mean(r["coverage"] for r in results),
        "accepted": _mean(r["accepted"] for r in results),
        "audit": _mean(r["audit"] for r in results),
        "estimated_precision": _mean(r["estimated_precision"] for r in results),
        "seeds_with_pseudo_labels": int(sum(r["accepted"] > 0 for r in results)),
    }


def _finite(value):  # type: ignore[no-untyped-def]
    """JSON without NaN: undefined figures (no pseudo-label accepted, say) become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------- reporting


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers: on a shared machine, wall time
    says more about the neighbours than about the benchmark; this divided by the cores is
    roughly the wall time on an idle machine."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def machine(workers: int, threads: int) -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "workers": workers,
        "torch_threads_per_worker": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


def _cell(mean: float | None, std: float | None = None, digits: int = 3) -> str:
    if mean is None or not math.isfinite(mean):
        return "—"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def table(report: dict) -> str:
    d, p, m, s = report["dataset"], report["protocol"], report["machine"], report["strategies"]
    lines = [
        f"active learning on {d['name']}: {d['modality']}, {d['items']} labelled items, "
        f"{len(d['classes'])} classes ({'; '.join(d['notes'])})",
        f"model: {report['model']}",
        f"machine: {m['cpu']}, {m['cores']} cores, {m['workers']} worker(s) × "
        f"{m['torch_threads_per_worker']} torch thread(s), torch {m['torch']}, "
        f"load average at start {m['load_average_at_start']}",
        f"protocol: {p['seeds']} seeds; test {p['test_share']:.0%} stratified ({p['test_items']} "
        f"items), pool {p['pool_items']}; seed set {p['start_per_class']} per class = "
        f"{p['start_labels']} labels; {p['rounds']} rounds × {p['batch']} "
        f"({p['audit_share']:.0%} of each batch is the random audit stream)",
    ]
    if p["score_sample"]:
        lines.append(
            f"scoring: each round every strategy ranks a uniform sample of {p['score_sample']} "
            f"unlabelled items (same rule for all), not the whole pool"
        )
    target = 0.95 * report["full_data_f1"]
    lines += [
        f"bald: {report['bald']}",
        f"full-data macro-F1 (same model on the whole pool): "
        f"{_cell(report['full_data_f1'], report['full_data_f1_std'])}; 95% target ≈ {target:.3f}",
        "",
        f"{'strategy':<17} {'AULC':>15} {'Δ AULC vs random':>18} {'> random':>9} "
        f"{'labels to 95%':>14} {'reached':>8} {'final F1':>15}",
    ]
    lines.append("-" * len(lines[-1]))
    for name in p["strategies"]:
        e = s[name]
        delta = (
            "—" if name == "random" else _cell(e["aulc_minus_random"], e["aulc_minus_random_std"])
        )
        better = "—" if name == "random" else f"{e['seeds_better_than_random']}/{p['seeds']}"
        bound = "≥" if e["labels_to_95_reached"] < p["seeds"] else " "
        lines.append(
            f"{name:<17} {_cell(e['aulc'], e['aulc_std']):>15} {delta:>18} {better:>9} "
            f"{bound + _cell(e['labels_to_95'], digits=1):>14} "
            f"{e['labels_to_95_reached']:>4}/{p['seeds']:<3} "
            f"{_cell(e['final_f1'], e['final_f1_std']):>15}"
        )
    c = s["cold-start"]
    lines += [
        "",
        "AULC: mean test macro-F1 over the label budget (trapezoids / label range), per seed, then "
        "mean ± std over seeds. Δ and '> random' are paired by seed. Labels to 95%: first label "
        "count whose F1 reaches 95% of that seed's full-data F1; a seed that never does counts as "
        "the whole budget, so '≥' marks a lower bound.",
        "",
        f"cold start (seed set of {c['seed_set_labels']} labels, chosen without labels): "
        f"F1 {_cell(c['seed_set_f1'], c['seed_set_f1_std'])}, classes covered "
        f"{_cell(c['classes_covered'], digits=1)}; uniform random seed set: "
        f"F1 {_cell(c['random_seed_set_f1'], c['random_seed_set_f1_std'])}, classes covered "
        f"{_cell(c['random_classes_covered'], digits=1)}; cold start better in "
        f"{c['seeds_better_than_random']}/{p['seeds']} seeds (the protocol's stratified seed set, "
        f"which needs the labels: F1 {_cell(c['stratified_seed_set_f1'])})",
        "",
        f"pseudo-labels (target error {p['target_error']:.0%}, per-class thresholds on audit "
        f"items with a 95% Clopper-Pearson bound and ≥30 support; the model trained without the "
        f"audit items; true precision against ground truth; coverage = share of unlabelled pool):",
        f"{'strategy':<17} {'audit':>6} {'accepted':>9} {'precision':>10} {'coverage':>9}"
        f"   | larger random audit: {'audit':>6} {'accepted':>9} {'precision':>10} {'coverage':>9}",
    ]
    for name in p["strategies"]:
        own, big = s[name]["pseudo_labels"], s[name]["pseudo_labels_large_audit"]
        lines.append(
            f"{name:<17} {own['audit']:>6.1f} {own['accepted']:>9.1f} "
            f"{_cell(own['precision']):>10} {_cell(own['coverage']):>9}   | {'':>21}"
            f"{big['audit']:>6.1f} {big['accepted']:>9.1f} "
            f"{_cell(big['precision']):>10} {_cell(big['coverage']):>9}"
        )
    lines += [
        "precision: mean over the seeds that accepted any pseudo-label (— where none did).",
        "",
        f"wall time: {report['seconds']['total']:.0f} s (data {report['seconds']['data']:.0f} s, "
        f"simulation {report['seconds']['simulation']:.0f} s); CPU time "
        f"{report['seconds']['cpu']:.0f} s over {report['machine']['cores']} cores, load average "
        f"{report['machine']['load_average_at_start']} at the start (other processes share the "
        f"machine: CPU time / cores ≈ the wall time on an idle machine)",
    ]
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, p = report["strategies"], report["protocol"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    random_mean = np.array(s["random"]["curve"]["mean"]) if "random" in s else None
    drawn: dict[tuple, str] = {}
    for name in p["strategies"]:
        curve = s[name]["curve"]
        x, mean, std = np.array(curve["labels"]), np.array(curve["mean"]), np.array(curve["std"])
        style = {"color": "black", "linestyle": "--"} if name == "random" else {}
        # Two classes make the uncertainty measures rank alike: say so rather than hide a line.
        same = drawn.setdefault(tuple(curve["mean"]), name)
        label = f"{name} ({s[name]['aulc']:.3f})" + (f", same as {same}" if same != name else "")
        (line,) = left.plot(x, mean, marker=".", label=label, **style)
        left.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.12)
        if random_mean is not None and name != "random":
            right.plot(x, mean - random_mean, marker=".", color=line.get_color(), label=name)
    full = report["full_data_f1"]
    left.axhline(full, color="grey", linewidth=1, label=f"full data {full:.3f}")
    left.axhline(0.95 * full, color="grey", linewidth=1, linestyle=":", label="95% of full data")
    left.set(
        xlabel="human labels",
        ylabel="test macro-F1",
        title=f"{report['dataset']['name']}: mean ± std over {p['seeds']} seeds (AULC)",
    )
    left.legend(fontsize=8)
    right.axhline(0, color="black", linestyle="--", linewidth=1)
    right.set(
        xlabel="human labels",
        ylabel="macro-F1 minus random (mean over seeds)",
        title="difference to random",
    )
    right.legend(fontsize=8)
    fig.suptitle(textwrap.fill(report["model"], 160), fontsize=8)  # whole, on two lines
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------- command line


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", choices=sorted(PRESETS), help="a shipped or generated set")
    source.add_argument("--data", type=Path, nargs="+", help="files or folders Loupe can ingest")
    parser.add_argument("--modality", choices=("audio", "spectrum", "crop"))
    parser.add_argument("--labels", type=Path, help="labels CSV (file,label[,column])")
    parser.add_argument("--label-from", choices=LABEL_FROM, help="derive labels from the data")
    parser.add_argument("--classes", help="a,b,... (default: the labels found in the data)")
    parser.add_argument("--settings", type=json.loads, help="project settings as JSON")
    parser.add_argument("--model", choices=("network", "linear"), default="network")
    parser.add_argument("--arch", help="network name (default: the modality's default)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--budget",
        choices=sorted(ROUNDS),
        default="default",
        help="default: 10 rounds; large: 20 rounds",
    )
    parser.add_argument("--rounds", type=int, help="overrides --budget")
    parser.add_argument(
        "--batch",
        type=int,
        help="labels per round (default: the seed set's size, "
        "reduced so that every round still finds unlabelled items)",
    )
    parser.add_argument("--start-per-class", type=int, default=5)
    parser.add_argument("--test-share", type=float, default=0.25)
    parser.add_argument("--audit-share", type=float, default=0.10)
    parser.add_argument("--target-error", type=float, default=0.02)
    parser.add_argument("--large-audit", type=int, default=1000)
    parser.add_argument("--score-sample", type=int, help="unlabelled items scored per round")
    parser.add_argument("--strategies", help=f"comma-separated subset of {','.join(STRATEGIES)}")
    parser.add_argument("--min-steps", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--mc-passes", type=int, default=20)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--shared-data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.data and not args.modality:
        parser.error("--data needs --modality")
    return args


def load(args: argparse.Namespace, progress: bool) -> Dataset:
    if args.dataset:
        return preset_dataset(args.dataset, args.shared_data, args.out / "cache", progress=progress)
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    name = "-".join(p.name for p in args.data)
    return load_dataset(
        name,
        args.data,
        args.modality,
        classes=classes,
        labels_csv=args.labels,
        label_from=args.label_from,
        settings=args.settings,
        progress=progress,
    )


def protocol_for(args: argparse.Namespace, data: Dataset, strategies: tuple[str, ...]) -> Protocol:
    rounds = args.rounds or ROUNDS[args.budget]
    preset = PRESETS.get(args.dataset) if args.dataset else None
    protocol = Protocol(
        rounds=rounds,
        batch=1,
        start_per_class=args.start_per_class,
        test_share=args.test_share,
        audit_share=args.audit_share,
        target_error=args.target_error,
        score_sample=args.score_sample or (preset.score_sample if preset else None),
        large_audit=args.large_audit,
        strategies=strategies,
    )
    simulation = Simulation(data, None, protocol)
    pool, _ = simulation.split(0)
    start = len(simulation.stratified_start(pool, 0))
    room = (len(pool) - start) // rounds
    batch = args.batch or min(start, room)
    if batch < 1 or batch > room:
        raise SystemExit(
            f"a pool of {len(pool)} with a seed set of {start} has room for {room} labels per "
            f"round over {rounds} rounds; choose --rounds or --batch"
        )
    return replace(protocol, batch=batch)


def main(argv: list[str] | None = None) -> None:
    started = time.perf_counter()
    args = parse(argv)
    progress = not args.no_progress
    strategies = (
        tuple(s.strip() for s in args.strategies.split(",")) if args.strategies else STRATEGIES
    )
    unknown = set(strategies) - set(STRATEGIES)
    if unknown:
        raise SystemExit(f"unknown strategies {sorted(unknown)}; choose from {STRATEGIES}")
    data = load(args, progress)
    loaded = time.perf_counter()
    modality, n_classes = data.modality, len(data.classes)
    if args.model == "linear":
        make = partial(LinearLearner, modality, n_classes)
    else:
        from learner.networks import default_arch

        base = DEFAULT_SCHEDULES[modality]
        schedule = Schedule(
            min_steps=args.min_steps or base.min_steps,
            epochs=args.epochs or base.epochs,
            max_steps=args.max_steps or base.max_steps,
            batch_size=base.batch_size,
            learning_rate=args.lr or base.learning_rate,
        )
        arch = args.arch or default_arch(modality)
        shape = (1, *data.x.shape[1:])
        make = partial(
            NetworkLearner, modality, n_classes, shape, arch, schedule, mc_passes=args.mc_passes
        )
    learner = make()
    curves = tuple(s for s in strategies if s != "cold-start")
    if args.model == "linear" and "bald" in curves:
        curves = tuple(s for s in curves if s != "bald")
    if "random" not in curves:
        curves = ("random", *curves)
    protocol = protocol_for(args, data, curves)
    simulation = Simulation(data, make, protocol)
    workers = max(1, min(args.workers, args.seeds))
    starts, results = run(
        simulation, args.seeds, workers=workers, threads=args.threads, progress=progress
    )
    finished = time.perf_counter()
    summary = summarise(starts, results, protocol)
    if args.model == "linear" and "bald" in strategies:
        summary["strategies"]["bald"] = {
            "aulc": None,
            "labels_to_95": None,
            "note": learner.bald_note(),
        }
    first = starts[0]
    report = {
        "dataset": {
            "name": data.name,
            "modality": modality,
            "items": int(len(data.y)),
            "classes": data.classes,
            "notes": data.notes,
            "class_counts": np.bincount(data.y, minlength=n_classes).tolist(),
        },
        "model": learner.description,
        "bald": learner.bald_note(),
        "calibration": "none: no validation set is held out of the tiny labelled sets",
        "machine": machine(workers, args.threads),
        "protocol": asdict(protocol)
        | {
            "seeds": args.seeds,
            "test_items": len(first.test),
            "pool_items": len(first.pool),
            "start_labels": len(first.start),
        },
        **summary,
        "seconds": {
            "total": time.perf_counter() - started,
            "data": loaded - started,
            "simulation": finished - loaded,
            "cpu": _cpu_seconds(),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{data.name}-{args.model}-{protocol.rounds}x{protocol.batch}"
    plot(report, args.out / f"{stem}.png")
    report["plot"] = str(args.out / f"{stem}.png")
    text = table(report)
    (args.out / f"{stem}.txt").write_text(text + "\n")
    (args.out / f"{stem}.json").write_text(json.dumps(_finite(report), indent=2) + "\n")
    print(text, file=sys.stderr if args.json else sys.stdout)
    print(f"written: {args.out / stem}.{{png,txt,json}}", file=sys.stderr)
    if args.json:
        print(json.dumps(_finite(report)))


if __name__ == "__main__":
    main()
