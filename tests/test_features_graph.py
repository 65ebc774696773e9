"""Molecular graph featurization, batching and the Parquet round trip."""

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rdkit import Chem

from molprop.features.config import FeaturizeConfig
from molprop.features.graph import (
    ATOM_FDIM,
    BOND_FDIM,
    atom_feature_names,
    batch_graphs,
    bond_feature_names,
    featurize_graph,
)
from molprop.features.graph_store import ATOM_CODES, METADATA_KEY, load_graph_chunk, load_graphs
from molprop.features.runner import featurize_table

ATOM = {name: i for i, name in enumerate(atom_feature_names())}
BOND = {name: i for i, name in enumerate(bond_feature_names())}


def graph(smiles):
    return featurize_graph(Chem.MolFromSmiles(smiles))


def test_dimensions_match_names():
    assert len(atom_feature_names()) == ATOM_FDIM
    assert len(bond_feature_names()) == BOND_FDIM
    g = graph("CCO")
    assert g.atom_features.shape == (3, ATOM_FDIM) and g.atom_features.dtype == np.float32
    assert g.bond_features.shape == (2, BOND_FDIM) and g.bond_index.dtype == np.int32


def test_benzene():
    g = graph("c1ccccc1")
    assert (g.n_atoms, g.n_bonds) == (6, 6)
    a = g.atom_features
    assert (a[:, ATOM["element=C"]] == 1).all() and (a[:, ATOM["aromatic"]] == 1).all()
    assert (a[:, ATOM["num_hs=1"]] == 1).all() and (a[:, ATOM["degree=3"]] == 1).all()
    assert (a[:, ATOM["hybridization=SP2"]] == 1).all()
    assert a[:, ATOM["mass/100"]] == pytest.approx(0.12011, abs=1e-5)
    b = g.bond_features
    for flag in ("bond_type=AROMATIC", "conjugated", "in_ring", "stereo=STEREONONE"):
        assert (b[:, BOND[flag]] == 1).all()
    assert sorted(map(tuple, np.sort(g.bond_index, axis=1))) == [(0, 1), (0, 5), (1, 2), (2, 3), (3, 4), (4, 5)]


def test_each_one_hot_block_has_exactly_one_hot_slot():
    g = graph("C[C@H](N)C(=O)[O-].[Li+]")
    for prefix in ("element=", "degree=", "formal_charge=", "chirality=", "num_hs=", "hybridization="):
        cols = [i for n, i in ATOM.items() if n.startswith(prefix)]
        np.testing.assert_array_equal(g.atom_features[:, cols].sum(axis=1), 1)
    for prefix in ("bond_type=", "stereo="):
        cols = [i for n, i in BOND.items() if n.startswith(prefix)]
        np.testing.assert_array_equal(g.bond_features[:, cols].sum(axis=1), 1)


def test_charge_chirality_other_element_and_stereo():
    g = graph("C[C@H](N)C(=O)[O-].[Li+]")
    a = g.atom_features
    assert a[1, ATOM["chirality=CHI_TETRAHEDRAL_CCW"]] + a[1, ATOM["chirality=CHI_TETRAHEDRAL_CW"]] == 1
    assert a[5, ATOM["formal_charge=-1"]] == 1
    assert a[6, ATOM["element=other"]] == 1 and a[6, ATOM["formal_charge=1"]] == 1
    e = graph("F/C=C/F").bond_features
    assert e[1, BOND["bond_type=DOUBLE"]] == 1 and e[1, BOND["stereo=STEREOE"]] == 1


def test_ions_without_bonds():
    g = graph("[Na+].[Cl-]")
    assert (g.n_atoms, g.n_bonds) == (2, 0)
    assert g.bond_features.shape == (0, BOND_FDIM)


UNUSUAL = ["[2H]C([2H])Cl", "[13CH3]O", "[H][H]", "C[C@@H](N)O", "F/C=C\\F", "[NH4+].[O-]C(=O)C",
           "*C", "[CH3]", "S(F)(F)(F)(F)(F)F", "ClP(Cl)(Cl)(Cl)Cl", "[U+3]", "N->[Pt](<-N)(Cl)Cl",
           "C[S@@](=O)c1ccccc1", "[O-][N+](=O)c1cc[nH]c1", "C=C=C", "[C-]#[O+]", "OC(=O)C1CC[C@H](CC1)N"]


def _expected_names(obj, getters, choices):
    """The one-hot feature names of an atom or bond from its own RDKit getters."""
    names = []
    for get, (key, values, labels) in zip(getters, choices):
        value = getattr(obj, get)()
        names.append(f"{key}={labels[values.index(value)] if value in values else 'other'}")
    return names


