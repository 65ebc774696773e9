"""Static figures of explanations (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def plot_importance(importance: pd.DataFrame, path: str | Path) -> None:
    """Horizontal bar chart of feature importance with its spread over trees."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.3 * len(importance) + 1.2))
    ordered = importance.iloc[::-1]
    ax.barh(ordered["feature"], ordered["importance"], xerr=ordered["importance_std"], color="#4c72b0")
    ax.set_xlabel("mean decrease in impurity")
    ax.set_title("Baseline feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
