"""Interpretation science: SHAP of the forest, integrated gradients of the networks, Morgan
bits and descriptors mapped onto atoms, and the error analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors, rdMolDescriptors

from molprop.features.config import MorganConfig
from molprop.features.fingerprints import morgan_fingerprints
from molprop.features.graph import featurize_graph
from molprop.interpretation.attribution import integrated_gradients
from molprop.interpretation.descriptor_atoms import ATOM_TERMS, descriptor_shares
from molprop.interpretation.errors import TrainingNeighbours, typical_predictions, worst_predictions
from molprop.interpretation.explain import explain_molecule, explain_saved
from molprop.interpretation.morgan_bits import (atom_weights, bit_environments, bit_substructures, environment_atoms,
                                                environment_identifiers, environment_smiles)
from molprop.interpretation.baseline_shap import baseline_shap, shap_importance
from molprop.models.estimators import fit_estimator, make_estimator
from molprop.models.matrix import FEATURE_GROUPS, Preprocessor
from molprop.models.predictor import predict_saved
from molprop.models.store import ModelCard, save_card, save_sklearn_member
from molprop.nn.store import build_network, network_config, save_member

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "ClC(Cl)Cl", "C1CC1C(=O)O", "CCN(CC)CC",
          "c1ccc2ccccc2c1", "OCC(O)CO", "CC#N", "CCCCCCO", "Oc1ccc(Cl)cc1", "CC(C)(C)O"]
RADIUS, N_BITS = 2, 256

def _forest(x, y, task, n_estimators, seed=0):
    """A small random forest fitted with the baseline's own estimator factory."""
    return fit_estimator(make_estimator("random_forest", task, {"n_estimators": n_estimators}, seed, 1), x, y, 1)



def _fingerprint_frame(smiles, n_bits=N_BITS):
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    fp, _ = morgan_fingerprints(mols, MorganConfig(RADIUS, n_bits, counts=True))
    frame = pd.DataFrame(fp, columns=[f"fp_{i}" for i in range(n_bits)])
    frame["desc_TPSA"] = [Descriptors.TPSA(m) for m in mols]
    frame["desc_MolWt"] = [Descriptors.MolWt(m) for m in mols]
    return mols, frame


def _save_forest(directory, frame, y, task="regression", members=("member_0",), classes=()):
    for k, member in enumerate(members):
        prep = Preprocessor.fit(frame, list(frame.columns), scale=False)
        forest = _forest(prep.transform(frame), y, task, 15, k)
        save_sklearn_member(directory / member, forest, prep)
    save_card(directory, ModelCard("sklearn", task, ["morgan", "descriptors"], list(members), list(classes)))


def _save_network(directory, kind, frame, n_outputs=1, task="regression", members=("member_0",),
                  scaling="quantile"):
    torch.manual_seed(0)
    params = {"hidden_size": 16, "depth": 2, "dropout": 0.0, "ffn_hidden_size": 8, "n_layers": 2,
              "readout": "sum", "batch_norm": True}
    for member in members:
        prep = Preprocessor.fit(frame, list(frame.columns), scale=scaling)
        config = network_config(kind, len(frame.columns), n_outputs, params)
        scale = (-3.0, 2.5) if task == "regression" else None
        network = build_network(kind, config)
        for module in network.modules():  # trained-looking batch-norm statistics
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        save_member(directory / member, kind, config, network.state_dict(), prep, scale)
    groups = [g for g, prefix in FEATURE_GROUPS.items() if any(c.startswith(prefix) for c in frame.columns)]
    save_card(directory, ModelCard("torch", task, groups, list(members), ["a", "b", "c"][:n_outputs]
                                   if task == "classification" else []))


# --- Morgan bits ------------------------------------------------------------------------

def test_bit_environments_are_the_featurized_counts():
    mols, frame = _fingerprint_frame(SMILES)
    for mol, row in zip(mols, frame.filter(like="fp_").to_numpy()):
        envs = bit_environments(mol, RADIUS, N_BITS)
        assert sorted(envs) == np.flatnonzero(row).tolist()
        assert all(len(envs[b]) == row[b] for b in envs)


