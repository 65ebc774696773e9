"""`molprop predict` throughput (molecules/s) and peak memory, against featurization alone.

For each size: the full predict (read, standardize, featurize, applicability domain, model,
write Parquet) with the local executor and with Ray on a local cluster of the machine's
cores, and the featurization alone of the same molecules with the model's featurizers
(``featurize_table``, the yardstick: predict should cost at most ~2x of it). Each run is a
fresh process; peak RSS and peak PSS are sampled every 0.1 s over the whole process tree
(workers, Ray's raylet / GCS / actors included). The RSS sum counts a page shared by several
processes (forked workers, Ray's shared-memory object store) once per process; PSS splits it
between them, so the PSS sum is the memory the run really holds. CPU seconds are summed over the same process tree (sampled
likewise, so a process living less than 0.1 s may be missed): on a shared machine they are
steadier than wall time, and Ray's figure includes its own services (GCS, raylet, dashboard). Molecules come from
benchmarks/molecule_pool.py.

Columns printed per run and size: seconds, molecules/s, CPU seconds, peak RSS and PSS
(process tree), wall and CPU ratio to ``featurize`` of the same size, and for ``ray`` its wall and
CPU ratio to ``local``. The model directory must hold a predict context (models/ after
`dvc repro`). The default is one short run (10 000 molecules); the documented figures come
from

    python benchmarks/bench_predict.py --model models/model --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from molecule_pool import molecule_pool, process_tree, tree_rss_pss_kib


def _input(pool: Path, size: int, cache: Path) -> Path:
    path = cache / f"predict_input_{size}.parquet"
    if not path.exists():
        import pyarrow.parquet as pq

        pq.write_table(pq.read_table(pool).slice(0, size), path)
    return path


def tree_cpu_ticks(root: int, seen: dict[int, int]) -> None:
    """Update ``seen`` (pid -> utime + stime clock ticks) for ``root`` and its descendants."""
    parent, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                parent[int(entry)], ticks[int(entry)] = int(fields[1]), int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                continue
    for pid in process_tree(root, parent):
        seen[pid] = max(seen.get(pid, 0), ticks.get(pid, 0))


def child(args: argparse.Namespace) -> None:
    """One timed run in this process; prints a JSON line."""
    peak, peak_pss, cpu = [0], [0], {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            rss, pss = tree_rss_pss_kib(os.getpid())
            peak[0], peak_pss[0] = max(peak[0], rss), max(peak_pss[0], pss)
            tree_cpu_ticks(os.getpid(), cpu)

    threading.Thread(target=sample, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if args.what == "featurize":
            import pyarrow.parquet as pq

            from molprop.features.runner import featurize_table
            from molprop.predict.runner import model_info

            config = model_info(args.model).spec.featurize
            config = type(config)(morgan=config.morgan, descriptors=config.descriptors, graph=config.graph,
                                  n_jobs=args.n_jobs, chunk_size=500)
            table = pq.read_table(args.input, columns=["mol_id", "smiles"])
            featurize_table(table.column("mol_id").to_pylist(), table.column("smiles").to_pylist(), config,
                            Path(tmp) / "f.parquet", Path(tmp) / "g.parquet", progress=False)  # fmt: skip
        else:
            from molprop.predict.runner import PredictOptions, predict_file

            ray_options = None
            if args.what == "ray":
                import ray

                ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
                ray_options = {"n_actors": args.ray_cpus}
            summary = predict_file(args.model, args.input, Path(tmp) / "out.parquet",
                                   PredictOptions(id_column="mol_id", chunk_size=args.chunk_size),
                                   executor="local" if args.what == "local" else "ray", n_jobs=args.n_jobs,
                                   device="cpu", progress=False, ray_options=ray_options)  # fmt: skip
            assert summary["rows"] == args.size, summary
            if args.what == "ray":
                ray.shutdown()
        seconds = time.perf_counter() - start
    done.set()
    tree_cpu_ticks(os.getpid(), cpu)
    ticks = sum(cpu.values()) / os.sysconf("SC_CLK_TCK")
    print(json.dumps({"seconds": seconds, "rss_mib": peak[0] / 1024, "pss_mib": peak_pss[0] / 1024, "cpu": ticks}))


def breakdown(model_dir: str, pool: Path, n: int = 2000) -> None:
    """Single-core CPU cost per molecule of each step of predict, in this process."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from molprop.features.chunk import featurize_chunk
    from molprop.predict.chunk import predict_prepared, prepare, training_set
    from molprop.predict.model import HeldModel
    from molprop.predict.runner import model_info
    from molprop.validation.standardize import standardize_smiles

    spec = model_info(model_dir).spec
    smiles = pq.read_table(pool, columns=["smiles"]).column("smiles").to_pylist()[:n]
    frame = pd.DataFrame({"row": np.arange(n), "id": [str(i) for i in range(n)], "smiles_input": smiles})
    cost = {}
    start = time.process_time()
    model = HeldModel(model_dir, "cpu")
    cost["load model (once)"] = time.process_time() - start
    start = time.process_time()
    std = [standardize_smiles(s, spec.standardize, spec.rules).smiles for s in smiles]
    cost["standardize"] = time.process_time() - start
    std = [s for s in std if s]
    start = time.process_time()
    features = featurize_chunk((list(range(len(std))), std, spec.featurize))
    cost["featurize"] = time.process_time() - start
    start = time.process_time()
    batches = [prepare((spec, frame.iloc[i : i + 500])) for i in range(0, n, 500)]
    cost["prepare (all of the above + domain)"] = time.process_time() - start
    training_set(spec)
    start = time.process_time()
    predict_prepared(batches, model, spec.featurize, 0.3)
    cost["model + output table"] = time.process_time() - start
    del features
    print(f"single-core CPU per molecule ({n} molecules): " + ", ".join(
        f"{k} {v:.1f} s" if "once" in k else f"{k} {1000 * v / n:.2f} ms" for k, v in cost.items()), flush=True)


