"""Curation of an input table: standardize, apply row rules, merge replicates, count."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from molprop import schema
from molprop.data.io import InputFileError
from molprop.features.parallel import SERVER_EXIT, SERVER_START, available_cores, end_with_owner, short_socket_dir
from molprop.validation.config import ValidationConfig
from molprop.validation.duplicates import resolve_duplicates
from molprop.validation.standardize import MolOutcome, standardize_many
from molprop.validation.targets import (TargetOutcome, case_variants, marker_labels_warning, order_classes,
                                       read_label, read_number, sorted_classes, target_text, unit_of)

REJECTED_COLUMNS = ["row", "smiles_input", "target_input", "reason", "message"]
CHANGES_COLUMNS = ["row", "smiles_input", "smiles", "steps"]


@dataclass(frozen=True)
class CurationResult:
    """``validated`` follows the schema.py contract; ``rejected`` has one row per rejected
    input row; ``changes`` lists rows the standardization changed; ``classes`` is the label of
    each class index (classification only)."""

    validated: pd.DataFrame
    rejected: pd.DataFrame
    changes: pd.DataFrame
    metrics: dict[str, Any]
    classes: list[str]


def n_workers(n_jobs: int) -> int:
    """Worker processes for ``n_jobs`` (-1: every core this process may use)."""
    return n_jobs if n_jobs > 0 else available_cores()


def standardize_column(values: list[object], config: ValidationConfig) -> list[MolOutcome]:
    """Standardize every SMILES cell, in input order; chunks go to worker processes when the
    column is long enough to be worth it."""
    workers = n_workers(config.n_jobs)
    if workers <= 1 or len(values) < config.parallel_min_rows:
        return standardize_many(values, config.standardize, config.rules)
    size = max(1, config.chunk_size)
    chunks = [values[i : i + size] for i in range(0, len(values), size)]
    short_socket_dir()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([SERVER_START, standardize_many.__module__, SERVER_EXIT])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=end_with_owner,
                             initargs=(os.getpid(),)) as pool:
        parts = pool.map(standardize_many, chunks, repeat(config.standardize), repeat(config.rules))
        return [outcome for part in parts for outcome in part]


def curate(table: pd.DataFrame, smiles_column: str, target_column: str,
           config: ValidationConfig) -> CurationResult:
    """Validate every input row: each ends up kept, rejected (with a reason) or merged away.

    Raises ``InputFileError`` when no row survives, when a classification target has more
    distinct labels than ``config.max_classes`` (most likely a continuous column) or labels
    that differ only in letter case (they would become separate classes), or when every kept
    molecule (two or more) has the same target (one value, one class).
    """
    task = config.target.task
    smiles_cells = table[smiles_column].tolist()
    target_cells = table[target_column].tolist()
    molecules = standardize_column(smiles_cells, config)
    read = read_number if task == "regression" else None
    targets = [read(v, config.target) if read else read_label(v, config.target.decimal) for v in target_cells]
    if task != "regression":
        _check_label_spelling(targets, target_column)

    rejected, candidates, changes = [], [], []
    for row, (cell, mol, target) in enumerate(zip(smiles_cells, molecules, targets)):
        smiles_input = target_text(cell)
        if mol.reason is None and mol.steps_changed:
            changes.append((row, smiles_input, mol.smiles, mol.steps_changed))
        failed = mol if mol.reason is not None else target if target.reason is not None else None
        if failed is not None:
            rejected.append((row, smiles_input, target_text(target_cells[row]), failed.reason,
                             failed.message))
        else:
            candidates.append((mol.key, row, smiles_input, mol.smiles, target.value,
                               target_text(target_cells[row])))
    if not candidates:
        raise _no_valid_rows(len(table), rejected, config.target.range_from)
    frame = pd.DataFrame(candidates, columns=["key", "row", "smiles_input", "smiles", "value",
                                              "target_input"])
    dup = resolve_duplicates(frame, config.duplicates, task)
    for item in dup.conflicts.itertuples(index=False):
        rejected.append((item.row, item.smiles_input, item.target_input,
                         "conflicting_duplicates", item.message))
    if dup.merged.empty:  # every remaining row belonged to a conflicting replicate group
        raise _no_valid_rows(len(table), rejected, config.target.range_from)

    merged = dup.merged
    _check_target_varies(merged["value"], target_column, task, rejected)
    columns = {schema.MOL_ID: merged["key"].astype("str"),
               schema.ROW: merged["row"].astype("int64"),
               schema.SMILES_INPUT: merged["smiles_input"].astype("str"),
               schema.SMILES: merged["smiles"].astype("str")}
    classes: list[str] = []
    if task == "regression":
        columns[schema.TARGET] = merged["value"].astype("float64")
    else:
        classes = sorted_classes(merged["value"].tolist())
        if len(classes) > config.max_classes:
            raise InputFileError(f"Target '{target_column}' has {len(classes)} distinct labels "
                                 f"(more than validate.max_classes = {config.max_classes}): is it "
                                 "a continuous value? Use data.task: regression for it.")
        _check_labels_are_classes(merged, target_column)
        positive = config.target.positive_class
        if isinstance(positive, bool):  # YAML reads positive_class: TRUE / yes as a boolean
            spelled = [label for label in classes if label.lower() == str(positive).lower()]
            positive = spelled[0] if len(spelled) == 1 else str(positive)
        if positive is not None:
            positive = read_label(positive, config.target.decimal).value
        try:
            classes = order_classes(classes, positive)
        except ValueError as err:
            raise InputFileError(f"Target '{target_column}': {err}") from None
        index = {label: i for i, label in enumerate(classes)}
        columns[schema.TARGET] = merged["value"].map(index).astype("int64")
        columns[schema.LABEL] = merged["value"].astype("str")
    columns[schema.N_REPLICATES] = merged["n_replicates"].astype("int64")
    validated = pd.DataFrame(columns).reset_index(drop=True)

    rejected_frame = pd.DataFrame(sorted(rejected), columns=REJECTED_COLUMNS)
    metrics = _metrics(len(table), validated, rejected_frame, len(changes),
                       dup.n_groups_merged, dup.n_merged_away, classes)
    return CurationResult(validated, rejected_frame,
                          pd.DataFrame(changes, columns=CHANGES_COLUMNS), metrics, classes)


def _check_label_spelling(targets: list[TargetOutcome], target_column: str) -> None:
    """Refuse class labels written in more than one letter case ('Active', 'active')."""
    variants = case_variants([t.value if t.reason is None else None for t in targets])
    if variants:
        def rows(positions: list[int]) -> str:
            more = f" and {len(positions) - 3} more" if len(positions) > 3 else ""
            return f"row{'s' if len(positions) > 1 else ''} {', '.join(map(str, positions[:3]))}{more}"

        found = "; ".join(f"'{label}' ({rows(positions)})" for label, positions in sorted(variants.items()))
        raise InputFileError(f"Target '{target_column}' has class labels that differ only in letter "
                             f"case: {found} (0-based data rows). They would be separate classes; "
                             "write each class one way in the file.")


def _check_labels_are_classes(merged: pd.DataFrame, target_column: str) -> None:
    """Refuse labels that read as measurements: numbers with decimals (-4.59), or more than
    two labels with most molecules alone in their class (``merged``: label and row per molecule)."""
    counts = merged["value"].value_counts()
    fractional = [label for label in counts.index if _is_fractional(label)]
    alone = int((counts == 1).sum())
    if fractional or (len(counts) > 2 and 2 * alone > counts.sum()):
        example = f", {alone} of them with one molecule each"
        if fractional:
            row = int(merged.loc[merged["value"] == fractional[0], "row"].min())
            example = f" such as {fractional[0]} (0-based data row {row})"
        raise InputFileError(f"Target '{target_column}' has {len(counts)} distinct labels for {counts.sum()} "
                             f"molecules{example}: is it a continuous value? Use data.task: regression "
                             "for it, or bin it into classes first (class labels are text or whole numbers).")


def _is_fractional(label: str) -> bool:
    try:
        number = float(label)
    except ValueError:
        return False
    return np.isfinite(number) and not number.is_integer()


def _check_target_varies(values: pd.Series, target_column: str, task: str, rejected: list[tuple]) -> None:
    """Refuse two or more kept molecules that all have one target value (regression) or one
    class (fewer molecules than validate.expectations.min_rows fail the suite anyway)."""
    if len(values) < 2 or values.nunique() > 1:
        return
    value = values.iloc[0]
    if task == "regression":
        what = f"the same value ({value:g}) for all {len(values)} kept molecules: there is nothing to learn"
    else:
        what = (f"one class ('{value}') among the {len(values)} kept molecules: a classifier "
                "needs at least two")
    dropped = ""
    if rejected:
        dropped = f" ({len(rejected)} rows were rejected; most common reasons: {_top_reasons(rejected)})"
    # a class written as a missing-value marker ('none' beside 'active') was lost with its rows
    markers = marker_labels_warning([r[2] for r in rejected if r[3] == "missing_target"],
                                    len(values) + len(rejected)) if task == "classification" else None
    raise InputFileError(f"Target '{target_column}' has {what}{dropped}. Check data.target_column "
                         "and data.task." + (f" Note: {markers}." if markers else ""))


def _top_reasons(rejected: list[tuple]) -> list[tuple[str, int]]:
    """The three most common rejection reasons with their counts."""
    return Counter(r[3] for r in rejected).most_common(3)


def _no_valid_rows(n_in: int, rejected: list[tuple], range_from: str = "validate.target_range") -> InputFileError:
    """The error raised when every input row was rejected, with the most common reasons
    (``range_from``: where the target's range is set)."""
    counts = _top_reasons(rejected)
    hint = ""
    if counts:  # what the most common reason says about its first row, e.g. to set data.decimal
        row, _, _, reason, message = min(r for r in rejected if r[3] == counts[0][0])
        hint = f" The first {reason} row ({row}, 0-based data rows): {message}"
    if counts and counts[0][0] == "non_numeric_target":
        texts = [r[2] for r in rejected if r[3] == "non_numeric_target"]
        units = Counter(unit for unit in map(unit_of, texts) if unit)
        if 2 * sum(units.values()) >= len(texts):  # measurements with their units, not labels
            hint += (f" {sum(units.values())} of the {len(texts)} targets that are not numbers carry a unit "
                     f"({', '.join(repr(u) for u, _ in units.most_common(3))}): give plain numbers, all in one "
                     "unit.")
        else:
            hint += " If the target column holds class labels, set data.task: classification."
    check = (f"{range_from}: its range for the target column is not in the column's units (or "
             "data.target_column names another column)" if counts and counts[0][0] == "target_out_of_range"
             else "data.smiles_column / data.target_column")
    return InputFileError(f"No valid rows: all {n_in} rows were rejected (most common "
                          f"reasons: {counts}). Check {check}.{hint}")


def _metrics(n_in: int, validated: pd.DataFrame, rejected: pd.DataFrame, n_changed: int,
             n_groups: int, n_away: int, classes: list[str]) -> dict[str, Any]:
    by_reason = rejected["reason"].value_counts()
    metrics: dict[str, Any] = {
        "n_in": n_in,
        "n_kept": len(validated),
        "n_rejected": len(rejected),
        "rejected_by_reason": {str(k): int(by_reason[k]) for k in sorted(by_reason.index)},
        "n_standardized_changed": n_changed,
        "n_duplicate_groups_merged": n_groups,
        "n_merged_away": n_away,
    }
    if classes:
        metrics["n_classes"] = len(classes)
        counts = np.bincount(validated[schema.TARGET].to_numpy(), minlength=len(classes))
        metrics["class_counts"] = {label: int(n) for label, n in zip(classes, counts)}
        if len(classes) == 2:
            metrics["positive_class"] = classes[1]
    if metrics["n_kept"] + metrics["n_rejected"] + metrics["n_merged_away"] != n_in:
        raise RuntimeError(f"validation accounting is broken: {metrics}")
    return metrics
