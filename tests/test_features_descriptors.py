"""RDKit 2D descriptors: sets, known values, NaN/inf handling."""

import math

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors

from molprop.features import descriptors as desc_mod
from molprop.features.descriptors import (
    SLOW_DESCRIPTORS,
    compute_descriptors,
    descriptor_columns,
    descriptor_names,
)


def test_full_set_is_every_rdkit_descriptor_in_order():
    assert descriptor_names("full") == [name for name, _ in Descriptors.descList]


def test_fast_set_leaves_out_only_the_slow_ones():
    full, fast = descriptor_names("full"), descriptor_names("fast")
    assert SLOW_DESCRIPTORS <= set(full)
    assert fast == [n for n in full if n not in SLOW_DESCRIPTORS]
    assert descriptor_columns("fast")[0] == "desc_" + fast[0]


def test_known_values_for_benzene():
    values = compute_descriptors([Chem.MolFromSmiles("c1ccccc1")], "full")
    assert values.dtype == np.float32 and values.shape == (1, len(Descriptors.descList))
    row = dict(zip(descriptor_names("full"), values[0]))
    assert row["MolWt"] == pytest.approx(78.114, abs=1e-3)
    assert row["NumAromaticRings"] == 1
    assert row["HeavyAtomCount"] == 6
    assert np.isfinite(values).all()


def test_salt_gives_nan_charges_never_zero():
    values = compute_descriptors([Chem.MolFromSmiles("[Na+].[Cl-]")], "full")[0]
    row = dict(zip(descriptor_names("full"), values))
    bcut = [v for n, v in row.items() if n.startswith("BCUT2D_")]
    assert len(bcut) == 8 and all(math.isnan(v) for v in bcut)
    assert not np.isinf(values).any()


def test_nonfinite_overflow_and_errors_become_nan(monkeypatch):
    def boom(mol):
        raise RuntimeError("descriptor failed")

    funcs = (("big", lambda m: 1e300), ("inf", lambda m: float("-inf")), ("boom", boom),
             ("nan", lambda m: float("nan")), ("ok", lambda m: 1.5))  # fmt: skip
    monkeypatch.setattr(desc_mod, "descriptor_functions", lambda which: funcs)
    values = compute_descriptors([Chem.MolFromSmiles("C")], "full")
    assert np.isnan(values[0, :4]).all()
    assert values[0, 4] == 1.5


def test_unknown_set_is_rejected():
    with pytest.raises(ValueError, match="descriptor set"):
        descriptor_names("everything")


def test_a_descriptor_is_dropped_only_above_the_nonfinite_fraction():
    from types import SimpleNamespace

    from molprop.features.config import DescriptorConfig, FeaturizeConfig
    from molprop.features.report import FeatureReport

    def report(limit, desc):
        cfg = FeaturizeConfig(descriptors=DescriptorConfig(max_nonfinite_fraction=limit), graph=False)
        rep = FeatureReport(cfg, ["a", "b"], len(desc))
        rep.add([str(i) for i in range(len(desc))],
                SimpleNamespace(n_clipped=0, descriptors=np.asarray(desc, dtype=np.float32), graphs=None))
        return rep.dropped_descriptors()

    # 'a' non-finite in exactly 1 of 5 (= 0.2): "more than this fraction" -> kept; 'b' in 2 of 5 -> dropped
    desc = [[np.nan, np.nan], [1, np.nan], [2, 3], [3, 4], [4, 5]]
    assert report(0.2, desc) == ["b"]
    # limit 0: only descriptors with a non-finite value are dropped, never clean ones
    assert report(0.0, [[1, np.nan], [2, 3]]) == ["b"]


def test_the_fast_set_leaves_out_exactly_the_slow_descriptors_it_documents():
    from molprop.features.descriptors import descriptor_names

    dropped = set(descriptor_names("full")) - set(descriptor_names("fast"))
    assert dropped == {"qed", "SPS", "BertzCT", "Ipc", "AvgIpc", "BCUT2D_MWHI", "BCUT2D_MWLOW", "BCUT2D_CHGHI",
                       "BCUT2D_CHGLO", "BCUT2D_LOGPHI", "BCUT2D_LOGPLOW", "BCUT2D_MRHI", "BCUT2D_MRLOW"}