def test_environment_atoms_of_radius_one_are_the_centre_and_its_neighbours():
    mol = Chem.MolFromSmiles("CC(C)O")
    assert environment_atoms(mol, 1, 1) == [0, 1, 2, 3]
    assert environment_atoms(mol, 3, 0) == [3]


def test_atom_weights_spread_each_present_bit_and_ignore_absent_ones():
    mol = Chem.MolFromSmiles("c1ccccc1O")
    envs = bit_environments(mol, RADIUS, N_BITS)
    values = {bit: 0.1 * (i + 1) for i, bit in enumerate(sorted(envs))}
    absent = next(b for b in range(N_BITS) if b not in envs)
    weights = atom_weights(mol, values | {absent: 100.0}, RADIUS, N_BITS)
    assert weights.sum() == pytest.approx(sum(values.values()))
    # A position set by the oxygen alone (radius 0) puts its whole value on atom 6.
    oxygen_bit = next(b for b, e in envs.items() if e == ((6, 0),))
    only = atom_weights(mol, {oxygen_bit: 1.0}, RADIUS, N_BITS)
    assert only[6] == 1.0 and only.sum() == 1.0


def test_bit_substructures_count_molecules_and_pick_the_smallest_example():
    mols = [Chem.MolFromSmiles(s) for s in ["CCCCO", "CO", "OCCO", "c1ccccc1"]]
    hydroxyl = next(b for b, e in bit_environments(mols[1], RADIUS, N_BITS).items() if e == ((1, 0),))
    found = bit_substructures(mols, [hydroxyl], RADIUS, N_BITS)[hydroxyl]
    assert found[0].smiles == "[OH]~* (chain)" and found[0].n_molecules == 3  # an O with one H and one neighbour
    assert found[0].example == 1 and found[0].environment == (1, 0)


def test_one_substructure_is_one_however_written():
    """Stereo marks (which the fingerprint ignores) and atom order made one environment look
    like two, a hash collision that was not: [C@@H] vs [CH], [cH]([c])[cH] vs [cH]([cH])[c]."""
    mols = [Chem.MolFromSmiles(s) for s in ["CC[C@@H](C)O", "CCC(C)O", "Oc1ccccc1", "c1ccc(O)cc1"]]
    bits = sorted(set().union(*(bit_environments(m, RADIUS, N_BITS) for m in mols)))
    found = bit_substructures(mols, bits, RADIUS, N_BITS)
    assert all(len(found[b]) == 1 and found[b][0].n_molecules in (2, 4) for b in bits)  # [OH]*: all four
    assert not any("@" in found[b][0].smiles for b in bits)
    labels = {found[b][0].smiles for b in bits}
    assert "[OH]~* (chain)" in labels  # radius 0 shows its neighbours
    ether, ketone = Chem.MolFromSmiles("COC"), Chem.MolFromSmiles("CC(C)=O")
    assert environment_smiles(ether, 1, 0) == "[O](~*)~* (chain)" and environment_smiles(ketone, 3, 0) == "[O]~* (chain)"


def test_a_radius_0_label_shows_no_bond_order_or_aromaticity_the_fingerprint_lacks():
    """Bug fixed: benzene's [cH] and cyclopentene's =CH- are one Morgan identifier (element, H,
    charge, heavy neighbours, ring), which was labelled by its smallest molecule: '[CH](=*)*'
    for a position set mostly by aromatic carbons."""
    mols = [Chem.MolFromSmiles(s) for s in ("C1=CCCC1", "c1ccccc1", "c1ccncc1")]
    bits = sorted(set().union(*(bit_environments(m, 0, N_BITS) for m in mols)))
    labels = {e.smiles: e.n_molecules for b in bits for e in bit_substructures(mols, [b], 0, N_BITS)[b]}
    assert labels == {"[CH](~*)~* (ring)": 3, "[CH2](~*)~* (ring)": 1, "[N](~*)~* (ring)": 1}
    assert environment_smiles(Chem.MolFromSmiles("C[N+](C)(C)C"), 1, 0) == "[N+](~*)(~*)(~*)~* (chain)"
    assert environment_smiles(Chem.MolFromSmiles("CC(=O)[O-]"), 3, 0) == "[O-]~* (chain)"
    # isotopes where Morgan tells them apart (a whole mass unit), and an H atom written out is an H
    label = {s: environment_smiles(Chem.MolFromSmiles(s), 1, 0) for s in ("C[18OH]", "C[13CH3]", "[2H]C", "C[2H]")}
    assert label == {"C[18OH]": "[18OH]~* (chain)", "C[13CH3]": "[CH3]~* (chain)", "[2H]C": "[CH4] (chain)",
                     "C[2H]": "[2H]~* (chain)"}


