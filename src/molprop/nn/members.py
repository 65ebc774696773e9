"""Training the members of a network ensemble: one per (partition, seed).

A plain split gives ``ensemble_size`` members on the same train/validation parts that differ
by seed (initialization, batch order, dropout); k-fold mode gives that many per fold. Each
member is checkpointed (after every epoch, or every ``checkpoint_interval_s`` seconds) under
its own file, keyed by everything it depends on. torch is imported only where a member is
trained or predicts, so a stage whose members train in worker processes never imports it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.features.graph import MolGraph
from molprop.features.parallel import available_cores, end_with_owner
from molprop.models.matrix import Preprocessor
from molprop.models.partitions import Partition
from molprop.nn.training_types import TrainConfig, TrainResult
from molprop.nn.workers import worker_context

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Member:
    """One network to train: its name, rows and seed."""

    name: str
    partition: Partition
    seed: int


def ensemble_members(parts: Sequence[Partition], ensemble_size: int, seed: int) -> list[Member]:
    """``ensemble_size`` seeds (seed, seed + 1, ...) per partition. Names: ``member_<i>`` for a
    plain split, ``fold_<k>`` or ``fold_<k>_member_<i>`` in k-fold mode."""
    if ensemble_size < 1:
        raise UserInputError(f"train.ensemble_size is {ensemble_size}; it must be >= 1")
    members = []
    for part in parts:
        for i in range(ensemble_size):
            if part.name.startswith("fold_"):
                name = part.name if ensemble_size == 1 else f"{part.name}_member_{i}"
            else:
                name = f"member_{i}"
            members.append(Member(name, part, seed + i))
    return members


@dataclass
class MemberData:
    """What every member trains on: the feature table, graphs (or None) and targets."""

    features: pd.DataFrame
    columns: list[str]
    graphs: Sequence[MolGraph] | None
    y: np.ndarray
    task: str
    n_outputs: int

    def graph_subset(self, index: np.ndarray) -> list[MolGraph] | None:
        """Graphs of rows ``index`` (None for a network without graphs)."""
        return None if self.graphs is None else [self.graphs[i] for i in index]


@dataclass
class TrainingTables:
    """The pipeline's tables an ensemble trains on (rows aligned on ``mol_id``): the validated
    molecules, the split, the class names (classification) and what every member reads."""

    validated: pd.DataFrame
    split: pd.DataFrame
    classes: list[str]
    data: MemberData


def read_training_tables(data_dir: Path, task: str, kind: str, feature_groups: Sequence[str]) -> TrainingTables:
    """validated, features and split under ``data_dir`` (and the graphs, for a ``kind`` of
    network that reads them), with the feature columns of ``feature_groups``."""
    from molprop.data.tables import class_names, read_aligned
    from molprop.features.graph_store import load_aligned_graphs
    from molprop.nn.training_types import NEEDS_GRAPHS, network_feature_columns, output_count
    from molprop.schema import MOL_ID, TARGET

    validated, features, split = read_aligned(
        data_dir / "validated.parquet", data_dir / "features.parquet", data_dir / "split.parquet"
    )
    columns = network_feature_columns(kind, feature_groups, list(features.columns))
    graphs = None
    if NEEDS_GRAPHS.get(kind):
        graphs = load_aligned_graphs(data_dir / "graphs.parquet", validated[MOL_ID].tolist())
    classes = class_names(validated, task)
    data = MemberData(features, columns, graphs, validated[TARGET].to_numpy(), task,
                      output_count(task, len(classes)))
    return TrainingTables(validated, split, classes, data)


def graphs_digest(graphs: Sequence[MolGraph] | None) -> str:
    """A hash of the graphs' contents (so checkpoints notice a changed featurizer)."""
    digest = hashlib.sha256()
    for graph in graphs or []:
        for array in (graph.atom_features, graph.bond_index, graph.bond_features):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def train_member(member: Member, data: MemberData, kind: str, network_params: dict[str, Any],
                 scaling: str, options: TrainConfig, device: torch.device, out: Path,
                 checkpoint_dir: Path | None, on_epoch: Callable[[dict], None] | None = None,
                 checkpoint_interval_s: float = 0.0) -> TrainResult:  # fmt: skip
    """Fit one member (features scaled and targets standardized on its training rows only) and
    save it under ``out / member.name``; returns the training result. With ``checkpoint_dir``,
    its checkpoint is written after every epoch, or at most every ``checkpoint_interval_s``
    seconds (and after the first and the last epoch)."""
    import torch

    from molprop.nn.checkpoint import Checkpoint, code_digest, run_key
    from molprop.nn.store import build_network, network_config, network_inputs, save_member
    from molprop.nn.training import fit

    train, val = member.partition.train, member.partition.val
    prep = Preprocessor.fit(data.features.iloc[train], data.columns, scale=scaling)
    y_train, y_val = data.y[train], data.y[val]
    target_scale = None
    if data.task == "regression":
        target_scale = (float(y_train.mean()), float(y_train.std() or 1.0))
        y_train = (y_train - target_scale[0]) / target_scale[1]
        y_val = (y_val - target_scale[0]) / target_scale[1]
    x_train, x_val = prep.transform(data.features.iloc[train]), prep.transform(data.features.iloc[val])
    train_graphs, val_graphs = data.graph_subset(train), data.graph_subset(val)
    config = network_config(kind, len(data.columns), data.n_outputs, network_params)
    options = replace(options, seed=member.seed)
    torch.manual_seed(member.seed)
    network = build_network(kind, config)
    checkpoint = None
    if checkpoint_dir is not None:
        key = run_key(code_digest(), device.type, kind, asdict(config), asdict(options), scaling, x_train, x_val,
                      y_train, y_val, graphs_digest(train_graphs), graphs_digest(val_graphs))
        checkpoint = Checkpoint(checkpoint_dir / f"{member.name}.pt", key, checkpoint_interval_s,
                                partial(_say_restored, member.name))
    try:
        result = fit(network, data.task, (network_inputs(kind, x_train, train_graphs), y_train),
                     (network_inputs(kind, x_val, val_graphs), y_val), options, device, on_epoch, checkpoint)
    except UserInputError as error:  # e.g. diverged: which member (and fold) it was
        raise UserInputError(f"{member.name}: {error}") from None
    save_member(out / member.name, kind, config, result.state_dict, prep, target_scale)
    return result


