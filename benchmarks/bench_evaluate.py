"""Time of the evaluation's bootstrap on synthetic predictions (no molecules needed).

For each task it times, as the median of --repeats runs, the performance report of two models
(every metric with its interval plus the paired comparison, all resamples shared) and, for
regression, the uncertainty report. Both wall-clock and CPU seconds are printed: on a shared
machine the CPU time is the steadier figure.

    python benchmarks/bench_evaluate.py --size 10000 --resamples 1000
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from molprop.evaluation.bootstrap import BootstrapConfig
from molprop.evaluation.performance import performance_report
from molprop.evaluation.uncertainty import regression_report


def _timed(run, repeats: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000, help="test molecules")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, rng = args.size, np.random.default_rng(0)
    config = BootstrapConfig(n_resamples=args.resamples)
    y = rng.normal(size=n)
    preds = {"model": y + rng.normal(size=n), "baseline": y + rng.normal(scale=1.2, size=n)}
    errors = {k: np.abs(v - y) for k, v in preds.items()}
    sigma = np.abs(rng.normal(1.0, 0.2, n))
    cases = {"regression, 2 models": lambda: performance_report("regression", y, preds, errors, config),
             "regression uncertainty, 1 model": lambda: regression_report(
                 errors["model"], sigma, 5, None, 0.9, config)}
    for k in (2, 3):
        labels = rng.integers(0, k, n)
        proba = {name: _softmax(rng.normal(size=(n, k)) + scale * np.eye(k)[labels])
                 for name, scale in (("model", 1.5), ("baseline", 1.0))}
        errs = {name: 1.0 - p[np.arange(n), labels] for name, p in proba.items()}
        cases[f"classification ({k} classes), 2 models"] = (
            lambda labels=labels, proba=proba, errs=errs:
            performance_report("classification", labels, proba, errs, config))
    print(f"{args.resamples} resamples of {n} molecules (median of {args.repeats} runs)")
    for name, run in cases.items():
        wall, cpu = _timed(run, args.repeats)
        print(f"  {name:<40} {wall:6.2f} s wall  {cpu:6.2f} s CPU")


if __name__ == "__main__":
    main()
