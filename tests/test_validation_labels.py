"""Standardization of what a SMILES labels rather than states: isotopes, atom-map numbers,
wildcard atoms, stereo kept through tautomers, carbocations, resonance forms, bonds without an
order and invisible characters."""

from __future__ import annotations

import pandas as pd
import pytest

from molprop import schema
from molprop.validation.config import MoleculeRules, StandardizeConfig, TargetRules, ValidationConfig
from molprop.validation.curate import curate
from molprop.validation.standardize import standardize_smiles

RULES = MoleculeRules()


def parent(smiles: str, **standardize) -> str | None:
    return standardize_smiles(smiles, StandardizeConfig(**standardize), RULES).smiles


@pytest.mark.parametrize(("smiles", "expected"), [
    ("[2H]c1c([2H])c([2H])c([2H])c([2H])c1[2H]", "c1ccccc1"),
    ("[13cH]1[13cH][13cH][13cH][13cH][13cH]1", "c1ccccc1"),
    ("[2H]C(Cl)(Cl)Cl", "ClC(Cl)Cl"),
    ("C[C@H]([2H])O", "CCO"),  # a centre made only by the label is no centre
    ("[18F]c1ccccc1.[Na+]", "Fc1ccccc1"),
    ("[2H]/C=C/C", "C=CC"),  # a CH2 end has no E/Z ('[H]/C=C/C' had been kept)
    ("[2H]/C=C/[2H]", "C=C"),
    ("[2H]/C(F)=C/F", "F/C=C\\F"),  # the heavy atoms' E/Z stays
    ("[2H]/N=C/C", "[H]/N=C/C"),  # an imine's E/Z set by its H stays, as for the unlabelled one
])
def test_isotopologues_have_one_parent(smiles: str, expected: str) -> None:
    """Bug fixed: [2H] atoms stayed atoms of their own (graph nodes and fingerprint atoms), so
    benzene-d6 was predicted 3 kcal/mol away from benzene, and [13CH4] was not a replicate of C."""
    outcome = standardize_smiles(smiles, StandardizeConfig(), RULES)
    assert (outcome.reason, outcome.smiles) == (None, expected)
    assert outcome.steps_changed.split(";")[0] == "isotope_parent"
    assert parent(smiles, isotope_parent=False) != expected  # the switch keeps the labels


def test_an_isotopologue_is_a_replicate() -> None:
    data = pd.DataFrame({"smiles": ["C", "[13CH4]", "CCO"], "y": ["2.5", "2.6", "1.0"]}, dtype=object)
    result = curate(data, "smiles", "y", ValidationConfig(target=TargetRules(), n_jobs=1))
    assert result.validated[schema.SMILES].tolist() == ["C", "CCO"]
    assert result.validated[schema.N_REPLICATES].tolist() == [2, 1]


def test_an_explicit_hydrogen_that_sets_no_stereo_is_not_kept() -> None:
    """RemoveHs kept an [H] on a double bond's CH2 end ('[H]/C=C/C'): a graph node of its own."""
    assert parent("[H]/C=C/C") == parent("C=CC") == "C=CC"
    assert parent("C/C=N/[H]") == parent("[2H]/N=C/C") == "[H]/N=C/C"  # this one sets the imine's E/Z


def test_atom_map_numbers_are_not_part_of_the_molecule() -> None:
    """Bug fixed: '[CH3:1][CH2:2][OH:3]' was kept as a molecule of its own beside 'CCO'."""
    assert parent("[CH3:1][CH2:2][CH2:3][CH2:4][OH:5]") == "CCCCO"
    assert parent("[cH:1]1ccccc1") == "c1ccccc1"
    assert parent("c1ccc:c:c1") == "c1ccccc1"  # ':' as an aromatic bond


@pytest.mark.parametrize("smiles", ["C[#0]", "[#0]", "*C", "[*:1]CC"])
def test_wildcard_atoms_in_any_spelling_are_dummy_atoms(smiles: str) -> None:
    assert standardize_smiles(smiles, StandardizeConfig(), RULES).reason == "dummy_atom"


