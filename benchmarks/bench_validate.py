"""Validate throughput (molecules/s) against the raw RDKit parse rate, on real molecules.

Input rows: the enumerated molecule pool (molecule_pool.py) written as a user would give
them: every 10th as a hydrochloride salt (`.Cl`, stripped by standardization), every 50th
repeated later with a close target (a replicate to merge), random targets. Reports, each the
median of --repeats runs:
- the RDKit parse rate on one core (``Chem.MolFromSmiles`` on the same strings), the
  reference the validate issue compares with;
- ``curate`` (standardize, rules, targets, duplicates) with 1 and with all cores;
- the Great Expectations suite on the result; the ratio of the whole to parse rate x cores.

    python benchmarks/bench_validate.py --size 100000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from molecule_pool import molecule_pool


def input_table(smiles: list[str], seed: int = 0) -> pd.DataFrame:
    """Rows as a user would give them: some salts, some replicates, text targets."""
    rng = np.random.default_rng(seed)
    rows = [s + ".Cl" if i % 10 == 0 else s for i, s in enumerate(smiles)]
    targets = rng.normal(-3.0, 2.0, size=len(rows))
    replicates = list(range(0, len(rows), 50))
    rows += [smiles[i] for i in replicates]
    targets = np.concatenate([targets, targets[replicates] + 0.1])
    return pd.DataFrame({"smiles": rows, "y": [f"{t:.3f}" for t in targets]})


def median_seconds(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "molprop_bench")
    args = ap.parse_args()

    from rdkit import Chem

    from molprop.validation.config import TargetRules, ValidationConfig
    from molprop.validation.curate import curate, n_workers
    from molprop.validation.expectations import build_suite, run_suite

    pool = pd.read_parquet(molecule_pool(args.size, args.cache_dir))
    table = input_table(pool["smiles"].tolist())
    cores = n_workers(0)
    sample = table["smiles"].tolist()[:20_000]
    parse_s, _ = median_seconds(lambda: [Chem.MolFromSmiles(s) for s in sample], args.repeats)
    parse_rate = len(sample) / parse_s
    print(f"input rows: {len(table)} ({args.size} molecules, {len(table) - args.size} replicates); "
          f"cores: {cores}")
    print(f"RDKit MolFromSmiles, 1 core: {parse_rate:,.0f} mol/s")
    result = None
    for jobs in sorted({1, cores}):
        config = ValidationConfig(target=TargetRules(task="regression"), n_jobs=jobs)
        seconds, result = median_seconds(lambda: curate(table, "smiles", "y", config), args.repeats)
        rate = len(table) / seconds
        print(f"curate, {jobs} process(es): {seconds:6.1f} s  {rate:,.0f} rows/s  "
              f"({rate / (parse_rate * jobs):.2f} x parse rate x {jobs})")
    validated = result.validated
    start = time.perf_counter()
    import great_expectations  # noqa: F401  (a constant ~3 s per stage run, shown apart)

    print(f"import great_expectations: {time.perf_counter() - start:.1f} s (once per run)")
    suite = build_suite("regression", list(validated.columns), None, None, 1, 1)
    gx_s, _ = median_seconds(lambda: run_suite(validated, suite), args.repeats)
    total = len(table) / (seconds + gx_s)
    print(f"Great Expectations suite: {gx_s:.1f} s; curate + GX, {cores} cores: {total:,.0f} rows/s "
          f"= 1/{parse_rate * cores / total:.2f} of parse rate x {cores} (target: within 1/3)")
    print(f"kept {result.metrics['n_kept']}, rejected {result.metrics['n_rejected']}, merged away "
          f"{result.metrics['n_merged_away']}, changed by standardization "
          f"{result.metrics['n_standardized_changed']}")


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    main()
