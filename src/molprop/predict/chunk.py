"""One chunk of a library through the model: the per-molecule work and the prediction.

``prepare`` (run in worker processes or Ray actors, no model needed) standardizes each SMILES
with the training-time settings (``molprop.validation.standardize``), featurizes the valid
molecules with the training-time featurizers (``molprop.features.chunk.featurize_chunk``)
and scores their applicability domain. ``predict_prepared`` (run where the model is) turns
prepared batches into output rows with ``molprop.models.predictor.predict_saved``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from molprop.features.config import FeaturizeConfig
from molprop.features.descriptors import descriptor_columns
from molprop.features.fingerprints import fingerprint_columns
from molprop.features.graph import concat_chunks
from molprop.features.chunk import ChunkResult, featurize_chunk
from molprop.models.matrix import FEATURE_GROUPS
from molprop.predict.context import DomainFingerprint, DomainLimits
from molprop.predict.domain import TrainingSet, bit_fingerprints
from molprop.validation.config import MoleculeRules, StandardizeConfig

OK, INVALID = "ok", "invalid"
DESC_PREFIX = FEATURE_GROUPS["descriptors"]


@dataclass(frozen=True)
class PrepareSpec:
    """Everything ``prepare`` needs, small enough to send with every batch."""

    model_dir: str
    model_md5: str  # the files' digest: a process's cached model is the one now on disk
    standardize: StandardizeConfig
    rules: MoleculeRules
    featurize: FeaturizeConfig
    domain: DomainFingerprint
    limits: DomainLimits = DomainLimits()


@dataclass
class Prepared:
    """A batch after the per-molecule work: one row per input molecule in ``frame`` (row,
    id, smiles_input, smiles, status, reason, message); features and similarity of the
    ``status == "ok"`` rows, in order, and whether each lies outside the training molecules'
    elements and net charges (``outside``; the reason is in ``frame``'s message)."""

    frame: pd.DataFrame
    features: ChunkResult | None
    similarity: np.ndarray
    outside: np.ndarray | None = None


_TRAINING: dict[tuple[str, str], TrainingSet] = {}  # per process: the training fingerprints, loaded once


def training_set(spec: PrepareSpec) -> TrainingSet:
    """The model's training fingerprints, loaded once per process and model version."""
    key = (spec.model_dir, spec.model_md5)
    if key not in _TRAINING:
        from molprop.predict.context import TRAIN_FPS_FILE

        packed = np.load(Path(spec.model_dir) / TRAIN_FPS_FILE, allow_pickle=False)
        _forget_other_versions(_TRAINING, spec)
        _TRAINING[key] = TrainingSet(packed, spec.domain.n_bits)
    return _TRAINING[key]


def _featurize(ids: list[str], smiles: list[str], config: FeaturizeConfig) -> tuple[ChunkResult | None, list[str | None]]:
    """Features of the molecules, and per molecule the error message of a featurizer that
    failed on it (None when it worked); failed molecules are left out of the features."""
    try:
        return featurize_chunk((ids, smiles, config)), [None] * len(ids)
    except Exception:  # noqa: BLE001 - find the molecule(s) responsible, one at a time
        pass
    results, errors = [], []
    for one_id, one in zip(ids, smiles):
        try:
            results.append(featurize_chunk(([one_id], [one], config)))
            errors.append(None)
        except Exception as err:  # noqa: BLE001 - reported on the molecule's output row
            errors.append(f"{type(err).__name__}: {err}"[:300])
    if not results:
        return None, errors
    stack = lambda name: None if getattr(results[0], name) is None else np.concatenate([getattr(r, name) for r in results])  # noqa: E731
    graphs = None if results[0].graphs is None else concat_chunks([r.graphs for r in results])
    return ChunkResult(stack("fingerprints"), sum(r.n_clipped for r in results), stack("descriptors"), graphs), errors


def _for_predict(message: str | None) -> str | None:
    """validate's rejection message, where it names a setting to change, with what that means
    here: the rules are the model's, saved when it was trained."""
    if message and "validate." in message:
        return (f"{message} (In predict the rules are the model's, as it was trained: change the "
                "setting in params.yaml and re-run the pipeline, then predict with the new model.)")
    return message or None


def prepare(task: tuple[PrepareSpec, pd.DataFrame]) -> Prepared:
    """Standardize, featurize and score the applicability domain of one batch (a stream.py
    chunk frame). Rows that fail get status ``invalid`` with the validation reason code."""
    from rdkit import Chem

    from molprop.validation.standardize import standardize_many

    spec, batch = task
    frame = batch.reset_index(drop=True).copy()
    outcomes = standardize_many(frame["smiles_input"].tolist(), spec.standardize, spec.rules)
    frame["smiles"] = [o.smiles for o in outcomes]
    frame["reason"] = [o.reason for o in outcomes]
    frame["message"] = [_for_predict(o.message) for o in outcomes]
    ok = frame.index[frame["reason"].isna()]
    ids, smiles = frame.loc[ok, "id"].tolist(), frame.loc[ok, "smiles"].tolist()
    features, errors = _featurize(ids, smiles, spec.featurize) if len(ok) else (None, [])
    failed = [i for i, e in zip(ok, errors) if e is not None]
    if failed:
        frame.loc[failed, "reason"] = "featurization_failed"
        frame.loc[failed, "message"] = [e for e in errors if e is not None]
        frame.loc[failed, "smiles"] = None
        ok = ok.difference(failed)
    frame["status"] = np.where(frame["reason"].isna(), OK, INVALID)
    similarity, outside = np.zeros(0, np.float64), np.zeros(0, bool)
    if len(ok):
        morgan = spec.featurize.morgan
        if morgan is not None and (morgan.radius, morgan.n_bits) == (spec.domain.radius, spec.domain.n_bits):
            query = np.packbits(features.fingerprints > 0, axis=1)  # the same bits, no re-parse
        else:
            mols = [Chem.MolFromSmiles(s) for s in frame.loc[ok, "smiles"]]
            query = bit_fingerprints(mols, spec.domain.radius, spec.domain.n_bits)
        similarity = training_set(spec).max_similarity(query)
        # elements and formal charges need no sanitization (a third of a full parse's time)
        notes = [spec.limits.outside(Chem.MolFromSmiles(s, sanitize=False)) for s in frame.loc[ok, "smiles"]] \
            if spec.limits != DomainLimits() else [None] * len(ok)
        outside = np.array([note is not None for note in notes])
        frame.loc[ok, "message"] = [_joined(message, f"outside the applicability domain: {note}" if note else None)
                                    for message, note in zip(frame.loc[ok, "message"], notes)]
    return Prepared(frame, features, similarity, outside)


def _joined(*messages: str | None) -> str | None:
    return "; ".join(m for m in messages if isinstance(m, str) and m) or None


def output_schema(task: str, classes: Sequence[str]) -> pa.Schema:
    """Columns of the output: one row per input molecule."""
    fields = [pa.field("row", pa.int64()), pa.field("id", pa.string()),
              pa.field("smiles_input", pa.string()), pa.field("smiles", pa.string()),
              pa.field("prediction", pa.float64() if task != "classification" else pa.string())]
    fields += [pa.field(f"p_{label}", pa.float64()) for label in classes]
    fields += [pa.field("uncertainty", pa.float64()), pa.field("ad_similarity", pa.float64()),
               pa.field("in_domain", pa.bool_()), pa.field("status", pa.string()),
               pa.field("reason", pa.string()), pa.field("message", pa.string())]
    return pa.schema(fields)


def _feature_frame(parts: Sequence[ChunkResult], config: FeaturizeConfig) -> pd.DataFrame:
    blocks = []
    if config.morgan is not None:
        fps = np.concatenate([p.fingerprints for p in parts])
        blocks.append(pd.DataFrame(fps, columns=fingerprint_columns(config.morgan), copy=False))
    if config.descriptors is not None:
        desc = np.concatenate([p.descriptors for p in parts])
        blocks.append(pd.DataFrame(desc, columns=descriptor_columns(config.descriptors.set), copy=False))
    n = sum(len(p.fingerprints if p.fingerprints is not None else p.descriptors if p.descriptors
                is not None else p.graphs) for p in parts)
    return pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=range(n))