def test_canonical_tautomer_keeps_stereo() -> None:
    """Bug fixed: RDKit's enumerator drops stereo a tautomer shift could touch, so D- and
    L-alanine became one molecule without remove_stereo."""
    assert parent("C[C@@H](N)C(=O)O", canonical_tautomer=True) == "C[C@@H](N)C(=O)O"
    assert parent("C[C@H](N)C(=O)O", canonical_tautomer=True) == "C[C@H](N)C(=O)O"
    assert parent("C/C=C/C(C)=O", canonical_tautomer=True) == "C/C=C/C(C)=O"  # RDKit's default drops it
    assert parent("Oc1ccccn1", canonical_tautomer=True) == "O=c1cccc[nH]1"
    assert parent("C[C@H](N)C(=O)O", canonical_tautomer=True, remove_stereo=True) == "CC(N)C(=O)O"


@pytest.mark.parametrize(("smiles", "expected"), [
    ("C1=CC=C[CH+]C=C1.F[B-](F)(F)F", "c1ccc[cH+]cc1"),  # tropylium tetrafluoroborate
    ("[cH+]1cccccc1", "c1ccc[cH+]cc1"),
    ("[CH3+]", "[CH3+]"),  # not methane
    ("[CH2+]c1ccccc1", "[CH2+]c1ccccc1"),
    ("CC(=O)[O-].[Na+]", "CC(=O)O"),
    # zwitterions stay zwitterions: the anion had been protonated, leaving a cation
    ("[CH2+]C(=O)[O-]", "[CH2+]C(=O)[O-]"),
    ("O=C([O-])CCc1ccc[cH+]cc1", "O=C([O-])CCc1ccc[cH+]cc1"),
    ("c1ccc2c(c1)[cH+]c1ccccc1[cH-]2", "c1ccc2[cH-]c3ccccc3[cH+]c2c1"),
])
def test_carbocations_keep_their_charge(smiles: str, expected: str) -> None:
    """Bug fixed: the Uncharger gave carbocations a hydride; tropylium became an unreadable
    'c1cccccc1' and the row was rejected as a failed standardization."""
    assert parent(smiles) == expected


@pytest.mark.parametrize(("smiles", "expected"), [
    ("[Na+].[BH3-]C#N", "[BH3-]C#N"),  # sodium cyanoborohydride: not the borane BC#N
    ("C[N+](C)(C)C.[BH4-]", "C[N+](C)(C)C"),
    ("C[NH2+][BH3-]", "[BH3-][NH2+]C"),  # an amine-borane
    ("[K+].F[B-](F)(F)c1ccccc1", "F[B-](F)(F)c1ccccc1"),
    ("[BH3-]C(=O)[O-].[Na+]", "[BH3-]C(=O)O"),  # its carboxylate is still protonated
])
def test_boron_anions_keep_their_hydrogens(smiles: str, expected: str) -> None:
    """Bug fixed: the Uncharger took a hydride off a boron anion's H, another compound."""
    assert parent(smiles) == expected


@pytest.mark.parametrize(("smiles", "expected"), [
    ("[K+].F[Si-](F)(F)(F)c1ccccc1", "F[Si-](F)(F)(F)c1ccccc1"),  # an aryl trifluorosilicate
    ("F[P-](F)(F)(F)(F)F", "F[P-](F)(F)(F)(F)F"),  # hexafluorophosphate on its own
    ("F[Si-2](F)(F)(F)(F)c1ccccc1.[Na+].[Na+]", "F[Si-2](F)(F)(F)(F)c1ccccc1"),
    ("[O-]C(=O)CC[Si-](F)(F)(F)F.[K+].[K+]", "O=C(O)CC[Si-](F)(F)(F)F"),  # the acid still is
    ("CC[S-]", "CCS"),
    ("[NH3+]CC[Si-](F)(F)(F)F", "[NH3+]CC[Si-](F)(F)(F)F"),  # a zwitterion, not the anion of its Na salt
    ("[NH3+]CC[P-](F)(F)(F)(F)F", "[NH3+]CC[P-](F)(F)(F)(F)F"),
])
def test_hypervalent_anions_keep_their_charge(smiles: str, expected: str) -> None:
    """Bug fixed: the Uncharger gave PF6- or a silicate an H beyond the element's valence,
    and the row was rejected as a failed standardization; then, with the anion's charge put
    back, a zwitterion had lost its cation's proton (and merged with its sodium salt)."""
    assert parent(smiles) == expected


