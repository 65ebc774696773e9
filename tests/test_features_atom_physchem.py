"""Per-atom physicochemical contributions: they add up to RDKit's molecular descriptors."""

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Crippen, rdMolDescriptors

from molprop.features.atom_physchem import N_PHYSCHEM, PHYSCHEM_NAMES, atom_physchem
from molprop.features.graph import ATOM_FDIM, atom_feature_names, featurize_graph, graph_chunk

COLUMN = {name: i for i, name in enumerate(PHYSCHEM_NAMES)}
DRUGLIKE = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "OC(=O)C1CC[C@H](CC1)N", "CN1CCC[C@H]1c1cccnc1",
            "ClC(Cl)(Cl)Cl", "O=[N+]([O-])c1ccccc1", "CC(C)(C)c1ccc(S(N)(=O)=O)cc1", "C1CC2CCC1C2"]


def physchem(smiles):
    return atom_physchem([Chem.MolFromSmiles(smiles)])


@pytest.mark.parametrize("smiles", DRUGLIKE)
def test_contributions_add_up_to_the_molecular_descriptors(smiles):
    mol = Chem.MolFromSmiles(smiles)
    p = physchem(smiles)
    assert p.shape == (mol.GetNumAtoms(), N_PHYSCHEM) and p.dtype == np.float32
    # Crippen: the heavy atoms' own terms; with the explicit hydrogens' they make MolLogP / MolMR
    with_hs = np.array(rdMolDescriptors._CalcCrippenContribs(Chem.AddHs(mol)))
    np.testing.assert_allclose(p[:, [COLUMN["crippen_logp"], COLUMN["crippen_mr/10"]]],
                               with_hs[: len(p)] * [1, 0.1], atol=1e-5)  # fmt: skip
    assert with_hs[:, 0].sum() == pytest.approx(Crippen.MolLogP(mol), abs=1e-6)
    assert with_hs[:, 1].sum() == pytest.approx(Crippen.MolMR(mol), abs=1e-6)
    assert p[:, COLUMN["tpsa/20"]].sum() * 20 == pytest.approx(rdMolDescriptors.CalcTPSA(mol), abs=1e-3)
    heavy, hydrogens = rdMolDescriptors._CalcLabuteASAContribs(mol)
    assert p[:, COLUMN["labute_asa/10"]].sum() * 10 == pytest.approx(sum(heavy), abs=1e-3)
    assert sum(heavy) + hydrogens == pytest.approx(rdMolDescriptors.CalcLabuteASA(mol), abs=1e-6)


def test_gasteiger_charges_sum_to_the_net_charge_and_polar_atoms_are_negative():
    mol = Chem.MolFromSmiles("CC(=O)[O-]")
    heavy = atom_physchem([mol])[:, COLUMN["gasteiger_charge"]]  # the implicit Hs hold the rest
    hydrogens = sum(a.GetDoubleProp("_GasteigerHCharge") for a in mol.GetAtoms())
    assert heavy.sum() + hydrogens == pytest.approx(-1.0, abs=1e-4)
    q = physchem("CCO")[:, COLUMN["gasteiger_charge"]]
    assert q[2] < 0 < q[1]  # the oxygen draws charge from its carbon
    assert physchem("CCO")[:, COLUMN["tpsa/20"]].tolist() == pytest.approx([0, 0, 20.23 / 20], abs=1e-4)


def test_rows_follow_the_molecules_in_order():
    smiles = ["CCO", "c1ccccc1", "[Na+].[Cl-]", "CC(=O)Nc1ccc(O)cc1"]
    together = atom_physchem([Chem.MolFromSmiles(s) for s in smiles])
    np.testing.assert_array_equal(together, np.concatenate([physchem(s) for s in smiles]))
    assert atom_physchem([]).shape == (0, N_PHYSCHEM)
    assert atom_physchem([Chem.MolFromSmiles("")]).shape == (0, N_PHYSCHEM)


def test_an_element_without_gasteiger_parameters_is_nan_in_storage_and_0_for_the_network():
    mol = Chem.MolFromSmiles("C[Se]C.[U]")
    raw = atom_physchem([mol])
    missing = np.flatnonzero(np.isnan(raw[:, COLUMN["gasteiger_charge"]]))
    assert missing.size  # RDKit has no Gasteiger parameters for uranium
    chunk = graph_chunk([mol])
    assert np.isnan(chunk.atom_real[missing, 1 + COLUMN["gasteiger_charge"]]).all()
    g = chunk.graph(0)
    assert np.isfinite(g.atom_features).all()
    assert (g.atom_features[missing, atom_feature_names().index("gasteiger_charge")] == 0).all()


@pytest.mark.parametrize(("smiles", "analogue"), [
    ("C[Se]C", "CSC"), ("O=[Se](=O)(O)c1ccccc1", "O=S(=O)(O)c1ccccc1"), ("c1ccc2[se]ccc2c1", "c1ccc2sccc2c1"),
    ("C[As](C)C", "CP(C)C"), ("C[Sn](C)(C)C", "C[Si](C)(C)C"), ("C[Te]c1ccccc1", "CSc1ccccc1"),
])
def test_only_the_atoms_without_gasteiger_parameters_are_nan(smiles, analogue):
    """One Se atom used to make every charge of its molecule NaN (bug fixed); the others are
    computed with the lighter element of its group in its place: the analogue's charges."""
    q = physchem(smiles)[:, COLUMN["gasteiger_charge"]]
    heavy = [a.GetIdx() for a in Chem.MolFromSmiles(smiles).GetAtoms() if a.GetAtomicNum() in (33, 34, 50, 52)]
    assert np.flatnonzero(np.isnan(q)).tolist() == heavy
    expected = physchem(analogue)[:, COLUMN["gasteiger_charge"]]
    rest = np.setdiff1d(np.arange(len(q)), heavy)
    np.testing.assert_allclose(q[rest], expected[rest], atol=1e-6)


def test_graph_atom_features_carry_the_contributions():
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    g = featurize_graph(mol)
    names = atom_feature_names()
    assert g.atom_features.shape[1] == ATOM_FDIM
    columns = [names.index(n) for n in PHYSCHEM_NAMES]
    np.testing.assert_allclose(g.atom_features[:, columns], atom_physchem([mol]))


def test_featurizing_twice_gives_the_same_values():
    mol = Chem.MolFromSmiles("O=C(O)c1ccccc1Cl")
    np.testing.assert_array_equal(atom_physchem([mol]), atom_physchem([mol]))


def test_featurize_keeps_the_nan_in_graphs_parquet_and_counts_it_in_the_metrics(tmp_path):
    from molprop.features.config import FeaturizeConfig
    from molprop.features.graph_store import load_graph_chunk
    from molprop.features.runner import featurize_table

    config = FeaturizeConfig(morgan=None, descriptors=None, n_jobs=1, chunk_size=2, row_group_size=3)
    smiles = ["CCO", "C[Se]C.[U]"]
    metrics = featurize_table(["a", "b"], smiles, config, tmp_path / "f.parquet", tmp_path / "g.parquet",
                              progress=False)  # fmt: skip
    n_missing = int(np.isnan(atom_physchem([Chem.MolFromSmiles("C[Se]C.[U]")])).sum())
    assert n_missing and metrics["graph"]["n_atoms_nonfinite"] == {"gasteiger_charge": n_missing}
    stored = load_graph_chunk(tmp_path / "g.parquet")[1].atom_real
    assert int(np.isnan(stored).sum()) == n_missing