def test_bit_substructures_of_a_molecule_in_several_pieces():
    # validate keeps CCO.CCO (identical pieces are no mixture): a rooted SMILES of a radius-0
    # environment raised RDKit's "single fragment" precondition and stopped interpret
    mols = [Chem.MolFromSmiles("CCO.CCO"), Chem.MolFromSmiles("CCO.c1ccccc1")]
    bits = sorted(set(bit_environments(mols[0], RADIUS, N_BITS)) | set(bit_environments(mols[1], RADIUS, N_BITS)))
    found = bit_substructures(mols, bits, RADIUS, N_BITS)
    assert {s.smiles for b in bits for s in found[b]} >= {"[OH]~* (chain)", "[CH3]~* (chain)", "[cH]([cH])[cH]"}


# --- descriptors as sums over atoms --------------------------------------------------

@pytest.mark.parametrize("name,smiles", [("TPSA", "CC(=O)Nc1ccc(O)cc1"), ("MolMR", "CC(=O)Nc1ccc(O)cc1"),
                                         ("NOCount", "CC(=O)Nc1ccc(O)cc1"), ("NHOHCount", "CC(=O)Nc1ccc(O)cc1"),
                                         ("NHOHCount", "NCCO"), ("LabuteASA", "NCCO"), ("LabuteASA", "FC(F)(F)F"),
                                         ("MolLogP", "CCCCc1ccc(Cl)cc1")])
def test_descriptor_shares_rebuild_the_descriptor(name, smiles):
    mol = Chem.MolFromSmiles(smiles)
    shares = descriptor_shares(mol, name)
    assert shares is not None and shares.sum() == pytest.approx(1.0)
    value = getattr(Descriptors, name)(mol)
    terms = shares * value
    if name == "TPSA":
        assert np.allclose(terms, rdMolDescriptors._CalcTPSAContribs(mol))
    if name == "NOCount":
        assert np.count_nonzero(terms) == 3  # the N and both O
    if name == "NHOHCount" and smiles == "NCCO":
        assert np.allclose(terms, [2, 0, 0, 1])  # RDKit counts the hydrogens: the NH2 carries two of three
    if name == "LabuteASA":  # the terms themselves add up to it, a perfluorinated molecule's included
        assert ATOM_TERMS[name](mol).sum() == pytest.approx(value)
    if name == "LabuteASA" and smiles == "NCCO":  # the hydrogens' term goes to the atoms that carry them
        heavy, hydrogens = rdMolDescriptors._CalcLabuteASAContribs(mol)
        assert np.allclose(terms - np.asarray(heavy), hydrogens * np.array([2, 2, 2, 1]) / 7)
    assert terms.sum() == pytest.approx(value)


