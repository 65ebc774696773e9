"""The bad-input corpus (tests/data/bad_inputs.csv) through ``curate``: one test per case.

Every row of the corpus names the exact outcome: ``kept`` or the reason code it must be
rejected with. The corpus is read as text, the way ``molprop.data.io`` reads a CSV.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from molprop import schema
from molprop.validation.config import MoleculeRules, TargetRules, ValidationConfig
from molprop.validation.curate import CurationResult, curate
from molprop.validation.reasons import REASONS
from molprop.validation.standardize import NON_METALS

CORPUS = Path(__file__).parent / "data" / "bad_inputs.csv"
MAX_HEAVY_ATOMS = 30
Y_MIN, Y_MAX = -20.0, 100.0
CONFIG = ValidationConfig(
    rules=MoleculeRules(max_heavy_atoms=MAX_HEAVY_ATOMS),
    target=TargetRules(task="regression", min_value=Y_MIN, max_value=Y_MAX),
    n_jobs=1,
)
# Row rules the corpus must exercise (the brief's list); rules that cannot be reached from a
# SMILES string (no_atoms, sanitization_error, identity_key_failed) are defensive fallbacks.
REQUIRED_REASONS = {
    "missing_smiles", "empty_smiles", "inchi_not_smiles", "reaction_smiles", "trailing_text",
    "non_ascii_smiles", "unparsable_smiles", "valence_error", "kekulization_error", "dummy_atom",
    "mixture", "metal", "radical", "too_many_heavy_atoms", "missing_target", "censored_target",
    "non_numeric_target", "non_finite_target", "target_out_of_range",
}
# The standardized SMILES of kept rows whose parent differs from a plain canonicalization.
EXPECTED_PARENT = {
    "sodium_acetate_salt": "CC(=O)O",
    "sodium_benzoate_salt": "O=C(O)c1ccccc1",
    "ethylamine_hydrochloride": "CCN",
    "pyridine_hydrate": "c1ccncc1",
    "covalent_sodium_propoxide": "CCCO",
    "quaternary_ammonium_chloride": "C[N+](C)(C)C",
    "pyrrole_kekule": "c1cc[nH]c1",
    "padded_smiles": "CCC",
    "potassium_cyanide_is_a_salt": "C#N",
    "cyclopentadienide_protonated": "C1=CCC=C1",
    "phenylbutazone_sodium_carbon_acid_salt": "CCCCC1C(=O)N(c2ccccc2)N(c2ccccc2)C1=O",
    "water_written_twice_is_water": "O",
    "quetiapine_fumarate_drug_salt": "OCCOCCN1CCN(C2=Nc3ccccc3Sc3ccccc32)CC1",
}


def read_corpus() -> pd.DataFrame:
    """The corpus as ``molprop.data.io`` reads a CSV: all text, only empty cells missing."""
    return pd.read_csv(CORPUS, dtype=str, keep_default_na=False, na_values=[""])


def _cases() -> list:
    table = read_corpus()
    return [pytest.param(i, id=case) for i, case in enumerate(table["case"])]


def _message_hint(case: pd.Series) -> str:
    """A piece of text the rejection message must contain for the user to act on it."""
    smiles = "" if pd.isna(case.smiles) else case.smiles
    target = "" if pd.isna(case.target) else case.target.strip()
    if case.expected == "missing_smiles" and smiles:  # a marker or a spreadsheet error: named
        return f"'{smiles}'"
    if case.expected == "trailing_text":
        return smiles.split(maxsplit=1)[1]
    if case.expected == "metal":
        symbols = re.findall(r"\[([A-Z][a-z]?)", smiles)
        return next(s for s in symbols if s not in NON_METALS)
    if case.expected == "too_many_heavy_atoms":
        heavy = Chem.MolFromSmiles(smiles).GetNumHeavyAtoms()
        return f"{heavy} heavy atoms, above the cap of {MAX_HEAVY_ATOMS}"
    return {
        "missing_smiles": "empty",
        "empty_smiles": "whitespace",
        "inchi_not_smiles": "InChI",
        "reaction_smiles": "reaction",
        "non_ascii_smiles": "outside printable ASCII",
        "unparsable_smiles": smiles,
        "valence_error": "valence",
        "kekulization_error": "kekul",
        "dummy_atom": "'*'",
        "mixture": "distinct components",
        "inorganic_salt": "no organic one to keep",
        "radical": "radical",
        "standardization_failed": "cannot be parsed back",
        "missing_target": "missing",
        "censored_target": target,
        "non_numeric_target": target,
        "non_finite_target": target,
        "target_out_of_range": f"[{Y_MIN}, {Y_MAX}]",
    }[case.expected]


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return read_corpus()


@pytest.fixture(scope="module")
def result(corpus: pd.DataFrame) -> CurationResult:
    return curate(corpus, "smiles", "target", CONFIG)


def test_corpus_is_well_formed(corpus: pd.DataFrame) -> None:
    assert list(corpus.columns) == ["case", "smiles", "target", "expected"]
    assert len(corpus) >= 25
    assert corpus["case"].is_unique
    assert set(corpus["expected"]) <= set(REASONS) | {"kept"}
    assert REQUIRED_REASONS <= set(corpus["expected"])
    assert (corpus["expected"] == "kept").sum() >= 5
    # the text-level cases survive the CSV round trip as intended
    by_case = corpus.set_index("case")
    assert pd.isna(by_case.loc["empty_cell", "smiles"])
    assert by_case.loc["whitespace_only", "smiles"] == "   "
    assert pd.isna(by_case.loc["missing_target_empty_cell", "target"])
    assert by_case.loc["censored_below", "target"] == "<10"


@pytest.mark.parametrize("index", _cases())
def test_case_outcome(index: int, corpus: pd.DataFrame, result: CurationResult) -> None:
    case = corpus.iloc[index]
    kept = result.validated[result.validated[schema.ROW] == index]
    rejected = result.rejected[result.rejected["row"] == index]
    if case.expected == "kept":
        assert rejected.empty, f"rejected: {rejected[['reason', 'message']].to_dict('records')}"
        assert len(kept) == 1
        row = kept.iloc[0]
        assert row[schema.N_REPLICATES] == 1
        assert row[schema.SMILES_INPUT] == case.smiles
        assert row[schema.TARGET] == pytest.approx(float(case.target))
        assert Chem.MolFromSmiles(row[schema.SMILES]) is not None
        if case.case in EXPECTED_PARENT:
            assert row[schema.SMILES] == EXPECTED_PARENT[case.case]
        else:  # only canonicalized: the same molecule as the input
            assert row[schema.SMILES] == Chem.MolToSmiles(Chem.MolFromSmiles(case.smiles.strip()))
    else:
        assert kept.empty, f"kept as {kept[schema.SMILES].tolist()}"
        assert len(rejected) == 1
        item = rejected.iloc[0]
        assert item["reason"] == case.expected, item["message"]
        assert item["smiles_input"] == ("" if pd.isna(case.smiles) else case.smiles)
        assert item["target_input"] == ("" if pd.isna(case.target) else case.target)
        assert item["message"].strip()
        hint = _message_hint(case)
        assert hint.lower() in item["message"].lower(), item["message"]


def test_corpus_counts(corpus: pd.DataFrame, result: CurationResult) -> None:
    metrics = result.metrics
    expected = corpus["expected"].value_counts()
    assert metrics["n_in"] == len(corpus)
    assert metrics["n_kept"] == expected["kept"]
    assert metrics["n_rejected"] == len(corpus) - expected["kept"]
    assert metrics["n_merged_away"] == 0
    assert metrics["rejected_by_reason"] == {k: int(v) for k, v in expected.items() if k != "kept"}
    assert result.rejected["row"].is_monotonic_increasing
    assert result.validated[schema.ROW].is_monotonic_increasing
    assert result.validated[schema.MOL_ID].is_unique
    # rows the standardization changed beyond canonicalization are listed with their steps
    changes = result.changes.set_index("row")["steps"].to_dict()
    index = {case: i for i, case in enumerate(corpus["case"])}
    assert changes[index["sodium_acetate_salt"]] == "fragment_parent;neutralize"
    assert changes[index["ethylamine_hydrochloride"]] == "fragment_parent"
    assert index["ethanol"] not in changes


def test_worker_processes_give_the_same_result(corpus: pd.DataFrame,
                                               result: CurationResult) -> None:
    """The process-pool path (chunks in worker processes) keeps input order and outcomes."""
    parallel = ValidationConfig(rules=CONFIG.rules, target=CONFIG.target, n_jobs=2,
                                chunk_size=7, parallel_min_rows=1)
    other = curate(corpus, "smiles", "target", parallel)
    pd.testing.assert_frame_equal(other.validated, result.validated)
    pd.testing.assert_frame_equal(other.rejected, result.rejected)
    assert other.metrics == result.metrics


def test_all_cores_without_cpu_affinity_as_on_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    """n_jobs 0 / -1 mean every core; macOS has no os.sched_getaffinity to ask."""
    import os

    from molprop.features.parallel import resolve_n_jobs
    from molprop.validation.curate import n_workers

    assert n_workers(0) == resolve_n_jobs(-1) == len(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity")
    assert n_workers(0) == resolve_n_jobs(-1) == os.cpu_count()
    assert n_workers(3) == 3