def imputed_notes(features: pd.DataFrame, columns: Sequence[str]) -> list[str | None]:
    """Per row of ``features``: which of the model's descriptor ``columns`` are not finite
    there (RDKit could not compute them for the molecule; the model reads its training
    median instead), or None."""
    used = [c for c in columns if c in features.columns and c.startswith(DESC_PREFIX)]
    if not used:
        return [None] * len(features)
    bad = ~np.isfinite(features[used].to_numpy(dtype=np.float64))
    names = np.asarray([c.removeprefix(DESC_PREFIX) for c in used], dtype=object)

    def note(row: np.ndarray) -> str:
        shown = ", ".join(names[row][:5]) + (f" and {row.sum() - 5} more" if row.sum() > 5 else "")
        return f"{row.sum()} descriptor(s) without a finite value for it, read as the training median: {shown}"

    return [note(row) if row.any() else None for row in bad]


def predict_prepared(batches: Sequence[Prepared], model, config: FeaturizeConfig,
                     threshold: float) -> pa.Table:
    """Output rows (``output_schema``) of prepared batches, predicted with a ``HeldModel``."""
    task, classes = model.card.task, list(model.card.classes)
    frame = pd.concat([b.frame for b in batches], ignore_index=True)
    parts = [b.features for b in batches if b.features is not None]
    ok = (frame["status"] == OK).to_numpy()
    n_ok, n_classes = int(ok.sum()), len(classes)
    prediction = np.full((len(frame), n_classes) if n_classes else len(frame), np.nan)
    uncertainty = np.full(len(frame), np.nan)
    similarity = np.full(len(frame), np.nan)
    if n_ok:
        graphs = concat_chunks([p.graphs for p in parts]).graphs() if config.graph else None
        features = _feature_frame(parts, config)
        pred = model.predict(features, graphs)
        rows = frame.index[ok]
        frame.loc[rows, "message"] = [_joined(message, note) for message, note in
                                      zip(frame.loc[rows, "message"], imputed_notes(features, model.feature_columns))]
        similarity[ok] = np.concatenate([b.similarity for b in batches])
        outside = np.concatenate([b.outside if b.outside is not None else np.zeros(len(b.similarity), bool)
                                  for b in batches])
        prediction[ok] = pred.mean
        if n_classes:  # the spread over all members (k-fold: every fold's) of the predicted class's probability
            best = pred.mean.argmax(axis=1)
            uncertainty[ok] = pred.members.std(axis=0)[np.arange(n_ok), best]
        else:
            uncertainty[ok] = pred.uncertainty
    columns = {name: frame[name] for name in ("row", "id", "smiles_input", "smiles")}
    if n_classes:
        labels = np.asarray(classes, dtype=object)[np.nan_to_num(prediction).argmax(axis=1)]
        columns["prediction"] = np.where(ok, labels, None)
        columns |= {f"p_{label}": prediction[:, k] for k, label in enumerate(classes)}
    else:
        columns["prediction"] = prediction
    within = similarity >= threshold
    if n_ok:
        within[ok] &= ~outside
    in_domain = pd.array(np.where(ok, within, False), dtype="boolean")
    in_domain[~ok] = pd.NA
    columns |= {"uncertainty": uncertainty, "ad_similarity": similarity, "in_domain": in_domain,
                "status": frame["status"], "reason": frame["reason"], "message": frame["message"]}
    schema = output_schema(task, classes)
    return pa.Table.from_pandas(pd.DataFrame(columns), schema=schema, preserve_index=False)


_HELD: dict[tuple[str, str, str], object] = {}  # per process: the model, loaded once


def held_model(spec: PrepareSpec, device: str):
    """The model of ``spec.model_dir``, loaded once per process and model version (a network
    predicts on one torch thread: :meth:`HeldModel.predict`)."""
    key = (spec.model_dir, spec.model_md5, device)
    if key not in _HELD:
        from molprop.predict.model import HeldModel

        _forget_other_versions(_HELD, spec)
        _HELD[key] = HeldModel(spec.model_dir, device)
    return _HELD[key]


def _forget_other_versions(cache: dict, spec: PrepareSpec) -> None:
    """Drop what ``cache`` holds for another version of the model in ``spec.model_dir`` (one
    retrained or checked out in place since): it is not used again."""
    for key in [k for k in cache if k[0] == spec.model_dir and k[1] != spec.model_md5]:
        del cache[key]


def process(task: tuple[PrepareSpec, pd.DataFrame, float, str]) -> pa.Table:
    """Output rows of one batch: ``prepare`` then the model (held by this process). The unit
    of work of a worker process or a Ray actor."""
    spec, batch, threshold, device = task
    model = held_model(spec, device)
    return predict_prepared([prepare((spec, batch))], model, spec.featurize, threshold)
