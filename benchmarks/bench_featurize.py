"""Featurization throughput (molecules/s) against raw RDKit, parallel efficiency, peak memory.

Molecules are real: built-in parents grown by substituent enumeration (molecule_pool.py),
cached in --cache-dir. Every size of one invocation takes evenly spaced molecules of the
pool of the largest size (or of --pool-size), so all sizes have the same mix of molecules
(later enumeration levels hold larger ones) and time per molecule can be compared across sizes. Each
measurement runs in a fresh process: wall time of ``featurize_table`` (worker start-up and Parquet writing included), CPU time of the main
process (with 1 process: all the work; with more: the parent's share, mostly Parquet
writing), peak RSS of that process and of the whole process tree (parent + workers, and the
forkserver where there is one), and the tree's peak PSS, sampled every 0.2 s, or less often
where a sample costs more than 4 ms of CPU (PSS walks the page tables: the sampler stays near
2% of one core; its CPU time, printed as "sampler s", is left out of "CPU s"). Workers forked
from the parent share its pages: the RSS sum counts those once per process, PSS once in all.

The yardstick (rdkit_yardstick.py) is raw RDKit on one core on a sample of the same
molecules: parse + Morgan for fingerprints, parse + the minimal atom/bond property reads for
graphs, parse + each descriptor function for descriptors, in CPU seconds. The machine may be
shared, so each run is bracketed by two yardstick runs (fresh processes, right before and
right after; the mean of the two is that run's yardstick). Printed per run:
  eff.      = our molecules/s (wall) with P processes / (yardstick molecules/s x P);
  CPU eff.  = with 1 process, yardstick CPU time / our CPU time (robust to a busy machine);
  speedup   = wall time with 1 process / wall time with P.

    python benchmarks/bench_featurize.py --sizes 10000,100000 --modes fp,fp+graph,fp+graph+fast,full
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from molecule_pool import molecule_pool, tree_memory_kib
from rdkit_yardstick import mode_rate, rdkit_seconds

YARDSTICK_SAMPLE = 2000  # molecules (spread over the run's) timed for the yardstick
SAMPLE_EVERY = 0.2  # seconds between memory samples, at least
SAMPLE_PAUSE = 50  # ... and at least this many times the last sample's CPU time

MODES = {  # featurizers of each mode: (morgan, descriptor set or None, graph)
    "fp": (True, None, False), "fp+graph": (True, None, True),
    "fp+graph+fast": (True, "fast", True), "full": (True, "full", True),
}  # fmt: skip


def spread_rows(n_pool: int, size: int) -> list[int]:
    """``size`` evenly spaced rows of a pool of ``n_pool``. The pool grows by enumeration
    depth, so later molecules are larger: a prefix would give each size another mix."""
    if size > n_pool:
        raise SystemExit(f"the pool has {n_pool} molecules, fewer than {size}")
    return [i * n_pool // size for i in range(size)]


def mode_steps(mode: str) -> list[str]:
    """The yardstick steps (besides parse) of a mode."""
    morgan, desc_set, graph = MODES[mode]
    return ["morgan"] * morgan + ["graph"] * graph + ([desc_set] if desc_set else [])


def child(args: argparse.Namespace) -> None:
    """One timed run (in its own process): prints a JSON line."""
    import pyarrow.parquet as pq

    from molprop.features.config import DescriptorConfig, FeaturizeConfig, MorganConfig
    from molprop.features.runner import featurize_table

    morgan, desc_set, graph = MODES[args.mode]
    config = FeaturizeConfig(
        morgan=MorganConfig() if morgan else None,
        descriptors=DescriptorConfig(set=desc_set) if desc_set else None,
        graph=graph, n_jobs=args.n_jobs, chunk_size=args.chunk_size,
    )  # fmt: skip
    table = pq.read_table(args.pool).take(spread_rows(pq.read_metadata(args.pool).num_rows, args.size))
    ids, smiles = table.column("mol_id").to_pylist(), table.column("smiles").to_pylist()
    decisions: list[str] = []  # the runner's log line: how many processes it used
    handler = logging.Handler()
    handler.emit = lambda record: decisions.append(record.getMessage().rsplit(": ", 1)[-1])
    logging.getLogger("molprop.features.runner").addHandler(handler)
    logging.getLogger("molprop.features.runner").setLevel(logging.INFO)
    peak = [0, 0, 0]
    done = threading.Event()
    sampler_cpu = [0.0]

    def sample() -> None:
        # PSS walks every page table of the tree (~5 ms for 3 processes of ~1 GB in all, more
        # at 1M): waiting SAMPLE_PAUSE x the last sample's cost keeps the sampler's own CPU,
        # which the featurizing processes share their cores with, near 2% of one core
        pause = SAMPLE_EVERY
        while not done.wait(pause):
            began = time.thread_time()
            peak[:] = [max(a, b) for a, b in zip(peak, tree_memory_kib(os.getpid()))]
            cost = time.thread_time() - began
            sampler_cpu[0] += cost
            pause = max(SAMPLE_EVERY, SAMPLE_PAUSE * cost)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        featurize_table(ids, smiles, config, Path(tmp) / "f.parquet", Path(tmp) / "g.parquet", progress=False)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu - sampler_cpu[0]
        sizes = [os.path.getsize(Path(tmp) / n) for n in ("f.parquet", "g.parquet")]
    done.set()
    thread.join()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "sampler_cpu_seconds": sampler_cpu[0], "rss_main_mib": peak[0] / 1024, "rss_tree_mib": peak[1] / 1024,
                      "pss_tree_mib": peak[2] / 1024,
                      "bytes": sizes, "processes": decisions[-1] if decisions else ""}))  # fmt: skip


def yardstick_child(args: argparse.Namespace) -> None:
    """Raw RDKit seconds per molecule of the mode's steps on a sample of the run's molecules."""
    import pyarrow.parquet as pq

    column = pq.read_table(args.pool, columns=["smiles"]).column("smiles")
    smiles = column.take(spread_rows(len(column), args.size)).to_pylist()
    steps = mode_steps(args.mode) + (["morgan (bare)"] if MODES[args.mode][0] else [])
    reference = smiles[:: max(1, len(smiles) // YARDSTICK_SAMPLE)]
    print(json.dumps(rdkit_seconds(reference, steps, n_desc=YARDSTICK_SAMPLE // 15)))


def _run(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(pool: Path, size: int, mode: str, n_jobs: int, chunk_size: int, repeats: int) -> dict:
    """Median of ``repeats`` runs, each between two yardstick runs on the same molecules."""
    common = ["--pool", str(pool), "--size", str(size), "--mode", mode]
    runs, sticks = [], [_run("--yardstick", *common)]
    for _ in range(repeats):
        runs.append(_run("--child", *common, "--n-jobs", str(n_jobs), "--chunk-size", str(chunk_size)))
        sticks.append(_run("--yardstick", *common))
        runs[-1]["rdkit"] = {k: (sticks[-2][k] + sticks[-1][k]) / 2 for k in sticks[-1]}
    keys = ("seconds", "cpu_seconds", "sampler_cpu_seconds", "rss_main_mib", "rss_tree_mib", "pss_tree_mib")
    best = {k: statistics.median(r[k] for r in runs) for k in keys}
    rdkit = {k: statistics.median(r["rdkit"][k] for r in runs) for k in runs[0]["rdkit"]}
    processes = ",".join(sorted({r["processes"] for r in runs}))
    return best | {"bytes": runs[0]["bytes"], "processes": processes, "rdkit": rdkit}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--modes", default="fp,fp+graph,fp+graph+fast,full")
    ap.add_argument("--max-full", type=int, default=10000, help="largest size run in mode 'full'")
    ap.add_argument("--max-fast", type=int, default=100000, help="largest size run with fast descriptors")
    ap.add_argument("--jobs", default=f"1,{len(os.sched_getaffinity(0))}")
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3, help="repeats (median) for sizes <= 10000")
    ap.add_argument("--pool-size", type=int, help="take the sizes from the pool of this many molecules "
                    "(default: the largest size), e.g. 10k with the mix of the 1M pool")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "molprop_bench")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--yardstick", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pool", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--n-jobs", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child or args.yardstick:
        return child(args) if args.child else yardstick_child(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    jobs = [int(j) for j in args.jobs.split(",")]
    t0 = time.perf_counter()
    n_pool = max(args.pool_size or 0, *sizes)
    pool = molecule_pool(n_pool, args.cache_dir)
    print(f"molecule pool: {n_pool} molecules ({time.perf_counter() - t0:.0f} s) at {pool}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)  # fmt: skip
    print("yardstick per mode: parse + " + "; ".join(f"{m}: {' + '.join(mode_steps(m))}" for m in MODES))
    per_1k: dict[tuple[str, int], dict[int, float]] = {}
    for size in sizes:
        limits = {"full": args.max_full, "fp+graph+fast": args.max_fast}
        modes = [m for m in args.modes.split(",") if size <= limits.get(m, max(sizes))]
        if not modes:
            continue
        print(f"{'mode':14s} {'size':>8s} {'procs':>5s} {'seconds':>8s} {'mol/s':>7s} {'RDKit':>6s} {'eff.':>5s} "
              f"{'CPU s':>6s} {'CPU eff.':>8s} {'sampler s':>9s} {'speedup':>7s} {'RSS main':>8s} {'RSS all':>7s} {'PSS all':>7s} {'MB feat':>7s} "
              f"{'MB graph':>8s} ran", flush=True)  # fmt: skip
        raw: dict[str, dict[str, float]] = {}
        for mode in modes:
            serial = None
            for n_jobs in jobs:
                r = measure(pool, size, mode, n_jobs, args.chunk_size, args.repeats if size <= 10000 else 1)
                serial, rate = serial or r["seconds"], mode_rate(r["rdkit"], mode_steps(mode))
                raw[mode] = r["rdkit"]
                ours = size / r["seconds"]
                per_1k.setdefault((mode, n_jobs), {})[size] = r["seconds"] / size * 1000
                cpu_eff = f"{size / r['cpu_seconds'] / rate:8.0%}" if n_jobs == 1 else f"{'':8s}"
                print(f"{mode:14s} {size:8d} {n_jobs:5d} {r['seconds']:8.1f} {ours:7.0f} {rate:6.0f} "
                      f"{ours / (rate * n_jobs):5.0%} {r['cpu_seconds']:6.1f} {cpu_eff} {r['sampler_cpu_seconds']:9.2f} "
                      f"{serial / r['seconds']:7.2f} "
                      f"{r['rss_main_mib']:6.0f}Mi {r['rss_tree_mib']:5.0f}Mi {r['pss_tree_mib']:5.0f}Mi {r['bytes'][0] / 1e6:7.1f} "
                      f"{r['bytes'][1] / 1e6:8.1f} {r['processes']}", flush=True)  # fmt: skip
        steps = {k: v for by_mode in raw.values() for k, v in by_mode.items()}  # latest value of each step
        print(f"  raw RDKit, 1 core, on samples of these {size} molecules, molecules/s: "
              + ", ".join(f"{k} {1 / v:,.0f}" for k, v in steps.items()), flush=True)  # fmt: skip
    print("seconds per 1000 molecules by size (linear growth = the same figure at every size):")
    for (mode, n_jobs), by_size in per_1k.items():
        print(f"  {mode:14s} {n_jobs} proc: " + ", ".join(f"{s}: {v:.3f}" for s, v in by_size.items()))


if __name__ == "__main__":
    main()
