"""Configuration of the validation step, built from the ``validate`` section of params."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from molprop.errors import UserInputError

IDENTITY_KEYS = ("inchikey", "smiles")
AGGREGATES = ("median", "mean")


@dataclass(frozen=True)
class StandardizeConfig:
    """Which rdMolStandardize steps run, in this order, and which identity key is used."""

    isotope_parent: bool = True
    cleanup: bool = True
    fragment_parent: bool = True
    neutralize: bool = True
    canonical_tautomer: bool = False
    remove_stereo: bool = False
    identity_key: str = "smiles"

    def __post_init__(self) -> None:
        if self.identity_key not in IDENTITY_KEYS:
            raise UserInputError(f"identity_key must be one of {IDENTITY_KEYS}, got {self.identity_key!r}")


@dataclass(frozen=True)
class MoleculeRules:
    """Row rules on the standardized molecule."""

    max_heavy_atoms: int = 100
    reject_metals: bool = True
    reject_inorganic: bool = False
    reject_mixtures: bool = True


@dataclass(frozen=True)
class TargetRules:
    """How target cells are read: task, the plausible range (regression only), the decimal
    mark of numbers written as text (``.`` or ``,``) and, for two classes, the label of the
    positive class (class 1; None: the second label in sorted order)."""

    task: str = "regression"
    min_value: float | None = None
    max_value: float | None = None
    decimal: str = "."
    positive_class: str | None = None
    range_from: str = "validate.target_range"  # where the range is set, for messages

    def __post_init__(self) -> None:
        if self.task not in ("regression", "classification"):
            raise UserInputError(f"task must be regression or classification, got {self.task!r}")
        if self.decimal not in (".", ","):
            raise UserInputError(f"data.decimal must be '.' or ',', got {self.decimal!r}")


@dataclass(frozen=True)
class DuplicatePolicy:
    """Replicates within ``tolerance`` (max - min) are merged with ``aggregate``; others conflict."""

    tolerance: float = 0.5
    aggregate: str = "median"

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise UserInputError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if not self.tolerance >= 0:
            raise UserInputError(f"duplicate tolerance must be >= 0, got {self.tolerance!r}")


@dataclass(frozen=True)
class ValidationConfig:
    """Everything ``curate`` needs besides the table."""

    standardize: StandardizeConfig = field(default_factory=StandardizeConfig)
    rules: MoleculeRules = field(default_factory=MoleculeRules)
    target: TargetRules = field(default_factory=TargetRules)
    duplicates: DuplicatePolicy = field(default_factory=DuplicatePolicy)
    n_jobs: int = -1  # -1: all available cores
    chunk_size: int = 2000
    parallel_min_rows: int = 5000
    max_classes: int = 50


def _build(cls: type, values: dict[str, Any] | None, where: str, **extra: Any) -> Any:
    """A dataclass from a params mapping; unknown keys are an error (typos must not pass)."""
    values = dict(values or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UserInputError(f"params {where}: unknown key(s) {unknown}; known: {sorted(names)}")
    return cls(**values, **extra)


def target_range_note(section: dict[str, Any], task: str, target_column: str,
                      dataset_ranges: dict[str, list] | None = None) -> str | None:
    """A warning when ``validate.target_range`` has no entry for the target column but one whose
    name differs only in letter case (an entry meant for it, or another dataset's: SOL and sol);
    ``dataset_ranges``: a built-in dataset's own ranges, checked instead."""
    ranges = section.get("target_range") or {}
    other = [key for key in ranges if str(key).strip().lower() == target_column.strip().lower()]
    if task != "regression" or target_column in ranges or not other:
        return None
    own = (dataset_ranges or {}).get(target_column)
    checked = f"the dataset's own range {own} was checked" if own is not None else "no range was checked"
    return (f"validate.target_range has an entry {other[0]!r} but none for the target column {target_column!r} "
            f"(names are case-sensitive), so {checked}; if that entry is meant for this column, "
            f"rename it to {target_column!r} (if it belongs to another dataset, in other units, leave it)")


def config_from_params(
    section: dict[str, Any], task: str, target_column: str, decimal: str = ".",
    positive_class: str | None = None, dataset_ranges: dict[str, list] | None = None,
    dataset: str = "the dataset's descriptor",
) -> tuple[ValidationConfig, dict[str, Any]]:
    """The curation config and the expectation settings from the ``validate`` params section
    (``decimal``: the decimal mark of the input's numbers, and ``positive_class``, from the
    ``data`` section; the positive class is not used for regression).

    ``target_range`` maps target column names to ``[min, max]``; a column that is not listed
    there takes its range from ``dataset_ranges`` (a built-in dataset's own, from the
    descriptor file ``dataset``: :func:`molprop.data.builtin.builtin_target_ranges`), else
    gets no range check (classification never has one).
    """
    section = dict(section)
    known = {"standardize", "identity_key", "rules", "target_range", "duplicates",
             "expectations", "n_jobs", "chunk_size", "parallel_min_rows", "max_classes"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise UserInputError(f"params validate: unknown key(s) {unknown}; known: {sorted(known)}")
    standardize = _build(StandardizeConfig, section.get("standardize"), "validate.standardize",
                         identity_key=section.get("identity_key", "smiles"))
    bounds = (section.get("target_range") or {}).get(target_column)
    range_from = f"validate.target_range.{target_column}"
    if bounds is None and target_column in (dataset_ranges or {}):
        bounds, range_from = dataset_ranges[target_column], f"target_range.{target_column} of {dataset}"
    low, high = (None, None) if bounds is None or task == "classification" else bounds
    if low is not None and high is not None and low > high:
        raise UserInputError(f"{range_from} is [{low}, {high}]: the minimum is above the maximum, so every row "
                             f"would be out of range; write [{high}, {low}]")
    config = ValidationConfig(
        standardize=standardize,
        rules=_build(MoleculeRules, section.get("rules"), "validate.rules"),
        target=TargetRules(task=task, min_value=low, max_value=high, decimal=decimal,
                           positive_class=positive_class if task == "classification" else None,
                           range_from=range_from if low is not None or high is not None else "validate.target_range"),
        duplicates=_build(DuplicatePolicy, section.get("duplicates"), "validate.duplicates"),
        n_jobs=int(section.get("n_jobs", -1)),
        chunk_size=int(section.get("chunk_size", 2000)),
        parallel_min_rows=int(section.get("parallel_min_rows", 5000)),
        max_classes=int(section.get("max_classes", 50)),
    )
    return config, dict(section.get("expectations") or {})