def measure(what: str, args: argparse.Namespace, size: int, path: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", what, "--input", str(path), "--size", str(size),
           "--model", args.model, "--n-jobs", str(args.n_jobs), "--chunk-size", str(args.chunk_size),
           "--ray-cpus", str(args.ray_cpus)]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{what} {size} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/model", help="saved model directory (default: models/model)")
    ap.add_argument("--sizes", default="10000",
                    help="comma-separated numbers of molecules (default: 10000, a short run; the "
                    "documented figures: 10000,100000,1000000)")
    ap.add_argument("--runs", default="featurize,local,ray",
                    help="any of featurize, local, ray (default: all three; the ratios need featurize "
                    "and local first)")
    ap.add_argument("--n-jobs", type=int, default=-1, help="local worker processes (default: all cores)")
    ap.add_argument("--ray-cpus", type=int, default=len(os.sched_getaffinity(0)),
                    help="CPUs of the local Ray cluster = model-holding actors (default: all cores)")
    ap.add_argument("--chunk-size", type=int, default=10_000, help="predict chunk size (default: 10000)")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "molprop_bench",
                    help="where the molecule pool and inputs are cached")
    ap.add_argument("--breakdown", action="store_true", help="also print the per-step CPU cost per molecule")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.what = args.child
        return child(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = args.runs.split(",")
    pool = molecule_pool(max(sizes), args.cache_dir)
    from molprop.predict.runner import model_info

    spec = model_info(args.model).spec.featurize
    print(f"model {args.model}: morgan={spec.morgan}, descriptors={spec.descriptors}, graph={spec.graph}; "
          f"{len(os.sched_getaffinity(0))} cores, chunk {args.chunk_size}", flush=True)
    if args.breakdown:
        breakdown(args.model, pool)
    print(f"{'run':10s} {'size':>8s} {'seconds':>8s} {'mol/s':>8s} {'CPU s':>7s} {'peak RSS':>9s} {'peak PSS':>9s} "
          f"{'x featurize':>11s} {'(CPU)':>6s} {'ray/local':>9s} {'(CPU)':>6s}", flush=True)  # fmt: skip
    for size in sizes:
        path = _input(pool, size, args.cache_dir)
        results = {}
        for what in runs:
            r = results[what] = measure(what, args, size, path)
            feat = results.get("featurize") if what != "featurize" else None
            vs_feat = f"{r['seconds'] / feat['seconds']:11.2f} {r['cpu'] / feat['cpu']:6.2f}" if feat else f"{'':18s}"
            local = results.get("local") if what == "ray" else None
            vs_local = f"{r['seconds'] / local['seconds']:9.2f} {r['cpu'] / local['cpu']:6.2f}" if local else ""
            print(f"{what:10s} {size:8d} {r['seconds']:8.1f} {size / r['seconds']:8.0f} {r['cpu']:7.0f} "
                  f"{r['rss_mib']:7.0f}Mi {r['pss_mib']:7.0f}Mi {vs_feat} {vs_local}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