@pytest.mark.parametrize("smiles", UNUSUAL)
def test_features_equal_rdkit_getters_atom_by_atom(smiles):
    """The chunk-wide reads (degree from the bonds, chiral tags by query, numpy one-hot)
    give what each atom's and bond's own RDKit getters say."""
    from molprop.features.graph import _ATOM_CHOICES, _BOND_CHOICES, ATOM_ONEHOT_DIM, BOND_ONEHOT_DIM

    mol = Chem.MolFromSmiles(smiles)
    g = featurize_graph(mol)
    atom_getters = ("GetAtomicNum", "GetTotalDegree", "GetFormalCharge", "GetChiralTag", "GetTotalNumHs",
                    "GetHybridization")  # fmt: skip
    names, bond_names = atom_feature_names(), bond_feature_names()
    assert g.n_atoms == mol.GetNumAtoms() and g.n_bonds == mol.GetNumBonds()
    for atom, row in zip(mol.GetAtoms(), g.atom_features):
        hot = [names[i] for i in np.flatnonzero(row[:ATOM_ONEHOT_DIM])]
        assert hot == _expected_names(atom, atom_getters, _ATOM_CHOICES)
        assert row[ATOM["aromatic"]] == atom.GetIsAromatic()
        assert row[ATOM["mass/100"]] == np.float32(atom.GetMass() * 0.01)
    for bond, pair, row in zip(mol.GetBonds(), g.bond_index, g.bond_features):
        assert tuple(pair) == (bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())
        hot = [bond_names[i] for i in np.flatnonzero(row[:BOND_ONEHOT_DIM])]
        assert hot == _expected_names(bond, ("GetBondType", "GetStereo"), _BOND_CHOICES)
        assert row[BOND["conjugated"]] == bond.GetIsConjugated() and row[BOND["in_ring"]] == bond.IsInRing()


def test_batch_has_two_directed_edges_per_bond_and_reverse_index():
    graphs = [graph("c1ccccc1"), graph("[Na+].[Cl-]"), graph("CCO")]
    batch = batch_graphs(graphs)
    assert batch.atom_features.shape == (11, ATOM_FDIM)
    assert batch.edge_index.shape == (2, 16) and batch.edge_features.shape == (16, BOND_FDIM)
    np.testing.assert_array_equal(batch.edge_index[:, batch.rev_edge_index], batch.edge_index[::-1])
    np.testing.assert_array_equal(batch.atom_to_mol, [0] * 6 + [1] * 2 + [2] * 3)
    assert batch.edge_index[:, 12:].min() == 8  # ethanol's atoms come after the 8 before it
    np.testing.assert_array_equal(batch.edge_features[12], graphs[2].bond_features[0])


def test_parquet_round_trip(tmp_path):
    smiles = ["c1ccccc1", "[Na+].[Cl-]", "CC(=O)Oc1ccccc1C(=O)O", "F/C=C/F", "C"]
    ids = [f"m{i}" for i in range(len(smiles))]
    config = FeaturizeConfig(morgan=None, descriptors=None, n_jobs=1, chunk_size=2, row_group_size=3)
    featurize_table(ids, smiles, config, tmp_path / "f.parquet", tmp_path / "g.parquet", progress=False)
    loaded = load_graphs(tmp_path / "g.parquet")
    assert load_graph_chunk(tmp_path / "g.parquet")[0] == ids
    for smi, g in zip(smiles, loaded):
        expected = graph(smi)
        np.testing.assert_array_equal(g.atom_features, expected.atom_features)
        np.testing.assert_array_equal(g.bond_index, expected.bond_index)
        np.testing.assert_array_equal(g.bond_features, expected.bond_features)


def test_stored_codes_give_back_every_unusual_graph_and_the_file_is_compact(tmp_path):
    ids = [f"u{i}" for i in range(len(UNUSUAL))]
    config = FeaturizeConfig(morgan=None, descriptors=None, n_jobs=1, chunk_size=4, row_group_size=5)
    featurize_table(ids, UNUSUAL, config, tmp_path / "f.parquet", tmp_path / "g.parquet", progress=False)
    for smi, g in zip(UNUSUAL, load_graphs(tmp_path / "g.parquet")):
        expected = graph(smi)
        for field in ("atom_features", "bond_index", "bond_features"):
            np.testing.assert_array_equal(getattr(g, field), getattr(expected, field))
    table = pq.read_table(tmp_path / "g.parquet")
    n_atoms = sum(Chem.MolFromSmiles(s).GetNumAtoms() for s in UNUSUAL)
    assert sum(len(b) for b in table.column("atom_codes").to_pylist()) == n_atoms * ATOM_CODES  # 7 bytes per atom


def test_old_or_damaged_graph_files_are_refused_with_a_hint(tmp_path):
    config = FeaturizeConfig(morgan=None, descriptors=None, n_jobs=1)
    featurize_table(["a", "b"], ["CCO", "c1ccccc1"], config, tmp_path / "f.parquet", tmp_path / "g.parquet",
                    progress=False)  # fmt: skip
    table = pq.read_table(tmp_path / "g.parquet")
    meta = json.loads(table.schema.metadata[METADATA_KEY]) | {"version": 1}
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(meta)}), tmp_path / "old.parquet")
    with pytest.raises(ValueError, match="graph format 1.*re-run the featurize stage"):
        load_graphs(tmp_path / "old.parquet")
    codes = table.column("atom_codes").to_pylist()
    damaged = table.set_column(table.schema.get_field_index("atom_codes"), "atom_codes",
                               pa.array([codes[0][:-7], codes[1]], pa.large_binary()))  # fmt: skip
    pq.write_table(damaged, tmp_path / "damaged.parquet")
    with pytest.raises(ValueError, match="atom_codes does not match n_atoms"):
        load_graphs(tmp_path / "damaged.parquet")


def test_graph_disabled_writes_ids_only_and_load_says_so(tmp_path):
    config = FeaturizeConfig(descriptors=None, graph=False, n_jobs=1)
    featurize_table(["a"], ["CCO"], config, tmp_path / "f.parquet", tmp_path / "g.parquet", progress=False)
    with pytest.raises(ValueError, match="featurize.graph"):
        load_graphs(tmp_path / "g.parquet")


def test_graph_modules_do_not_import_torch():
    code = ("import sys, molprop.features.graph, molprop.features.graph_store; "
            "print(sorted({'torch', 'mlflow', 'great_expectations'} & set(sys.modules)))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
