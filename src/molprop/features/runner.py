"""Featurize a whole table: chunks in worker processes, streamed to Parquet in order.

Workers get (mol_ids, SMILES) chunks and return compact numpy arrays; the parent writes them
in input order, one Parquet row group per ``row_group_size`` molecules, so memory holds at
most a row group plus the chunks in flight, and the files do not depend on ``n_jobs``.

Starting worker processes costs a fraction of a second, so the parent first featurizes a
few molecules itself and stays serial when the rest would take less than
``config.serial_below_seconds`` in one process. Otherwise it starts the workers in the
background and goes on featurizing a few molecules at a time, from the front, until they
are up; they get the rest. With workers, the parent writes Parquet in a background thread
(in order), so that encoding a row group (a large share of the parent's work) does not keep
it from handing the workers their next chunks, and at the end it finishes the two files in
two threads at once. The workers get the last chunks in smaller tasks, so that they finish
close together. Chunk boundaries do not change the files.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

from tqdm import tqdm

from molprop.features.chunk import ChunkResult, featurize_chunk, merge_results
from molprop.features.config import FeaturizeConfig
from molprop.features.descriptors import descriptor_names
from molprop.features.parallel import WorkerPool, resolve_n_jobs
from molprop.features.report import FeatureReport
from molprop.features.writers import FeatureWriter, GraphWriter

PROBE_MOLECULES = 32  # molecules the parent featurizes at a time: the probe, and while workers start
# Chunks an input is cut into at least (of PROBE_MOLECULES or more): an input smaller than
# this x chunk_size gets smaller chunks, so that one long last chunk does not keep a worker
# busy alone. It depends on the input's size only: the files must not depend on n_jobs.
MIN_CHUNKS = 8
QUEUED_WRITES = 16  # chunks at most waiting for the writer thread (bounds the parent's memory)
# The last n_jobs chunks go to the workers in this many tasks each, so that the workers finish
# within a fraction of a chunk of each other (one whole last chunk would leave one core idle).
TAIL_SPLIT = 4
log = logging.getLogger(__name__)


def start_method() -> str:
    """How the workers start: forked from this process where that is safe (Linux: in
    milliseconds, against ~0.3 s for a fresh interpreter that imports RDKit; they use only
    RDKit and numpy, nothing whose threads this process runs), else from a forkserver."""
    return "fork" if sys.platform.startswith("linux") else "forkserver"


def _preload(config: FeaturizeConfig) -> list[str]:
    """Modules the workers' server imports besides ``molprop.features.chunk``."""
    return ["molprop.features.descriptors"] if config.descriptors else []


def _probe(mol_ids: list[str], smiles: list[str], config: FeaturizeConfig,
           n_jobs: int) -> tuple[ChunkResult | None, int, int]:  # fmt: skip
    """With ``n_jobs > 1``: featurize the first molecules here, and keep one process when
    the rest is estimated to take less than ``config.serial_below_seconds`` in it. Returns
    (result of the probed molecules or None, how many they are, the processes to use)."""
    if n_jobs <= 1:
        return None, 0, n_jobs
    k = min(PROBE_MOLECULES, config.chunk_size, len(mol_ids))
    start = time.perf_counter()
    probe = featurize_chunk((mol_ids[:k], smiles[:k], config))
    estimate = (time.perf_counter() - start) / k * (len(mol_ids) - k)
    if estimate < config.serial_below_seconds:
        n_jobs = 1
    log.info("featurize: %d molecules, about %.1f s in one process: %d process(es)",
             len(mol_ids), estimate, n_jobs)  # fmt: skip
    return probe, k, n_jobs


