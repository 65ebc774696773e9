"""The D-MPNN: shapes, invariances, no cross-talk between molecules, and that it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from molprop.features.graph import featurize_graph
from molprop.nn.mpnn import MPNN, GraphInputs, MPNNConfig
from molprop.nn.training import TrainConfig, fit, predict

CPU = torch.device("cpu")
SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C", "ClC(Cl)Cl", "C1CC1C(=O)O", "CCN(CC)CC",
          "c1ccc2ccccc2c1", "OCC(O)CO", "CC#N"]


def graphs(smiles):
    return [featurize_graph(Chem.MolFromSmiles(s)) for s in smiles]


def embed(model, smiles, extra=None):
    inputs = GraphInputs(graphs(smiles), extra)
    model.eval()
    with torch.no_grad():
        return model.embed(inputs.batch(np.arange(len(smiles)), CPU)).numpy()


@pytest.fixture
def model():
    torch.manual_seed(0)
    return MPNN(MPNNConfig(n_outputs=1, hidden_size=32, depth=3, ffn_hidden_size=16))


def test_outputs_one_row_per_molecule_including_a_bondless_one(model):
    inputs = GraphInputs(graphs(SMILES))
    out = model(inputs.batch(np.arange(len(SMILES)), CPU))
    assert out.shape == (len(SMILES), 1) and torch.isfinite(out).all()


def test_a_molecule_embeds_the_same_alone_and_in_a_batch(model):
    together = embed(model, SMILES)
    for i, smiles in enumerate(SMILES):
        assert np.allclose(embed(model, [smiles])[0], together[i], atol=1e-5)


def test_atom_order_does_not_matter(model):
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    order = list(np.random.default_rng(0).permutation(mol.GetNumAtoms()))
    shuffled = Chem.MolToSmiles(Chem.RenumberAtoms(mol, [int(i) for i in order]), canonical=False)
    assert np.allclose(embed(model, [Chem.MolToSmiles(mol)]), embed(model, [shuffled]), atol=1e-5)


def test_messages_skip_the_reverse_bond():
    """Ethane's two directed bonds: each gets only the (absent) other neighbours of its
    source atom, so depth changes nothing; propane's middle atom passes messages on."""
    torch.manual_seed(0)
    shallow, deep = (MPNN(MPNNConfig(1, hidden_size=8, depth=d)) for d in (1, 4))
    deep.load_state_dict(shallow.state_dict())
    assert np.allclose(embed(shallow, ["CC"]), embed(deep, ["CC"]), atol=1e-6)
    assert not np.allclose(embed(shallow, ["CCC"]), embed(deep, ["CCC"]), atol=1e-4)


def test_extra_features_are_appended(model):
    wide = MPNN(MPNNConfig(n_outputs=2, hidden_size=32, n_extra=3))
    extra = np.arange(6, dtype=np.float32).reshape(2, 3)
    emb = embed(wide, ["CCO", "CCN"], extra)
    assert emb.shape == (2, 35) and np.array_equal(emb[:, -3:], extra)
    with pytest.raises(ValueError, match="2 graphs but 1 rows"):
        GraphInputs(graphs(["CCO", "CCN"]), extra[:1])


def test_learns_the_number_of_heavy_atoms():
    rng = np.random.default_rng(0)
    smiles = ["C" * n + "O" * m for n in range(1, 9) for m in range(0, 3)] + SMILES
    y = np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles], dtype=np.float32)
    y = (y - y.mean()) / y.std()
    inputs = GraphInputs(graphs(smiles))
    order = rng.permutation(len(smiles))
    config = TrainConfig(lr=3e-3, batch_size=8, max_epochs=60, warmup_epochs=2, patience=60)
    torch.manual_seed(0)
    net = MPNN(MPNNConfig(1, hidden_size=32, depth=3, ffn_hidden_size=32))
    result = fit(net, "regression", (inputs, y), (inputs, y), config, CPU)
    assert result.history[-1]["val_loss"] < 0.05 * result.history[0]["val_loss"]
    net.load_state_dict(result.state_dict)
    pred = predict(net, inputs, "regression", CPU, batch_size=7)
    assert pred.shape == (len(smiles),) and np.corrcoef(pred[order], y[order])[0, 1] > 0.97


def test_dmpnn_matches_a_reference_written_bond_by_bond():
    """Chemprop D-MPNN written with explicit loops over bonds: an atom's message is the sum of
    the hidden states of the bonds pointing INTO it."""
    import torch
    from rdkit import Chem
    from molprop.features.graph import featurize_graph
    from molprop.nn.mpnn import MPNN, GraphInputs, MPNNConfig
    torch.manual_seed(0)
    model = MPNN(MPNNConfig(n_outputs=1, hidden_size=8, depth=3, ffn_hidden_size=4, dropout=0.0)).eval()
    g = featurize_graph(Chem.MolFromSmiles("OCC(=O)N"))
    x, e = torch.tensor(g.atom_features), torch.tensor(g.bond_features)
    edges = [(int(a), int(b), k) for k, (a, b) in enumerate(g.bond_index)]
    edges = [d for a, b, k in edges for d in ((a, b, k), (b, a, k))]
    relu = torch.relu
    with torch.no_grad():
        h0 = [model.w_in(torch.cat([x[s], e[k]])) for s, t, k in edges]
        h = [relu(v) for v in h0]
        for _ in range(model.config.depth - 1):
            new = []
            for i, (s, t, k) in enumerate(edges):
                m = sum((h[j] for j, (s2, t2, _) in enumerate(edges) if t2 == s and s2 != t), torch.zeros(8))
                new.append(relu(h0[i] + model.w_message(m)))
            h = new
        atoms = []
        for a in range(len(x)):
            m = sum((h[j] for j, (s, t, _) in enumerate(edges) if t == a), torch.zeros(8))
            atoms.append(relu(model.w_atom(torch.cat([x[a], m]))))
        expected = torch.stack(atoms).mean(0)
        got = model.embed(GraphInputs([g]).batch(np.arange(1), torch.device("cpu")))[0]
    assert torch.allclose(got, expected, atol=1e-5)


def test_norm_readout_is_the_sum_over_100():
    """Catches the slip (mpnn.py NORM_DIVISOR 100 -> 10): params/docs say 'norm' is sum / 100."""
    torch.manual_seed(0)
    summed = MPNN(MPNNConfig(1, hidden_size=16, depth=2, readout="sum"))
    normed = MPNN(MPNNConfig(1, hidden_size=16, depth=2, readout="norm"))
    normed.load_state_dict(summed.state_dict())
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    np.testing.assert_allclose(embed(normed, smiles), embed(summed, smiles) / 100.0, rtol=1e-5, atol=1e-7)