def test_descriptor_shares_refuse_unmappable_or_zero_descriptors():
    assert descriptor_shares(Chem.MolFromSmiles("CCO"), "BertzCT") is None
    assert descriptor_shares(Chem.MolFromSmiles("CCC"), "TPSA") is None
    # Paracetamol's logP terms mostly cancel (1.35 from terms of both signs): left unmapped.
    assert descriptor_shares(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"), "MolLogP") is None


def test_explain_molecule_balances_base_atoms_and_other():
    mols, frame = _fingerprint_frame(["c1ccccc1O"])
    columns = list(frame.columns)
    contributions = np.linspace(-1, 1, len(columns))
    contributions[-1] = 5.0  # desc_MolWt: not a sum over atoms
    e = explain_molecule(mols[0], columns, contributions, frame.to_numpy()[0], base=2.0,
                         output=2.0 + contributions.sum(), radius=RADIUS, n_bits=N_BITS)
    assert e.base + e.atoms_total + e.other_total == pytest.approx(e.output)
    present = frame.to_numpy()[0][:-2] > 0
    expected_atoms = contributions[:-2][present].sum() + contributions[-2]  # bits set + TPSA
    assert e.atoms_total == pytest.approx(expected_atoms)
    assert e.top_other[0][0] == "desc_MolWt"  # the largest unmapped contribution


# --- SHAP ---------------------------------------------------------------------------------

def test_forest_shap_adds_up_to_the_ensemble_prediction(tmp_path):
    mols, frame = _fingerprint_frame(SMILES)
    y = frame["desc_TPSA"].to_numpy() * 0.1 + np.arange(len(SMILES)) * 0.01
    _save_forest(tmp_path, frame, y, members=("fold_0", "fold_1"))
    shap = baseline_shap(tmp_path, frame)
    expected = predict_saved(tmp_path, frame).mean
    assert np.allclose(shap.base + shap.values.sum(axis=1), expected, atol=1e-8)
    assert np.allclose(shap.output, expected, atol=1e-8)


def test_shap_importance_ranks_the_signal_first_with_its_direction(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"desc_up": rng.normal(size=200), "desc_down": rng.normal(size=200),
                          "desc_noise": rng.normal(size=200), "desc_constant": np.ones(200)})
    _save_forest(tmp_path, frame, 3 * frame["desc_up"].to_numpy() - frame["desc_down"].to_numpy())
    importance = shap_importance(baseline_shap(tmp_path, frame)).set_index("feature")
    assert importance.index[:3].tolist() == ["desc_up", "desc_down", "desc_noise"]
    assert importance.loc["desc_up", "direction"] > 0.9 and importance.loc["desc_down", "direction"] < -0.9
    assert importance.loc["desc_constant", "importance"] == 0
    assert np.isnan(importance.loc["desc_constant", "direction"])


def test_forest_shap_explains_the_predicted_class_probability(tmp_path):
    mols, frame = _fingerprint_frame(SMILES)
    y = np.array([0, 1, 2] * 4)
    _save_forest(tmp_path, frame, y, task="classification", classes=("a", "b", "c"))
    shap = baseline_shap(tmp_path, frame)
    proba = predict_saved(tmp_path, frame).mean
    assert np.array_equal(shap.explained_class, proba.argmax(axis=1))
    assert np.allclose(shap.output, proba.max(axis=1), atol=1e-8)


# --- integrated gradients --------------------------------------------------------------

@pytest.mark.parametrize("kind,scaling", [("dmpnn", "quantile"), ("dmpnn", "standard"), ("mlp", "standard")])
def test_integrated_gradients_are_complete_and_match_predictions(tmp_path, kind, scaling):
    mols, frame = _fingerprint_frame(SMILES[:5])
    _save_network(tmp_path, kind, frame, scaling=scaling)
    graphs = [featurize_graph(m) for m in mols]
    columns, found = integrated_gradients(tmp_path, frame, graphs, steps=128)
    predicted = predict_saved(tmp_path, frame, "cpu", graphs).mean
    assert columns == list(frame.columns)
    for a, p, mol in zip(found, predicted, mols):
        assert a.output == pytest.approx(p, abs=1e-4)
        atoms = 0.0 if a.atoms is None else a.atoms.sum()
        assert atoms + a.features.sum() == pytest.approx(a.output - a.baseline_output, abs=0.02)
        assert (a.atoms is None) == (kind == "mlp") and (kind == "mlp" or len(a.atoms) == mol.GetNumAtoms())


def test_integrated_gradients_of_a_classifier_explain_the_requested_class(tmp_path):
    mols, frame = _fingerprint_frame(SMILES[:3])
    _save_network(tmp_path, "dmpnn", frame, n_outputs=3, task="classification", members=("m0", "m1"))
    graphs = [featurize_graph(m) for m in mols]
    _, found = integrated_gradients(tmp_path, frame, graphs, classes=[2, 0, 1], steps=96)
    proba = predict_saved(tmp_path, frame, "cpu", graphs).mean
    assert [a.output for a in found] == pytest.approx(proba[[0, 1, 2], [2, 0, 1]], abs=1e-5)
    with pytest.raises(ValueError, match="class to explain"):
        integrated_gradients(tmp_path, frame, graphs)


