"""Property test: any table, however broken, is fully accounted for by ``curate``.

Every input row ends up exactly once as kept, rejected (with a known reason) or merged into
an earlier replicate, and the metrics add up; or the table is refused as a whole (no valid
row, class labels in two letter cases, one target value for every kept molecule) and an
independent recomputation agrees.
"""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from molprop import schema
from molprop.data.io import InputFileError
from molprop.validation.config import DuplicatePolicy, MoleculeRules, TargetRules, ValidationConfig
from molprop.validation.curate import curate
from molprop.validation.duplicates import resolve_duplicates
from molprop.validation.reasons import REASONS
from molprop.validation.standardize import standardize_smiles
from molprop.validation.targets import case_variants, read_label, read_number

# Real molecules, several written more than once (or as a salt) so replicates are common.
VALID = ["CCO", "OCC", "c1ccccc1", "CC(=O)O", "CC(=O)[O-].[Na+]", "CCN", "NCC.Cl",
         "C[C@H](N)C(=O)O", "c1ccncc1", "CCCl", "O=C(O)c1ccccc1"]
BROKEN = ["C1CC(", "c1cccc1", "C(C)(C)(C)(C)C", "[CH3]", "CCO.c1ccccc1", "CC[Fe]", "*C",
          "CC>>CO", "InChI=1S/CH4/h1H4", "CCO ethanol", "", "  ", "C" * 20]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of ``choices`` (weight, strategy); the first is also what Hypothesis shrinks to."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(range(len(pool))).flatmap(lambda i: pool[i])


smiles_cells = weighted(
    (6, st.sampled_from(VALID)), (1, st.sampled_from(BROKEN)), (1, TEXT),
    (1, st.just(float("nan"))), (1, st.none()),
)
target_cells = weighted(
    (6, st.floats(min_value=-1.5, max_value=1.5).map(lambda v: f"{v:.2f}")),  # agree or not
    (1, st.floats(allow_nan=True, allow_infinity=True).map(str)),
    (1, st.integers(-100, 100).map(str)),
    (1, st.sampled_from(["<10", ">1", "NA", "", "inf", "-inf", "1,5", "abc", "0", "1"])),
    (1, TEXT), (1, st.just(float("nan"))),
)
rows = st.lists(st.tuples(smiles_cells, target_cells), min_size=4, max_size=30)


def config_for(task: str) -> ValidationConfig:
    return ValidationConfig(
        rules=MoleculeRules(max_heavy_atoms=15),
        target=TargetRules(task=task, min_value=-5.0 if task == "regression" else None,
                           max_value=5.0 if task == "regression" else None),
        duplicates=DuplicatePolicy(tolerance=0.5),
        n_jobs=1,
    )


def candidate_frame(data: pd.DataFrame, config: ValidationConfig) -> pd.DataFrame:
    """The rows that pass every row rule, computed independently of ``curate``."""
    found = []
    for row, (smiles, target) in enumerate(zip(data["smiles"], data["y"])):
        mol = standardize_smiles(smiles, config.standardize, config.rules)
        value = (read_number(target, config.target) if config.target.task == "regression"
                 else read_label(target))
        if mol.reason is None and value.reason is None:
            found.append((mol.key, row, mol.smiles, value.value))
    return pd.DataFrame(found, columns=["key", "row", "smiles", "value"])


def _fraction(label: str) -> bool:
    """A label that reads as a number with a fractional part (0.5, 2.25e-308)."""
    try:
        value = float(label)
    except ValueError:
        return False
    return math.isfinite(value) and value % 1 != 0


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows, task=st.sampled_from(["regression", "regression", "classification"]))
def test_every_row_is_accounted_for(rows: list[tuple], task: str) -> None:
    data = pd.DataFrame(rows, columns=["smiles", "y"], dtype=object)
    config = config_for(task)
    n_in = len(data)
    try:
        result = curate(data, "smiles", "y", config)
    except InputFileError as err:
        candidates = candidate_frame(data, config)
        if "differ only in letter case" in str(err):
            event("class labels in two letter cases")
            assert task == "classification"
            assert case_variants([read_label(v).value for v in data["y"]])
            return
        if "kept molecules" in str(err):  # one target value or one class left
            event("one target value")
            merged = resolve_duplicates(candidates, config.duplicates, task).merged
            assert len(merged) >= 2 and merged["value"].nunique() == 1
            return
        if "is it a continuous value?" in str(err):  # class labels that read as measurements
            event("labels like measurements")
            counts = resolve_duplicates(candidates, config.duplicates, task).merged["value"].value_counts()
            fractional = any(_fraction(label) for label in counts.index)
            assert task == "classification"
            assert fractional or (len(counts) > 2 and 2 * (counts == 1).sum() > counts.sum())
            return
        event("every row rejected")
        assert str(err).startswith(f"No valid rows: all {n_in} rows were rejected")
        if not candidates.empty:  # then every candidate is in a conflicting replicate group
            outcome = resolve_duplicates(candidates, config.duplicates, task)
            assert outcome.merged.empty
            assert len(outcome.conflicts) == len(candidates)
        return

    metrics = result.metrics
    validated, rejected = result.validated, result.rejected
    event(f"replicates merged: {metrics['n_merged_away'] > 0}")
    event(f"conflicting replicates: {'conflicting_duplicates' in metrics['rejected_by_reason']}")
    assert metrics["n_in"] == n_in
    assert metrics["n_kept"] == len(validated)
    assert metrics["n_rejected"] == len(rejected)
    assert metrics["n_kept"] + metrics["n_rejected"] + metrics["n_merged_away"] == n_in

    kept_rows = validated[schema.ROW].tolist()
    rejected_rows = rejected["row"].tolist()
    merged_away = sorted(set(range(n_in)) - set(kept_rows) - set(rejected_rows))
    assert len(kept_rows) == len(set(kept_rows))
    assert len(rejected_rows) == len(set(rejected_rows))
    assert not set(kept_rows) & set(rejected_rows)
    assert len(merged_away) == metrics["n_merged_away"]
    assert sorted(kept_rows + rejected_rows + merged_away) == list(range(n_in))
    assert int((validated[schema.N_REPLICATES] - 1).sum()) == metrics["n_merged_away"]

    # a merged-away row is a later replicate of a kept molecule
    first_row = dict(zip(validated[schema.MOL_ID], validated[schema.ROW]))
    for row in merged_away:
        mol = standardize_smiles(data["smiles"].iloc[row], config.standardize, config.rules)
        assert mol.reason is None
        assert first_row[mol.key] < row

    assert set(rejected["reason"]) <= set(REASONS)
    assert rejected["message"].str.len().min() > 0 if len(rejected) else True
    assert metrics["rejected_by_reason"] == rejected["reason"].value_counts().to_dict()
    assert validated[schema.MOL_ID].is_unique
    assert validated[schema.ROW].is_monotonic_increasing
    if task == "regression":
        assert validated[schema.TARGET].between(-5.0, 5.0).all()
        assert all(math.isfinite(v) for v in validated[schema.TARGET])
    else:
        assert validated[schema.TARGET].tolist() == [result.classes.index(label)
                                                     for label in validated[schema.LABEL]]
