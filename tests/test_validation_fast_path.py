"""The fast path of standardization: a molecule `is_plain` calls its own parent must be
exactly what the full rdMolStandardize steps make of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdkit import Chem

from molprop.data.builtin import load_builtin
from molprop.validation.config import MoleculeRules, StandardizeConfig
from molprop.validation.standardize import _run_steps, is_plain, plain_salt_parent

REPO = Path(__file__).resolve().parents[1]
TRICKY = ["CS(C)=O", "CS(=O)(=O)N", "c1ccsc1", "CSSC", "C=S", "O=[N+]([O-])c1ccccc1",
          "C[N+](C)(C)C", "CC(=O)[O-]", "c1cc[nH]c1", "C1=CC=CN1", "OC1=CC=CC=C1",
          "N#CC(=O)O", "CN=C=S", "[2H]C", "C[C@H](N)O", "F/C=C/F", "O=S1(=O)CCCC1",
          "CP(C)(C)=O", "C[Se]C", "[O-][S+](C)C", "CN(C)N=O", "CC(=O)NO", "ClC(Cl)(Cl)Cl"]


@pytest.fixture(scope="module")
def molecules() -> list[str]:
    sets = [load_builtin(REPO / f"data/builtin/{name}.yaml").smiles for name in ("freesolv", "huuskonen")]
    return [*TRICKY, *(s for smiles in sets for s in smiles)]


def test_plain_molecules_are_unchanged_by_every_step(molecules):
    config, rules = StandardizeConfig(), MoleculeRules()
    n_plain = 0
    for text in molecules:
        mol = Chem.MolFromSmiles(text)
        if mol is None or not is_plain(mol, text, config):
            continue
        n_plain += 1
        parent, steps, before, after = _run_steps(mol, text, config, rules)
        assert steps == [] and after == Chem.MolToSmiles(mol), text
    assert n_plain > 1000  # most real molecules take the fast path


@pytest.mark.parametrize("text", ["CS(C)=O", "CC(=O)[O-]", "C[Se]C", "CP(C)(C)=O", "[2H]C",
                                  "CCO.Cl"])
def test_molecules_a_step_could_change_are_not_plain(text):
    assert not is_plain(Chem.MolFromSmiles(text), text, StandardizeConfig())


def test_tautomer_or_stereo_options_disable_the_fast_path():
    mol = Chem.MolFromSmiles("C[C@H](N)O")
    assert is_plain(mol, "C[C@H](N)O", StandardizeConfig())
    assert not is_plain(mol, "C[C@H](N)O", StandardizeConfig(remove_stereo=True))
    assert not is_plain(mol, "C[C@H](N)O", StandardizeConfig(canonical_tautomer=True))


COUNTER_IONS = [".Cl", ".[Cl-]", ".[Na+]", ".[Na+].[Cl-]", ".O", ".Br", ".OS(=O)(=O)O", ".[K+].[OH-]",
                ".[O-][N+](=O)[O-]", ".O.O", ".[NH4+]", ".[Ca+2].[Cl-].[Cl-]", ".N"]


@pytest.mark.parametrize("ion", COUNTER_IONS)
def test_plain_salt_parent_equals_the_full_steps(molecules, ion):
    config, rules = StandardizeConfig(), MoleculeRules()
    n_shortcut = 0
    for parent_text in molecules[:: 7]:
        text = parent_text + ion
        mol = Chem.MolFromSmiles(text)
        if mol is None:
            continue
        fast = plain_salt_parent(mol, text, config)
        if fast is None:
            continue
        n_shortcut += 1
        full, steps, _, after = _run_steps(mol, text, config, rules)
        assert Chem.MolToSmiles(fast) == after, text
        assert steps == ["fragment_parent"], (text, steps)
    assert n_shortcut > 100


@pytest.mark.parametrize("text", ["CCO.CCN", "CC(=O)[O-].[Na+]", "CS(C)=O.Cl", "C[Se]C.Cl", "CCO",
                                  "[2H]OC.Cl", "CC[Fe].Cl"])
def test_salts_a_step_could_change_take_the_full_path(text):
    mol = Chem.MolFromSmiles(text)
    assert plain_salt_parent(mol, text, StandardizeConfig()) is None


def test_salt_shortcut_respects_disabled_fragment_stripping():
    mol = Chem.MolFromSmiles("CCN.Cl")
    assert Chem.MolToSmiles(plain_salt_parent(mol, "CCN.Cl", StandardizeConfig())) == "CCN"
    assert plain_salt_parent(mol, "CCN.Cl", StandardizeConfig(fragment_parent=False)) is None