def test_explain_saved_maps_network_contributions_onto_atoms(tmp_path):
    mols, frame = _fingerprint_frame(SMILES[:4])
    _save_network(tmp_path, "dmpnn", frame)
    found = explain_saved(tmp_path, mols, frame, [featurize_graph(m) for m in mols], None, RADIUS, N_BITS,
                          ig_steps=96)
    for e, mol in zip(found, mols):
        assert len(e.atoms) == mol.GetNumAtoms()
        assert e.base + e.atoms_total + e.other_total == pytest.approx(e.output, abs=0.02)


# --- error analysis ----------------------------------------------------------------------

def _predictions():
    return pd.DataFrame({"mol_id": list("abcde"), "smiles": ["CCO", "CCN", "c1ccccc1", "CCCl", "CC"],
                         "y": [0.0, 1.0, 2.0, 3.0, 4.0], "model": [0.5, 3.0, 2.0, 3.3, 5.0],
                         "model_error": [0.5, 2.0, 0.0, 0.3, 1.0]})


def test_worst_and_typical_predictions():
    worst = worst_predictions(_predictions(), "model", 2)
    assert worst["mol_id"].tolist() == ["b", "e"]
    assert list(worst.columns) == ["mol_id", "smiles", "measured", "predicted", "error"]
    assert typical_predictions(_predictions(), "model", 1)["mol_id"].tolist() == ["a"]  # median 0.5
    # the median of all test molecules, not of those outside the worst list (here: 0.3, "d")
    assert typical_predictions(_predictions(), "model", 2, exclude=["a"])["mol_id"].tolist() == ["d", "c"]


def test_training_neighbours_find_the_closest_molecule_and_scaffold_counts():
    train_smiles = ["c1ccccc1CCO", "CCCCCC", "c1ccccc1C", "O=C1CCCCC1"]
    table = pd.DataFrame({"mol_id": ["t0", "t1", "t2", "t3"], "smiles": train_smiles,
                          "y": [1.0, 2.0, 3.0, 4.0], "split": ["train", "train", "val", "train"]})
    neighbours = TrainingNeighbours([Chem.MolFromSmiles(s) for s in train_smiles], table)
    errors = pd.DataFrame({"mol_id": ["q0", "q1"], "smiles": ["c1ccccc1CC", "CCCCCCC"],
                           "measured": [0.0, 0.0], "predicted": [1.0, 1.0], "error": [1.0, 1.0]})
    out = neighbours.describe(errors, [Chem.MolFromSmiles(s) for s in errors["smiles"]])
    assert out["neighbour_id"].tolist()[1] == "t1"
    assert out["scaffold"].tolist() == ["c1ccccc1", ""]
    assert out["n_nontest_same_scaffold"].tolist() == [2, 1]  # two benzenes; one acyclic
    assert 0 < out["neighbour_similarity"].iloc[0] < 1
    assert set(out.columns) >= {"neighbour_smiles", "neighbour_measured", "neighbour_split"}


def test_a_molecule_sharing_nothing_with_the_non_test_ones_has_no_neighbour():
    """Bug fixed: a lone [Xe] was given the first non-test molecule (similarity 0) as nearest."""
    table = pd.DataFrame({"mol_id": ["t0", "t1"], "smiles": ["CCO", "c1ccccc1"], "y": [1.0, 2.0],
                          "split": ["train", "val"]})
    neighbours = TrainingNeighbours([Chem.MolFromSmiles(s) for s in table["smiles"]], table)
    errors = pd.DataFrame({"mol_id": ["q0", "q1"], "smiles": ["[Xe]", "CCCO"], "measured": [0.0, 0.0],
                           "predicted": [1.0, 1.0], "error": [1.0, 1.0]})
    out = neighbours.describe(errors, [Chem.MolFromSmiles(s) for s in errors["smiles"]])
    assert out["neighbour_similarity"].tolist()[0] == 0.0
    assert out[["neighbour_id", "neighbour_smiles", "neighbour_measured", "neighbour_split"]].iloc[0].isna().all()
    assert (out["neighbour_id"].iloc[1], out["neighbour_split"].iloc[1]) == ("t0", "train")


