"""``executor="ray"``: the chunks of a library predicted by a Ray Data actor pool.

The driver reads the input in chunks (``stream``: only ids and SMILES) and hands windows of
chunks to Ray Data (``from_pandas``), where ``map_batches`` runs them through a pool of
``ChunkPredictor`` actors, each holding the model (its files are shipped with the actor, so
workers need no shared file system), the training fingerprints and the standardization and
featurization settings. Predicted rows stream back to the driver, which writes the same
resumable part files as the local executor. Ray is an optional dependency
(``pip install -e '.[ray]'`` in the repository) imported only here.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from molprop.errors import UserInputError
from molprop.predict.chunk import process

CHUNK = "_chunk"


def gpus_per_actor(device: str, cluster_gpus: float, n_actors: int) -> float:
    """The share of a GPU each actor asks Ray for: for ``cuda`` or ``auto`` on a cluster with
    GPUs, the GPUs split evenly among the actors (at most one each; Ray hides the GPUs from
    an actor that asks for none); else 0. UserInputError for ``cuda`` on a cluster without GPUs
    and for ``cuda:<index>`` (Ray gives each actor its GPU)."""
    if device.startswith("cuda:"):
        raise UserInputError(f"--device {device}: with --executor ray, Ray gives each actor its GPU; "
                             "use --device cuda (or auto)")
    if device == "cuda" and cluster_gpus <= 0:
        raise UserInputError("--device cuda: the Ray cluster has no GPU; use --device auto or cpu")
    if device not in ("cuda", "auto") or cluster_gpus <= 0:
        return 0.0
    per_gpu = math.ceil(n_actors / cluster_gpus)  # actors sharing one GPU
    return math.floor(10_000 / per_gpu) / 10_000  # rounded down to Ray's 1e-4 units: all of them fit


def _check_loads(model_dir: Path) -> None:
    """Load every member once here, on the CPU: a damaged file is then a ``UserInputError``
    naming it in the user's model directory, not an actor's death inside Ray."""
    from molprop.models.predictor import load_member
    from molprop.models.store import load_card

    card = load_card(model_dir)
    for member in card.members:
        load_member(model_dir, card, member)


def model_files(model_dir: str | Path) -> dict[str, bytes]:
    """The files of a saved model by relative path (the model as actor payload)."""
    from molprop.predict.parts import saved_model_files

    root = Path(model_dir)
    return {str(p.relative_to(root)): p.read_bytes() for p in saved_model_files(root)}


class ChunkPredictor:
    """Ray actor: writes the model to a local folder and loads it once, then predicts
    batches of chunks with ``chunk.process`` (as a local worker process does)."""

    def __init__(self, files: dict[str, bytes], batch_size: int, threshold: float, device: str) -> None:
        from molprop.predict.chunk import held_model
        from molprop.predict.runner import model_info

        self.folder = tempfile.TemporaryDirectory(prefix="molprop_model_")
        for name, data in files.items():
            path = Path(self.folder.name) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.spec = model_info(self.folder.name).spec
        held_model(self.spec, device)  # loaded once per actor; one torch thread (one CPU per actor)
        self.batch_size, self.threshold, self.device = batch_size, threshold, device

    def __call__(self, batch: pd.DataFrame) -> pa.Table:
        tables = []
        for index, frame in batch.groupby(CHUNK, sort=False):
            frame = frame.drop(columns=[CHUNK])
            for start in range(0, len(frame), self.batch_size):
                task = (self.spec, frame.iloc[start : start + self.batch_size], self.threshold, self.device)
                table = process(task)
                tables.append(table.append_column(CHUNK, pa.array([int(index)] * table.num_rows, pa.int64())))
        return pa.concat_tables(tables)


def _connect(address: str | None) -> tuple[Any, bool]:
    """The ray module, connected (to ``address``, RAY_ADDRESS, an instance started on this
    machine with `ray start`, or a new local one: ``ray.init``'s order); True when this call
    connected and should call ``ray.shutdown`` (which only disconnects from a running cluster)."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("executor 'ray' needs Ray: pip install -e '.[ray]' in the repository "
                          "(or pip install 'ray[data]')") from err
    if ray.is_initialized():
        return ray, False
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    ray.init(address=address, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    if main and previous is not None:  # Ray's handler exits with code 15 and a stack dump: the
        signal.signal(signal.SIGTERM, previous)  # caller's (molprop's: exit 143, resume hint) stays
    return ray, True


def run_ray(info, chunks: Iterator[tuple[int, pd.DataFrame]], options, device: str,
            address: str | None = None, n_actors: int | None = None,
            window_chunks: int | None = None) -> Iterator[tuple[int, pa.Table]]:
    """(chunk index, output table) for each chunk, as the actor pool finishes them.

    ``n_actors`` model-holding actors (default: the cluster's CPUs; one CPU each and, for a
    network on ``cuda`` or ``auto``, a share of the cluster's GPUs: :func:`gpus_per_actor`);
    the driver keeps ``window_chunks`` chunks (default 4 per actor) in one Ray Data execution."""
    _check_loads(Path(info.model_dir))
    ray, started = _connect(address)
    try:
        from ray.data import DataContext

        import logging

        context = DataContext.get_current()
        context.enable_progress_bars = False  # molprop shows its own progress bar
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        resources = ray.cluster_resources()
        n_actors = n_actors or max(1, int(resources.get("CPU", 1)))
        gpus = gpus_per_actor(device, resources.get("GPU", 0), n_actors) if info.kind == "torch" else 0.0
        window = window_chunks or 4 * n_actors
        files = model_files(info.model_dir)
        expected: dict[int, int] = {}
        frames: list[pd.DataFrame] = []
        for index, frame in chunks:
            expected[index] = len(frame)
            frames.append(frame.assign(**{CHUNK: index}))
            if len(frames) == window:
                yield from _execute(ray, frames, expected, files, options, device, n_actors, gpus)
                frames = []
        if frames:
            yield from _execute(ray, frames, expected, files, options, device, n_actors, gpus)
    finally:
        if started:
            ray.shutdown()


def _execute(ray, frames: list[pd.DataFrame], expected: dict[int, int], files: dict[str, bytes],
             options, device: str, n_actors: int, gpus: float = 0.0) -> Iterator[tuple[int, pa.Table]]:
    """One Ray Data execution over a window of chunks; each chunk is yielded once complete.

    Each chunk goes to Ray as blocks of ``options.batch_size`` molecules, so that the actors
    share even a single chunk and finish a window together; each block is one batch of the
    actors (``batch_size=None``), the batch a local worker gets, so the outputs are identical
    (Ray re-cut the batches across chunks, and the last digits differed)."""
    size = options.batch_size
    blocks = [frame.iloc[start : start + size] for frame in frames for start in range(0, len(frame), size)]
    dataset = ray.data.from_pandas(blocks).map_batches(
        ChunkPredictor, fn_constructor_args=(files, size, options.ad_threshold, device),
        batch_size=None, batch_format="pandas", num_cpus=1, num_gpus=gpus, zero_copy_batch=True,
        compute=ray.data.ActorPoolStrategy(size=min(n_actors, len(blocks))))  # fmt: skip
    received: dict[int, list[pa.Table]] = {}
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            for index in set(batch.column(CHUNK).to_pylist()):
                rows = batch.filter(pc.equal(batch.column(CHUNK), index)).drop_columns([CHUNK])
                received.setdefault(index, []).append(rows)
                if sum(t.num_rows for t in received[index]) == expected[index]:
                    table = pa.concat_tables(received.pop(index)).sort_by("row")
                    del expected[index]
                    yield index, table
    except Exception as error:  # an actor's UserInputError arrives inside Ray's task error
        message = _user_error(error)
        if message is None:
            raise
        raise UserInputError(message) from None
    if received:
        raise RuntimeError(f"Ray returned incomplete chunks {sorted(received)}")


def _user_error(error: BaseException) -> str | None:
    """The message of a molprop UserInputError raised in an actor, from Ray's task error (its
    chain of causes, or the remote traceback it quotes), or None for any other error."""
    chain, link = [], error
    while link is not None and all(link is not seen for seen in chain):
        if isinstance(link, UserInputError):
            return str(link)
        chain.append(link)
        link = link.__cause__ or getattr(link, "cause", None)
    marker = f"{UserInputError.__module__}.{UserInputError.__qualname__}: "
    for link in chain:
        for line in str(link).splitlines():
            if line.startswith(marker):
                return line[len(marker):]
    return None
