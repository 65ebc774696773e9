"""Morgan fingerprints: bit vs count vectors, radius, size, clipping."""

import numpy as np
import pytest
from rdkit import Chem

from molprop.features.config import MorganConfig
from molprop.features.fingerprints import COUNT_CLIP, fingerprint_columns, morgan_fingerprints

SMILES = ["c1ccccc1", "CCO", "CC(=O)Oc1ccccc1C(=O)O", "CCCCCCCC", "[Na+].[Cl-]"]


def mols(smiles=SMILES):
    return [Chem.MolFromSmiles(s) for s in smiles]


def test_bits_are_the_nonzero_positions_of_counts():
    bits, _ = morgan_fingerprints(mols(), MorganConfig(counts=False))
    counts, _ = morgan_fingerprints(mols(), MorganConfig(counts=True))
    assert bits.dtype == counts.dtype == np.uint8
    assert bits.shape == counts.shape == (len(SMILES), 2048)
    assert set(np.unique(bits)) <= {0, 1}
    np.testing.assert_array_equal(bits, (counts > 0).astype(np.uint8))
    assert counts.max() > 1  # octane repeats its CH2 environments


def test_radius_zero_benzene_has_one_environment_six_times():
    counts, _ = morgan_fingerprints(mols(["c1ccccc1"]), MorganConfig(radius=0, n_bits=2048))
    assert np.count_nonzero(counts) == 1
    assert counts.sum() == 6


def test_larger_radius_adds_environments():
    r1, _ = morgan_fingerprints(mols(), MorganConfig(radius=1, counts=False))
    r3, _ = morgan_fingerprints(mols(), MorganConfig(radius=3, counts=False))
    assert (r3.sum(axis=1) >= r1.sum(axis=1)).all()
    assert (r3.sum(axis=1) > r1.sum(axis=1)).any()


def test_size_sets_the_number_of_columns():
    fps, _ = morgan_fingerprints(mols(), MorganConfig(n_bits=512))
    assert fps.shape == (len(SMILES), 512)
    assert fingerprint_columns(MorganConfig(n_bits=3)) == ["fp_0", "fp_1", "fp_2"]


def test_counts_above_255_are_clipped_and_counted():
    long_chain = Chem.MolFromSmiles("C" * 300)
    counts, n_clipped = morgan_fingerprints([long_chain], MorganConfig(radius=0))
    assert counts.max() == COUNT_CLIP
    assert n_clipped >= 1


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError, match="n_bits"):
        MorganConfig(n_bits=0)