@pytest.mark.parametrize(("one", "other", "expected"), [
    ("CP(C)(C)=O", "C[P+](C)(C)[O-]", "CP(C)(C)=O"),  # trimethylphosphine oxide
    ("O=P(c1ccccc1)(c1ccccc1)c1ccccc1", "[O-][P+](c1ccccc1)(c1ccccc1)c1ccccc1", "O=P(c1ccccc1)(c1ccccc1)c1ccccc1"),
    ("COP(=O)(OC)OC", "CO[P+]([O-])(OC)OC", "COP(=O)(OC)OC"),  # trimethyl phosphate
    ("CP(C)(C)=S", "C[P+](C)(C)[S-]", "CP(C)(C)=S"),
    ("C[As](C)(C)=O", "C[As+](C)(C)[O-]", "C[As](C)(C)=O"),
    ("CP(C)(C)=C", "C[P+](C)(C)[CH2-]", "C=P(C)(C)C"),  # an ylide
    ("CC(=O)N=P(C)(C)C", "CC(=O)[N-][P+](C)(C)C", "CC(=O)N=P(C)(C)C"),  # an iminophosphorane
    ("CS(C)=C", "C[S+](C)[CH2-]", "C=S(C)C"),  # a sulfonium ylide
    ("CS(C)=NS(=O)(=O)c1ccccc1", "C[S+](C)[N-]S(=O)(=O)c1ccccc1", "CS(C)=NS(=O)(=O)c1ccccc1"),  # a sulfilimine
    ("CS(C)(=O)=O", "C[S+](C)(=O)[O-]", "CS(C)(=O)=O"),  # dimethyl sulfone
    ("C[Se](C)(=O)=O", "C[Se+](C)(=O)[O-]", "C[Se](C)(=O)=O"),
    ("C[Se](C)=O", "C[Se+](C)[O-]", "C[Se+](C)[O-]"),  # as RDKit writes sulfoxides
    ("CN=[N+]=[N-]", "C[N-][N+]#N", "CN=[N+]=[N-]"),  # methyl azide
    ("[N-]=[N+]=Nc1ccccc1", "N#[N+][N-]c1ccccc1", "[N-]=[N+]=Nc1ccccc1"),
    ("CC(=O)C(C)=[N+]=[N-]", "CC(=O)[C-](C)[N+]#N", "CC(=O)C(C)=[N+]=[N-]"),  # a diazo ketone
    ("CP(C)(C)=O.Cl", "C[P+](C)(C)[O-].[Na+].[Cl-]", "CP(C)(C)=O"),  # salts stripped
    ("CCN(CC)CCN=S(=O)(c1ccccc1)c1ccccc1", "CCN(CC)CCN=[S+]([O-])(c1ccccc1)c1ccccc1",  # suloxifen, a sulfoximine
     "CCN(CC)CCN=S(=O)(c1ccccc1)c1ccccc1"),
    ("CS(C)(=O)=N", "C[S+2](C)([NH-])[O-]", "CS(C)(=N)=O"),
    ("CS(C)(=O)=C", "C=[S+](C)(C)[O-]", "C=S(C)(C)=O"),  # a sulfoxonium ylide
    ("C[Se](C)(=O)=O", "C[Se+2](C)([O-])[O-]", "C[Se](C)(=O)=O"),
    ("ClP1(Cl)=NP(Cl)(Cl)=NP(Cl)(Cl)=N1", "Cl[P+]1(Cl)[N-][P+](Cl)(Cl)[N-][P+](Cl)(Cl)[N-]1",  # a phosphazene ring
     "ClP1(Cl)=NP(Cl)(Cl)=NP(Cl)(Cl)=N1"),
    ("CS(=O)O", "C[S+]([O-])O", "CS(=O)O"),  # a sulfinic acid
    ("COS(=O)OC", "CO[S+]([O-])OC", "COS(=O)OC"),  # a sulfite
    ("CC[Se](=O)OC", "CC[Se+]([O-])OC", "CC[Se](=O)OC"),  # a seleninic ester
    ("Cc1ccc([S@@](=O)O[C@@H]2C[C@H](C)CC[C@H]2C(C)C)cc1",  # Andersen's sulfinate: its S stays a stereocentre
     "Cc1ccc([S@@+]([O-])O[C@@H]2C[C@H](C)CC[C@H]2C(C)C)cc1", "Cc1ccc([S@@](=O)O[C@@H]2C[C@H](C)CC[C@H]2C(C)C)cc1"),
])
def test_two_drawings_of_one_compound_are_one_molecule(one: str, other: str, expected: str) -> None:
    """Bug fixed: RDKit's default normalizations leave these resonance forms apart, so the two
    drawings of one compound (one InChI) were two molecules with contradicting targets, and a
    scaffold split could put one in train and the other in test."""
    assert parent(one) == parent(other) == expected