def chunk_step(n_molecules: int, chunk_size: int) -> int:
    """Molecules per chunk: ``chunk_size``, or fewer for an input of less than ``MIN_CHUNKS``
    chunks (FreeSolv's 642 molecules in chunks of 500 left one of 2 workers with 142 and the
    other with the rest), but never fewer than the probe, which the first chunk holds."""
    return min(chunk_size, max(PROBE_MOLECULES, -(-n_molecules // MIN_CHUNKS)))


def featurize_table(mol_ids: Sequence[str], smiles: Sequence[str], config: FeaturizeConfig,
                    features_path: str | Path, graphs_path: str | Path,
                    progress: bool = True) -> dict:  # fmt: skip
    """Write features.parquet and graphs.parquet for the molecules, and return the metrics.

    Descriptor values that are NaN/inf (or overflow float32) are stored as NaN and reported
    per descriptor; a descriptor whose non-finite fraction exceeds
    ``config.descriptors.max_nonfinite_fraction`` is dropped from features.parquet.
    """
    mol_ids, smiles = list(mol_ids), list(smiles)
    if len(mol_ids) != len(smiles):
        raise ValueError(f"{len(mol_ids)} mol_ids but {len(smiles)} SMILES")
    names = descriptor_names(config.descriptors.set) if config.descriptors else []
    report = FeatureReport(config, names, len(mol_ids))
    features = FeatureWriter(features_path, config, names)
    graphs = GraphWriter(graphs_path, config.graph, config.row_group_size)
    try:
        step = chunk_step(len(mol_ids), config.chunk_size)
        n_jobs = min(resolve_n_jobs(config.n_jobs), max(1, -(-len(mol_ids) // step)))
        probe, n_probed, n_jobs = _probe(mol_ids, smiles, config, n_jobs)
        _featurize_into(features, graphs, report, mol_ids, smiles, config, step, n_jobs, probe, n_probed, progress)
    except BaseException:  # an error, Ctrl-C: no half-written .tmp files left beside the outputs
        features.abort()
        graphs.abort()
        raise
    return report.metrics()


def _featurize_into(features: FeatureWriter, graphs: GraphWriter, report: FeatureReport, mol_ids: list[str],
                    smiles: list[str], config: FeaturizeConfig, step: int, n_jobs: int, probe: ChunkResult | None,
                    n_probed: int, progress: bool) -> None:  # fmt: skip
    def write(ids: list[str], result: ChunkResult) -> None:
        features.add(ids, result.fingerprints, result.descriptors)
        graphs.add(ids, result.graphs)

    queued: deque[Future] = deque()
    # the workers first: forked before this process starts threads of its own (tqdm's, the writer)
    with (WorkerPool(n_jobs, featurize_chunk, _preload(config), start_method())
          if n_jobs > 1 else nullcontext() as pool,
          tqdm(total=len(mol_ids), unit="mol", desc="featurize", disable=not progress, file=sys.stderr,
               mininterval=1.0) as bar,
          ThreadPoolExecutor(max_workers=1) as writer):  # one thread: chunks written in order  # fmt: skip
        for i, j, result in _chunks(mol_ids, smiles, config, step, probe, n_probed, pool):
            ids = mol_ids[i:j]
            report.add(ids, result)
            if pool is None:  # one process means one core: no writer thread
                write(ids, result)
            else:
                queued.append(writer.submit(write, ids, result))
                while len(queued) > QUEUED_WRITES or (queued and queued[0].done()):
                    queued.popleft().result()  # raises a writing error here
            bar.update(len(ids))
        for future in queued:
            future.result()
    # Both files are finished at once: pyarrow encodes without holding the GIL.
    with ThreadPoolExecutor(max_workers=1) as closer:
        closing = closer.submit(graphs.close)
        features.close(drop=report.dropped_descriptors())
        closing.result()


def _chunks(mol_ids: list[str], smiles: list[str], config: FeaturizeConfig, step: int,
            probe: ChunkResult | None, n_probed: int,
            pool: WorkerPool | None) -> Iterator[tuple[int, int, ChunkResult]]:  # fmt: skip
    """(start, end, features) of the chunks ``[i * step, (i + 1) * step)``, in
    order. The probe and, until ``pool``'s workers are up, what this process featurizes a
    few molecules at a time come first; the workers (or this process, without ``pool``) do
    the rest, beginning with what is left of the chunk this process was in."""
    n = len(mol_ids)
    start, end = 0, n_probed  # the current chunk begins at start; this process did it up to end
    parts = [probe] if probe is not None else []
    while pool is not None and not pool.ready.is_set() and end < n:
        if end - start == step:
            yield start, end, merge_results(parts)
            start, parts = end, []
        k = min(end + PROBE_MOLECULES, start + step, n)
        parts.append(featurize_chunk((mol_ids[end:k], smiles[end:k], config)))
        end = k
    starts = range(start, n, step)  # not a list: memory does not grow with the input
    tail = n - pool.n_jobs * step if pool is not None else n

    def pieces(i: int) -> list[tuple[int, int]]:  # the tasks of chunk i: what this process left of it
        return task_ranges(max(i, end), min(i + step, n), step if i < tail else -(-step // TAIL_SPLIT))

    tasks = ((mol_ids[a:b], smiles[a:b], config) for i in starts for a, b in pieces(i))
    results = map(featurize_chunk, tasks) if pool is None else pool.map(featurize_chunk, tasks)
    for i in starts:
        own = parts if i == start else []
        yield i, min(i + step, n), merge_results(own + [next(results) for _ in pieces(i)])


def task_ranges(begin: int, end: int, size: int) -> list[tuple[int, int]]:
    """``[begin, end)`` cut into consecutive ranges of ``size`` molecules, or of
    ``PROBE_MOLECULES`` if ``size`` is smaller; the last range may be shorter."""
    size = max(size, PROBE_MOLECULES)
    return [(a, min(a + size, end)) for a in range(begin, end, size)]