def test_two_substructures_with_one_label_are_told_apart():
    """CCC's and C1CC1's CH2: the fingerprint tells them apart (ring), and so does the label."""
    mols = [Chem.MolFromSmiles("CCC"), Chem.MolFromSmiles("C1CC1")]
    ids = [next(i for (a, r), i in environment_identifiers(m, 0, 1).items() if a == 1 and r == 0) for m in mols]
    assert ids[0] != ids[1]  # one position when folded to a single bit: a collision with one label
    found = bit_substructures(mols, [0], 0, 1)[0]
    assert {"[CH2](~*)~* (chain)", "[CH2](~*)~* (ring)"} <= {e.smiles for e in found}


def test_a_bit_s_example_is_its_first_environment_in_the_molecule():
    from rdkit import Chem

    from molprop.interpretation.morgan_bits import bit_substructures, environment_identifiers

    mol = Chem.MolFromSmiles("OCCO")
    ids = environment_identifiers(mol, 0, 2048)
    bit = ids[(0, 0)] % 2048  # the hydroxyl O, also at atom 3
    assert ids[(3, 0)] == ids[(0, 0)]
    (example,) = bit_substructures([mol], [bit], 0, 2048)[bit]
    assert example.n_molecules == 1
    assert example.environment == (0, 0)


def test_a_radius_2_environment_reaches_two_bonds():
    from rdkit import Chem

    from molprop.interpretation.morgan_bits import environment_atoms

    assert environment_atoms(Chem.MolFromSmiles("CCCCCCC"), 3, 2) == [1, 2, 3, 4, 5]
    assert environment_atoms(Chem.MolFromSmiles("CCCCCCC"), 3, 1) == [2, 3, 4]


def test_a_bond_contribution_is_split_half_and_half_between_its_atoms():
    """Catches the slip (attribution.py: whole directed-edge contribution to its source atom): the
    module doc says a bond's contribution is split between its two atoms. A model linear in
    the features of directed bond 0 only: that bond's two atoms get half each, others none."""
    from molprop.interpretation.attribution import _graph_member

    graph = featurize_graph(Chem.MolFromSmiles("CCO"))
    n_edges = 2 * graph.n_bonds

    def model(tensors):
        edges = tensors.edge_features.view(-1, n_edges, tensors.edge_features.shape[1])
        atoms = tensors.atom_features.view(edges.shape[0], graph.n_atoms, -1)
        return (edges[:, 0, :].sum(1) + 0.0 * atoms.sum((1, 2)))[:, None]

    result = _graph_member(model, graph, None, np.zeros(0), 8, lambda raw: raw[:, 0])
    from molprop.features.graph import batch_graphs
    source, target = batch_graphs([graph]).edge_index[:, 0]
    total = result.output - result.baseline_output
    assert total > 0
    assert result.atoms[source] == pytest.approx(total / 2, rel=1e-5)
    assert result.atoms[target] == pytest.approx(total / 2, rel=1e-5)
    others = [i for i in range(graph.n_atoms) if i not in (source, target)]
    assert np.allclose(result.atoms[others], 0.0)


def test_integrated_gradients_use_the_midpoint_rule():
    """Catches the slip (attribution.py _graph_member: alphas k/steps, the left Riemann sum, instead of
    (k + 0.5)/steps). For an output quadratic in the features the midpoint rule is exact, so
    atoms sum to output - baseline even with 4 steps; the left sum misses by 1/steps."""
    from molprop.interpretation.attribution import _graph_member

    graph = featurize_graph(Chem.MolFromSmiles("CCO"))
    n_edges = 2 * graph.n_bonds

    def model(tensors):
        edges = tensors.edge_features.view(-1, n_edges, tensors.edge_features.shape[1])
        atoms = tensors.atom_features.view(edges.shape[0], graph.n_atoms, -1)
        return ((edges ** 2).sum((1, 2)) + (atoms ** 2).sum((1, 2)))[:, None]

    result = _graph_member(model, graph, None, np.zeros(0), 4, lambda raw: raw[:, 0])
    assert result.atoms.sum() == pytest.approx(result.output - result.baseline_output, rel=1e-5)
