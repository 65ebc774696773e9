import numpy as np
import pandas as pd

from molprop.interpretation.errors import worst_predictions
from molprop.interpretation.importance import forest_importance
from molprop.models.estimators import fit_estimator, make_estimator
from molprop.models.matrix import Preprocessor
from molprop.models.store import ModelCard, save_card, save_sklearn_member


def test_worst_predictions_are_sorted_by_error():
    preds = pd.DataFrame(
        {"mol_id": ["a", "b", "c"], "smiles": ["C", "CC", "CCC"], "y": [0.0, 1.0, 2.0],
         "model": [0.5, 3.0, 2.0], "model_error": [0.5, 2.0, 0.0]}
    )
    worst = worst_predictions(preds, "model", 2)
    assert worst["mol_id"].tolist() == ["b", "a"]
    assert list(worst.columns) == ["mol_id", "smiles", "measured", "predicted", "error"]


def test_forest_importance_finds_the_informative_feature(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"desc_signal": rng.normal(size=200), "desc_noise": rng.normal(size=200)})
    y = 3 * frame["desc_signal"].to_numpy()
    prep = Preprocessor.fit(frame, list(frame.columns), scale=False)
    for member in ("fold_0", "fold_1"):
        forest = fit_estimator(make_estimator("random_forest", "regression", {"n_estimators": 20}, 0),
                               prep.transform(frame), y)
        save_sklearn_member(tmp_path / member, forest, prep)
    save_card(tmp_path, ModelCard("sklearn", "regression", ["descriptors"], ["fold_0", "fold_1"]))
    table = forest_importance(tmp_path)
    assert table["feature"].tolist() == ["desc_signal", "desc_noise"]
    assert table["importance"].sum() == np.float64(1.0) or abs(table["importance"].sum() - 1) < 1e-9