def _say_restored(name: str, epochs_run: int, finished: bool) -> None:
    if finished:
        print(f"{name}: trained by an earlier run ({epochs_run} epochs); its weights come from its checkpoint",
              flush=True)
    else:
        print(f"{name}: resuming from its checkpoint after {epochs_run} epoch(s)", flush=True)


def predict_rows(out: Path, member: Member, data: MemberData, index: np.ndarray,
                 device: torch.device) -> np.ndarray:
    """A saved member's predictions (target units / class probabilities) for rows ``index``."""
    from molprop.nn.device import one_cpu_thread
    from molprop.nn.store import predict_member

    with one_cpu_thread():
        return predict_member(out / member.name, data.features.iloc[index], data.graph_subset(index),
                              data.task, device)


@dataclass(frozen=True)
class MemberRun:
    """Everything a worker needs to train members, apart from the member itself."""

    data: MemberData
    kind: str
    network_params: dict[str, Any]
    scaling: str
    options: TrainConfig
    device: str
    out: Path
    checkpoint_dir: Path | None
    checkpoint_interval_s: float = 0.0  # 0: a checkpoint after every epoch


def _train_one(run: MemberRun, member: Member) -> TrainResult:
    """Train and save ``member``; its result carries the saved member's validation predictions
    instead of the weights (saved under ``run.out`` already)."""
    import torch

    from molprop.nn.device import one_cpu_thread

    device = torch.device(run.device)
    with one_cpu_thread():  # the same arithmetic whether members run in parallel or not
        result = train_member(member, run.data, run.kind, run.network_params, run.scaling, run.options,
                              device, run.out, run.checkpoint_dir, checkpoint_interval_s=run.checkpoint_interval_s)
    result.state_dict = {}
    val = member.partition.val
    if len(val):
        result.val_predictions = predict_rows(run.out, member, run.data, val, device)
    return result


_RUN: MemberRun | None = None
# the scratch folder through which the run reaches the worker processes
SCRATCH_PREFIX = "molprop-train-"
RUN_FILE, LOCK_FILE = "run.pickle", "owner.lock"


def _init_worker(run_file: str, owner_pid: int) -> None:
    global _RUN
    end_with_owner(owner_pid)  # an interrupted or killed stage's worker ends rather than train on
    try:
        data = Path(run_file).read_bytes()
    except FileNotFoundError:  # the stage stopped (Ctrl-C, SIGTERM) as this worker started, and removed it
        os._exit(1)  # quietly: the stage says why it stopped
    _RUN = pickle.loads(data)


def _train_in_worker(member: Member) -> TrainResult:
    assert _RUN is not None
    return _train_one(_RUN, member)


def worker_count(n_members: int, n_jobs: int, cores: int) -> int:
    """Worker processes for ``n_members`` members: ``n_jobs`` if given (-1: all ``cores``).
    With all cores, members that do not fill the last round of ``cores`` (3 on 2 cores: 2,
    then 1 with a core idle) run more than one per core instead, up to 2 per core,
    with a last round of at least ``cores`` members (3 on 2 cores: all at once; 5: 3, then 2),
    so that no core waits while members are left."""
    if n_jobs == 0 or n_jobs < -1:
        raise UserInputError(f"train.n_jobs must be -1 (all cores) or >= 1, got {n_jobs}")
    if n_jobs != -1:
        return min(n_members, n_jobs)
    if n_members <= cores or n_members % cores == 0:
        return min(n_members, cores)
    for workers in range(cores + 1, 2 * cores + 1):
        if n_members % workers == 0 or n_members % workers >= cores:
            return workers
    return cores


