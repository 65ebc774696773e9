"""Feature importance of a saved random-forest baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from molprop.models.store import load_card, load_sklearn_member


def forest_importance(model_dir: str | Path) -> pd.DataFrame:
    """Mean decrease in impurity per feature, averaged over members, most important first.

    Columns: feature, importance (mean over members), importance_std (over the trees).
    """
    model_dir = Path(model_dir)
    card = load_card(model_dir)
    means, stds, names = [], [], None
    for member in card.members:
        forest, prep = load_sklearn_member(model_dir / member)
        names = prep.columns
        means.append(forest.feature_importances_)
        stds.append(np.std([tree.feature_importances_ for tree in forest.estimators_], axis=0))
    table = pd.DataFrame(
        {"feature": names, "importance": np.mean(means, axis=0), "importance_std": np.mean(stds, axis=0)}
    )
    return table.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)
