"""``predict_file``: a saved model over a molecule library, streamed, resumable, in order.

Chunks of ``chunk_size`` molecules are read from the input (``stream``), split into batches
of ``batch_size`` that worker processes run through ``chunk.process`` (standardize,
featurize, applicability domain, model: each worker holds the model and the training
fingerprints once), and written as one part per chunk (``parts``). Memory holds a bounded
number of batches; a re-run with the same input, model and settings skips the chunks already written.
With ``executor="ray"`` the same chunks are prepared and predicted by a Ray Data actor pool
(``ray_executor``).
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from molprop.errors import UserInputError
from molprop.predict.chunk import PrepareSpec, output_schema, process
from molprop.predict.context import load_predict_context
from molprop.predict.domain import DEFAULT_THRESHOLD
from molprop.predict.parts import PartStore, model_md5, output_lock, refuse_output_on_input, run_identity
from molprop.predict.stream import check_columns, count_rows, iter_chunks, resolve_id_column

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class PredictOptions:
    """How a library is read and scored (the settings a resumed run must share)."""

    smiles_column: str = "smiles"
    id_column: str | None = None  # None: the first of stream.ID_COLUMNS present, else the row number
    chunk_size: int = 10_000  # molecules per part file (the unit of resumption)
    batch_size: int = 500  # molecules per task sent to a worker
    ad_threshold: float = DEFAULT_THRESHOLD  # in domain: nearest training similarity >= this

    def __post_init__(self) -> None:
        if self.chunk_size < 1 or self.batch_size < 1:
            raise UserInputError(f"chunk_size and batch_size must be >= 1 ({self.chunk_size}, {self.batch_size})")
        if not 0.0 <= self.ad_threshold <= 1.0:
            raise UserInputError(f"ad_threshold must be in [0, 1], got {self.ad_threshold}")


@dataclass(frozen=True)
class ModelInfo:
    """What the driver knows about the model: card fields and the prepare spec."""

    model_dir: str
    task: str
    classes: list[str]
    spec: PrepareSpec
    kind: str  # the card's kind: sklearn, or torch for a network


def model_info(model_dir: str | Path) -> ModelInfo:
    """Read the model card and saved context into what prediction needs."""
    from molprop.models.predictor import check_members
    from molprop.models.store import load_card

    model_dir = Path(model_dir).resolve()
    context = load_predict_context(model_dir)
    card = load_card(model_dir)
    check_members(model_dir, card)
    graph = card.kind == "torch" and _needs_graphs(model_dir, card.members)
    try:
        from molprop.params_check import params_problems

        # the saved sections as params.yaml's schema checks them: a hand-edited value of the
        # wrong type failed only while the molecules were read (max_heavy_atoms "many")
        problems = params_problems({"validate": context.validate, "featurize": context.featurize}, require_keys=False)
        if problems:
            raise ValueError(problems[0])
        standardize, rules = context.standardization()
        featurize = context.featurization(card.feature_groups, graph)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        from molprop.models.store import REPAIR

        raise UserInputError(f"{model_dir}/predict_context.json: its training-time settings cannot be read "
                             f"({type(error).__name__}: {str(error)[:120]}): the model directory is damaged. "
                             f"{REPAIR}") from None
    spec = PrepareSpec(str(model_dir), model_md5(model_dir), standardize, rules, featurize, context.domain,
                       context.limits)
    return ModelInfo(str(model_dir), card.task, list(card.classes), spec, card.kind)


def _needs_graphs(model_dir: Path, members: list[str]) -> bool:
    from molprop.models.store import REPAIR, read_model_json
    from molprop.nn.training_types import NEEDS_GRAPHS

    needs = []
    for member in members:
        path = model_dir / member / "network.json"
        kind = read_model_json(path)
        kind = kind.get("kind") if isinstance(kind, dict) else None
        if not isinstance(kind, str) or kind not in NEEDS_GRAPHS:
            raise UserInputError(f"{path} names no known network kind ({kind!r}): the model directory is "
                                 f"damaged. {REPAIR}")
        needs.append(NEEDS_GRAPHS[kind])
    return any(needs)


def _batches(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def run_local(info: ModelInfo, chunks: Iterator[tuple[int, pd.DataFrame]], options: PredictOptions,
              n_jobs: int, device: str) -> Iterator[tuple[int, pa.Table]]:
    """(chunk index, output table) for each chunk, in order. Batches of a chunk go to
    ``n_jobs`` worker processes (-1: every core), each holding the model once."""
    from molprop.features.parallel import ordered_map, resolve_n_jobs

    pending: dict[int, list[pa.Table]] = {}
    sizes: dict[int, int] = {}
    queue: deque[int] = deque()  # chunk index of each batch handed to the pool, in order

    def tasks():
        for index, frame in chunks:
            batches = list(_batches(frame, options.batch_size))
            sizes[index] = len(batches)
            for batch in batches:
                queue.append(index)
                yield info.spec, batch, options.ad_threshold, device

    for table in ordered_map(process, tasks(), resolve_n_jobs(n_jobs)):
        index = queue.popleft()
        pending.setdefault(index, []).append(table)
        if len(pending[index]) == sizes[index]:
            yield index, pa.concat_tables(pending.pop(index))


def predict_file(model_dir: str | Path, input_path: str | Path, output: str | Path,
                 options: PredictOptions = PredictOptions(), executor: str = "local",
                 n_jobs: int = -1, device: str = "auto", overwrite: bool = False,
                 progress: bool = True, ray_options: dict | None = None) -> dict[str, Any]:
    """Predict every molecule of ``input_path`` (CSV/TSV/Parquet/.smi) with the model in
    ``model_dir`` and write ``output`` (.parquet, .csv, or a directory of parts); resumes an
    interrupted run. Without ``options.id_column`` the id column is detected
    (``stream.resolve_id_column``). Returns a summary: output path, rows, invalid rows,
    out-of-domain rows, the id column used (``id_column``, ``id_source``: given, detected,
    row or smi) and ``repeated_ids`` (rows whose id repeats an earlier row's; all are kept)."""
    if executor not in EXECUTORS:
        raise UserInputError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    actors = (ray_options or {}).get("n_actors")
    if executor == "ray" and actors is not None and actors < 1:  # before --overwrite removes anything
        raise UserInputError(f"--ray-actors {actors}: give 1 or more actors (default: the cluster's CPUs)")
    output = Path(os.path.normpath(output))  # 'new/../out.csv' is out.csv (mkdir of 'new/..' failed)
    if output.name in ("", ".."):  # "." or "..": the folder by its name (its lock file is named after it)
        output = output.resolve()
    info = model_info(model_dir)
    if info.kind == "torch":  # before any output is made (the workers say it with torch imported)
        from molprop.nn.workers import device_name_problem

        problem = device_name_problem(device)
        if problem:
            raise UserInputError(f"device {device!r}: {problem}")
    id_column, id_source = resolve_id_column(input_path, options.id_column, options.smiles_column)
    options = replace(options, id_column=id_column)
    # every option: a network's float32 sums depend on the batch's shape in their last digits,
    # so even --batch-size is output-relevant and a resumed run must keep it; so is a
    # network's --device (as asked: resolving auto would import torch here)
    settings = asdict(options) | ({"device": device} if info.kind == "torch" else {})
    check_columns(input_path, options.smiles_column, options.id_column)
    refuse_output_on_input(output, input_path)
    with output_lock(output):
        store = PartStore(output, run_identity(input_path, info.spec.model_md5, settings), overwrite)
        try:
            result = _run(store, info, input_path, options, executor, n_jobs, device, progress, ray_options,
                          count_repeats=id_source != "row")
        except BaseException:
            store.discard_if_empty()
            raise
    parts = store.manifest["parts"].values()
    repeats = store.manifest.get("repeated_ids") or {"rows": 0, "examples": []}
    return {"output": str(result), "rows": sum(int(p["rows"]) for p in parts),
            "invalid": sum(int(p["invalid"]) for p in parts),
            "out_of_domain": sum(int(p["out_of_domain"]) for p in parts),
            "id_column": id_column, "id_source": id_source, "repeated_ids": repeats["rows"],
            "repeated_id_examples": repeats["examples"]}


def _run(store: PartStore, info: ModelInfo, input_path: str | Path, options: PredictOptions, executor: str,
         n_jobs: int, device: str, progress: bool, ray_options: dict | None, count_repeats: bool) -> Path:
    """Predict the chunks ``store`` lacks, write them and merge the output; returns its path."""
    from tqdm import tqdm

    if store.complete:  # a file output: killed while the parts were merged; merge them again
        if store.kind == "directory":
            return store.folder
        return store.finish(len(store.manifest["parts"]), output_schema(info.task, info.classes),
                            count_repeats=count_repeats)
    done = store.done()
    total = count_rows(input_path)
    seen = [0]  # chunks in the input, counted as they are read

    def chunks() -> Iterator[tuple[int, pd.DataFrame]]:
        reader = iter_chunks(input_path, options.chunk_size, options.smiles_column, options.id_column)
        for index, frame in enumerate(reader):
            seen[0] = index + 1
            if index not in done:
                yield index, frame
    n_done = sum(int(v["rows"]) for v in store.manifest["parts"].values())
    bar = tqdm(total=total, initial=n_done, unit="mol", desc="predict", disable=not progress,
               file=sys.stderr, mininterval=1.0, smoothing=0.1)
    if executor == "local":
        results = run_local(info, chunks(), options, n_jobs, device)
    else:
        from molprop.predict.ray_executor import run_ray

        results = run_ray(info, chunks(), options, device, **(ray_options or {}))
    with bar:
        for index, table in results:
            store.write(index, table, _summary(table))
            bar.update(table.num_rows)
    return store.finish(seen[0], output_schema(info.task, info.classes), count_repeats=count_repeats)


def _summary(table) -> dict[str, int]:
    status = table.column("status").to_pylist()
    in_domain = table.column("in_domain").to_pylist()
    return {"rows": table.num_rows, "invalid": sum(s != "ok" for s in status),
            "out_of_domain": sum(d is False for d in in_domain)}
