import json

import numpy as np
import pandas as pd
import pytest

from molprop.models.matrix import Preprocessor, select_feature_columns
from molprop.models.partitions import partitions


def _frame():
    return pd.DataFrame(
        {
            "mol_id": list("abcd"),
            "fp_0": np.array([0, 1, 1, 0], dtype=np.uint8),
            "desc_A": np.array([1.0, np.nan, 3.0, np.inf], dtype=np.float32),
            "desc_B": np.array([2.0, 2.0, 2.0, 2.0], dtype=np.float32),
        }
    )


def test_select_feature_columns_by_group():
    cols = ["mol_id", "fp_0", "fp_1", "desc_A"]
    assert select_feature_columns(cols, ["morgan"]) == ["fp_0", "fp_1"]
    assert select_feature_columns(cols, ["morgan", "descriptors"]) == ["fp_0", "fp_1", "desc_A"]
    with pytest.raises(ValueError, match="Unknown feature group"):
        select_feature_columns(cols, ["ecfp"])
    with pytest.raises(ValueError, match="set featurize.descriptors.enabled to true"):
        select_feature_columns(["mol_id", "fp_0"], ["descriptors"])
    with pytest.raises(ValueError, match=r"\['morgan'\] are listed"):  # one of two groups off: not dropped silently
        select_feature_columns(["mol_id", "desc_A"], ["morgan", "descriptors"])


def test_non_finite_values_get_the_train_median_and_only_descriptors_are_scaled():
    frame = _frame()
    prep = Preprocessor.fit(frame.iloc[:3], ["fp_0", "desc_A", "desc_B"], scale=True)
    x = prep.transform(frame)
    assert x.dtype == np.float32 and np.isfinite(x).all()
    assert x[:, 0].tolist() == [0, 1, 1, 0]  # fingerprint bits untouched
    # desc_A train values 1, 3 (NaN ignored): median 2 -> NaN and inf both become the median
    assert x[1, 1] == pytest.approx(x[3, 1])
    assert x[:3, 1].mean() == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(x[:, 2], 0.0)  # constant column: centred, not divided by zero


def test_standard_scaling_clips_descriptors_to_their_training_range_and_leaves_fingerprints():
    train = pd.DataFrame({"fp_0": [0.0, 2.0, 1.0], "desc_Ipc": [10.0, 1e3, 2e5]})
    new = pd.DataFrame({"fp_0": [40.0, 1.0], "desc_Ipc": [8e12, 5.0]})  # a C60 alkane, a tiny molecule
    prep = Preprocessor.fit(train, ["fp_0", "desc_Ipc"], scale=True)
    x, seen = prep.transform(new), prep.transform(train)
    assert x[0, 0] == 40.0  # counts as they are
    assert x[0, 1] == seen[:, 1].max() and x[1, 1] == seen[:, 1].min()
    again = Preprocessor.from_dict(json.loads(json.dumps(prep.to_dict(), allow_nan=False)))  # strict JSON
    assert np.array_equal(again.transform(new), x)


def test_preprocessor_round_trips_through_a_dict():
    prep = Preprocessor.fit(_frame(), ["desc_A"], scale=False)
    again = Preprocessor.from_dict(prep.to_dict())
    assert np.array_equal(prep.transform(_frame()), again.transform(_frame()))
    # no target scaling (a network's, a classifier's, a file saved before it existed): none written, none read
    assert "target_scale" not in prep.to_dict() and again.unscale_target(np.array([2.0])) == 2.0
    scaled = prep.with_target(np.array([1e-9, 3e-9, 2e-9]))
    assert Preprocessor.from_dict(scaled.to_dict()) == scaled and scaled.to_dict()["target_center"] == 2e-9
    assert scaled.unscale_target(scaled.scale_target(np.array([5e-9]))) == pytest.approx(5e-9)


def test_standardized_targets_do_not_depend_on_the_units():
    """Bug fixed: targets x 1e6 and x 1e-6 gave standardized values a few ulp apart, and forests
    that broke their ties between equally good splits differently (test R² 0.598 against 0.568)."""
    y = np.random.default_rng(0).normal(-3.8, 3.8, 500).round(2)
    prep = Preprocessor.fit(_frame(), ["desc_A"], scale=False)
    z = [prep.with_target(y * factor).scale_target(y * factor) for factor in (1.0, 1e6, 1e-6, 4.184)]
    assert all(np.array_equal(z[0], other) for other in z[1:])


def test_plain_split_gives_one_member():
    split = pd.DataFrame({"split": ["train", "train", "val", "test"], "fold": [-1] * 4})
    (part,) = partitions(split)
    assert part.train.tolist() == [0, 1] and part.val.tolist() == [2] and part.test.tolist() == [3]


def test_kfold_split_gives_one_member_per_fold_with_a_shared_test_part():
    split = pd.DataFrame({"split": ["train"] * 6 + ["test"], "fold": [0, 1, 2, 0, 1, 2, -1]})
    parts = partitions(split)
    assert [p.name for p in parts] == ["fold_0", "fold_1", "fold_2"]
    assert parts[1].val.tolist() == [1, 4] and parts[1].train.tolist() == [0, 2, 3, 5]
    assert all(p.test.tolist() == [6] for p in parts)


def test_split_without_training_rows_is_an_error():
    with pytest.raises(ValueError, match="no training"):
        partitions(pd.DataFrame({"split": ["val", "test"], "fold": [-1, -1]}))


def test_missing_values_get_the_training_median_not_the_mean():
    from molprop.models.matrix import Preprocessor
    frame = pd.DataFrame({"desc_a": [1.0, 2.0, 10.0, np.nan]})
    prep = Preprocessor.fit(frame.iloc[:3], ["desc_a"], scale="none")
    assert prep.medians == [2.0]
    assert prep.transform(frame.iloc[3:])[0, 0] == 2.0


def test_quantile_scaling_is_fitted_on_median_imputed_training_values_and_skips_fingerprints():
    """The default feature scaling: quantiles of the training values with missing ones filled
    by the median (as they are when transformed), none for fingerprint columns."""
    train = pd.DataFrame({"desc_a": [np.nan, 10.0, 20.0, 30.0], "fp_0": [0, 1, 0, 1]})
    prep = Preprocessor.fit(train, ["desc_a", "fp_0"], scale="quantile")
    assert prep.quantiles[0][0] == 10.0 and prep.quantiles[0][-1] == 30.0 and prep.quantiles[1] == []
    out = prep.transform(pd.DataFrame({"desc_a": [10.0, 30.0, np.nan, 100.0], "fp_0": [1, 0, 1, 0]}))
    assert out[:, 0].tolist() == pytest.approx([0.0, 1.0, 0.5, 1.0])  # NaN -> the median 20 -> 0.5
    assert out[:, 1].tolist() == [1, 0, 1, 0]


def test_the_empirical_cdf_maps_quantiles_to_their_levels_and_ties_to_the_middle():
    from molprop.models.matrix import empirical_cdf

    quantiles = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert empirical_cdf(quantiles, quantiles).tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    tied = np.array([0.0, 0.0, 0.0, 1.0, 2.0])  # levels 0, .25, .5, .75, 1: 0 spans 0-0.5
    assert empirical_cdf(np.array([0.0, 1.0, 2.0, -5.0, 9.0]), tied).tolist() == pytest.approx(
        [0.25, 0.75, 1.0, 0.0, 1.0])
