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


# RDKit-canonical SMILES of varied chemistry: charged and fused aromatics, heteroaromatics
# with [nH], Se, B; isotopes; radicals; hypervalent atoms; salts; a dative bond (oxaliplatin).
VARIED = ["c1ccc2c(c1)[nH]c1ccccc12", "C[n+]1ccccc1", "[O-][n+]1ccccc1", "c1cc[se]c1", "c1ccb[nH]1",
          "O=c1cc[nH]cc1", "O=[N+]([O-])c1ccccc1", "[2H]c1ccccc1", "[13CH3]O", "[CH2]C", "[O][O]",
          "F[P-](F)(F)(F)(F)F", "S=P(Cl)(Cl)Cl", "c1ccc-2c(c1)-c1ccccc-21", "C1CC2CCC1C2", "[NH4+].[Cl-]",
          "C[S+](C)C", "[H][H]", "CC(C)(C)[Si](C)(C)O", "O=C1O[Pt]2(<-N[C@@H]3CCCC[C@H]3N->2)OC1=O",
          "CC(=O)Oc1ccccc1C(=O)O", "C#[N+][O-]", "c1ccc2[n+](c1)CC2", "Cc1nc2ccccc2s1"]


@pytest.mark.parametrize("counts", [True, False])
@pytest.mark.parametrize("radius", [0, 1, 2, 3])
def test_molecules_read_for_fingerprints_give_the_sanitized_fingerprints(radius, counts):
    from molprop.molecules import parse_validated

    smiles = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in VARIED]
    quick = parse_validated(smiles, range(len(smiles)), "row", "t", for_fingerprints=True)
    config = MorganConfig(radius=radius, counts=counts)
    np.testing.assert_array_equal(morgan_fingerprints(quick, config)[0], morgan_fingerprints(mols(smiles), config)[0])


def test_a_dative_bond_is_read_in_full():
    """RDKit's ring search leaves dative bonds out, the quick one does not: oxaliplatin's amine
    nitrogens would count as ring atoms."""
    from molprop.molecules import parse_validated

    smiles = Chem.MolToSmiles(Chem.MolFromSmiles("O=C1O[Pt]2(<-N[C@@H]3CCCC[C@H]3N->2)OC1=O"))
    quick = Chem.MolFromSmiles(smiles, sanitize=False)
    quick.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(quick)
    full, = morgan_fingerprints(mols([smiles]), MorganConfig())[0]
    assert not np.array_equal(morgan_fingerprints([quick], MorganConfig())[0][0], full)
    read = parse_validated([smiles], ["x"], "row", "t", for_fingerprints=True)
    np.testing.assert_array_equal(morgan_fingerprints(read, MorganConfig())[0][0], full)


def test_a_count_of_exactly_256_is_reported_as_clipped():
    from rdkit import Chem

    from molprop.features.config import MorganConfig
    from molprop.features.fingerprints import morgan_fingerprints

    chain = Chem.MolFromSmiles("C" * 258)  # 256 CH2 environments + 2 CH3 at radius 0
    counts, n_clipped = morgan_fingerprints([chain], MorganConfig(radius=0, counts=True))
    assert sorted(counts[0][counts[0] > 0].tolist()) == [2, 255]
    assert n_clipped == 1


def test_a_count_of_exactly_255_is_not_reported_as_clipped():
    at_limit = Chem.MolFromSmiles("C" * 257)  # radius 0: 255 CH2 environments and 2 CH3
    counts, n_clipped = morgan_fingerprints([at_limit], MorganConfig(radius=0))
    assert counts.max() == 255 and n_clipped == 0
    assert morgan_fingerprints([Chem.MolFromSmiles("C" * 258)], MorganConfig(radius=0))[1] == 1