@contextmanager
def train_members(run: MemberRun, members: Sequence[Member],
                  n_jobs: int) -> Iterator[Iterator[tuple[Member, TrainResult]]]:
    """Train every member, ``n_jobs`` at a time in worker processes on the CPU (serially on a
    GPU), each with one torch thread so the weights do not depend on ``n_jobs``. A context
    manager giving an iterator of the members and their results (epoch history, best epoch,
    validation predictions) in order; the workers start on entering it."""
    n_jobs = worker_count(len(members), n_jobs, available_cores())
    remove_orphaned_scratch()  # a serial run (one core, a GPU, n_jobs 1) too: it would never go
    if n_jobs <= 1 or run.device != "cpu":
        yield _train_serially(run, members)
        return
    # The run (data and all) reaches the workers through a file: sent through the pipe, each
    # worker's start would wait until the one before had imported torch and read it.
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch, _held_lock(Path(scratch)):
        run_file = Path(scratch) / RUN_FILE
        run_file.write_bytes(pickle.dumps(run, protocol=pickle.HIGHEST_PROTOCOL))
        context = worker_context()
        with ProcessPoolExecutor(n_jobs, mp_context=context, initializer=_init_worker,
                                 initargs=(str(run_file), os.getpid())) as pool:
            futures = [pool.submit(_train_in_worker, member) for member in members]
            try:
                yield _results(members, futures)
            except BaseException:  # Ctrl-C, an error: the running members stop too, not only the queued
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
                raise


@contextmanager
def _held_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder``'s LOCK_FILE while the block runs: the kernel drops it
    when the process ends, however it ends, which tells an orphaned folder from a live one."""
    with open(folder / f".{LOCK_FILE}", "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        os.replace(folder / f".{LOCK_FILE}", folder / LOCK_FILE)  # appears already held
        yield


def remove_orphaned_scratch(root: str | Path | None = None) -> list[Path]:
    """Delete the scratch folders (a pickled copy of the training data) that train stages
    killed by SIGKILL or SIGTERM left in ``root`` (the temporary directory): this user's
    folders holding only RUN_FILE and an unheld LOCK_FILE. Returns those deleted."""
    if fcntl is None:  # no flock (Windows): nothing tells a live run's folder from a dead one's
        return []
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(SCRATCH_PREFIX + "*"):
        try:
            if (folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid()
                    or {p.name for p in folder.iterdir()} - {RUN_FILE} != {LOCK_FILE}):
                continue
            with open(folder / LOCK_FILE) as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held: a live run's
                shutil.rmtree(folder)
        except OSError:  # held, or gone, or not ours to read
            continue
        removed.append(folder)
    return removed


def _results(members: Sequence[Member], futures: Sequence[Any]) -> Iterator[tuple[Member, TrainResult]]:
    from concurrent.futures.process import BrokenProcessPool

    for member, future in zip(members, futures):
        try:
            yield member, _result(future)
        except BrokenProcessPool as error:
            raise UserInputError("a training worker process died (killed or interrupted, or out of memory?); "
                                 "run `dvc repro` again to resume from checkpoints/train, or lower "
                                 "train.n_jobs for less memory") from error


def _result(future: Any) -> TrainResult:
    """The future's result, waited for in short steps: a SIGINT that the kernel hands to
    another of this process's threads (the executor's) runs Python's handler only once the
    main thread wakes, and a plain wait could sleep through it until the member had trained."""
    while True:
        try:
            return future.result(timeout=0.2)
        except TimeoutError:
            continue


def _train_serially(run: MemberRun, members: Sequence[Member]) -> Iterator[tuple[Member, TrainResult]]:
    for member in members:
        yield member, _train_one(run, member)


def remove_other_checkpoints(folder: str | Path, names: Sequence[str]) -> list[str]:
    """Delete the files in ``folder`` other than the checkpoints of ``names`` (``<name>.pt``):
    those of members a changed ``ensemble_size`` or fold count no longer has would stay in the
    DVC output (cached, hashed) forever. Returns the names of the files deleted. (Here, not in
    nn.checkpoint: the train stage calls it without importing torch on the CPU.)"""
    keep = {f"{name}.pt" for name in names}
    removed = []
    for path in sorted(Path(folder).glob("*")):
        if path.is_file() and path.name not in keep:
            path.unlink()
            removed.append(path.name)
    return removed
