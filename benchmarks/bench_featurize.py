"""Featurization throughput (molecules/s), parallel efficiency and peak memory (RSS).

Molecules are real: built-in parents grown by substituent enumeration (molecule_pool.py),
cached in --cache-dir. Each measurement runs in a fresh process: wall time of
``featurize_table`` (pool start-up and Parquet writing included), peak RSS of that process
and of the whole process tree (parent + forkserver + workers, sampled every 0.1 s).

    python benchmarks/bench_featurize.py --sizes 10000,100000 --modes fp+graph,fp+graph+fast
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from molecule_pool import molecule_pool, tree_rss_kib

MODES = {  # featurizers of each mode: (morgan, descriptor set or None, graph)
    "fp": (True, None, False), "fp+graph": (True, None, True),
    "fp+graph+fast": (True, "fast", True), "full": (True, "full", True),
}  # fmt: skip


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
    table = pq.read_table(args.pool).slice(0, args.size)
    ids, smiles = table.column("mol_id").to_pylist(), table.column("smiles").to_pylist()
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            main, total = tree_rss_kib(os.getpid())
            peak[0], peak[1] = max(peak[0], main), max(peak[1], total)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        featurize_table(ids, smiles, config, Path(tmp) / "f.parquet", Path(tmp) / "g.parquet", progress=False)
        seconds = time.perf_counter() - start
        sizes = [os.path.getsize(Path(tmp) / n) for n in ("f.parquet", "g.parquet")]
    done.set()
    thread.join()
    print(json.dumps({"seconds": seconds, "rss_main_mib": peak[0] / 1024,
                      "rss_tree_mib": peak[1] / 1024, "bytes": sizes}))  # fmt: skip


def measure(pool: Path, size: int, mode: str, n_jobs: int, chunk_size: int, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, __file__, "--child", "--pool", str(pool), "--size", str(size),
               "--mode", mode, "--n-jobs", str(n_jobs), "--chunk-size", str(chunk_size)]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    best = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "rss_main_mib", "rss_tree_mib")}
    return best | {"bytes": runs[0]["bytes"]}


def rdkit_reference(pool: Path, n: int = 2000) -> None:
    """Single-core rates of the raw RDKit calls molprop wraps (parse, Morgan counts, the full
    and the fast descriptor sets), the yardstick of the per-core figures below."""
    import pyarrow.parquet as pq
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from molprop.features.descriptors import descriptor_functions

    smiles = pq.read_table(pool).column("smiles").to_pylist()[:n]
    start = time.perf_counter()
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    parse = time.perf_counter() - start
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    start = time.perf_counter()
    for mol in mols:
        gen.GetCountFingerprintAsNumPy(mol)
    morgan = time.perf_counter() - start
    rates = {"parse": n / parse, "parse+morgan": n / (parse + morgan)}
    for which in ("full", "fast"):
        funcs = [f for _, f in descriptor_functions(which)]
        start = time.perf_counter()
        for mol in mols[: n // 10]:
            for func in funcs:
                func(mol)
        rates[f"parse+{which} descriptors"] = 1 / (parse / n + (time.perf_counter() - start) / (n // 10))
    print("raw RDKit, 1 core: " + ", ".join(f"{k} {v:,.0f} mol/s" for k, v in rates.items()), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--modes", default="fp,fp+graph,fp+graph+fast,full")
    ap.add_argument("--max-full", type=int, default=10000, help="largest size run in mode 'full'")
    ap.add_argument("--max-fast", type=int, default=100000, help="largest size run with fast descriptors")
    ap.add_argument("--jobs", default=f"1,{len(os.sched_getaffinity(0))}")
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3, help="repeats (median) for sizes <= 10000")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "molprop_bench")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pool", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--n-jobs", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    jobs = [int(j) for j in args.jobs.split(",")]
    t0 = time.perf_counter()
    pool = molecule_pool(max(sizes), args.cache_dir)
    print(f"molecule pool: {max(sizes)} molecules ({time.perf_counter() - t0:.0f} s) at {pool}", flush=True)
    rdkit_reference(pool)
    print(f"{'mode':15s} {'size':>8s} {'jobs':>4s} {'seconds':>8s} {'mol/s':>8s} {'par.eff':>7s} "
          f"{'RSS main':>9s} {'RSS all':>8s} {'MB feat':>7s} {'MB graph':>8s}", flush=True)  # fmt: skip
    for mode in args.modes.split(","):
        limit = {"full": args.max_full, "fp+graph+fast": args.max_fast}.get(mode, max(sizes))
        for size in (s for s in sizes if s <= limit):
            serial = None
            for n_jobs in jobs:
                r = measure(pool, size, mode, n_jobs, args.chunk_size, args.repeats if size <= 10000 else 1)
                serial = serial or (r["seconds"] if n_jobs == 1 else None)
                eff = f"{serial / r['seconds'] / n_jobs:7.0%}" if serial else f"{'':7s}"
                print(f"{mode:15s} {size:8d} {n_jobs:4d} {r['seconds']:8.1f} {size / r['seconds']:8.0f} {eff} "
                      f"{r['rss_main_mib']:7.0f}Mi {r['rss_tree_mib']:6.0f}Mi {r['bytes'][0] / 1e6:7.1f} "
                      f"{r['bytes'][1] / 1e6:8.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