@pytest.mark.parametrize(("smiles", "expected"), [("O=[Se](O)O", "O=[Se](O)O"), ("C[Se](=O)O", "C[Se](=O)O"),
                                                 ("C[Se](=O)OC", "CO[Se](C)=O")])
def test_seleninic_acids_and_esters_are_written_as_before(smiles: str, expected: str) -> None:
    """The selenoxide rule leaves a Se=O beside an O alone, as RDKit's sulfoxide rule does
    (selenious acid had become [O-][Se+](O)O)."""
    assert parent(smiles) == expected


def test_an_amine_that_loses_its_proton_loses_its_stereo_mark():
    """Bug fixed: C[N@H+]1CCC(...)CC1 kept an '@' on the neutral N: a molecule other than its free
    base, and standardizing the output again removed it."""
    free = parent("CN1CCC(c2ccccc2)CC1")
    assert parent("C[N@H+]1CC[C@H](c2ccccc2)CC1") == parent("C[N@@H+]1CC[C@@H](c2ccccc2)CC1") == free
    assert parent("CC[N@+]1(C)CC[C@H](c2ccccc2)CC1") == "CC[N@+]1(C)CC[C@H](c2ccccc2)CC1"  # quaternary: stays
    assert parent("C[C@H]([NH3+])C(=O)[O-]") == "C[C@H](N)C(=O)O"


@pytest.mark.parametrize("smiles", ["CC(:O):O", "C:CO", "N:C:N", "CC(:O):O.[Na+]", "c1ccccc1C(:O):O"])
def test_an_aromatic_bond_outside_any_aromatic_ring_is_refused(smiles: str) -> None:
    """Bug fixed: RDKit reads 'CC(:O):O' (a carboxylate with SD bond type 4) as a neutral C2H3O2
    with two bonds of no order; it was kept, featurized and predicted."""
    outcome = standardize_smiles(smiles, StandardizeConfig(), RULES)
    assert outcome.reason == "kekulization_error" and "outside any aromatic ring" in outcome.message


@pytest.mark.parametrize(("smiles", "expected"), [
    ("C1:C:C:C:C:C:1", "c1ccccc1"), ("c1ccccc1:c1ccccc1", "c1ccc(-c2ccccc2)cc1"), ("C1=CC=CC=C1:C", "Cc1ccccc1"),
    ("[CH3:1]C", "CC"),
])
def test_aromatic_bond_symbols_that_rdkit_resolves_are_kept(smiles: str, expected: str) -> None:
    assert parent(smiles) == expected


@pytest.mark.parametrize("smiles", ["CC~C", "c1cc~ccc1", "C1CCCCC1~O", "C~1CCCCC1", "c1ccc~2ccccc2c1", "C~[H]"])
def test_an_any_bond_is_a_query_not_a_molecule(smiles: str) -> None:
    """Bug fixed: 'CC~C' (RDKit reads '~' as a bond of unspecified order) was kept and predicted;
    on a ring closure, or to a written [H], RDKit makes it a plain bond."""
    outcome = standardize_smiles(smiles, StandardizeConfig(), RULES)
    assert outcome.reason == "query_bond" and "'~'" in outcome.message


def test_a_no_break_space_inside_a_smiles_is_named() -> None:
    """It had been split on as whitespace: 'Text after the SMILES: CO'."""
    outcome = standardize_smiles("CC\u00a0CO", StandardizeConfig(), RULES)
    assert outcome.reason == "non_ascii_smiles"
    assert "U+00A0 NO-BREAK SPACE" in outcome.message
