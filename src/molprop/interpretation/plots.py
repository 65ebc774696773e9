"""Static figures of explanations (matplotlib, Agg backend, PNG without a software stamp so
the bytes repeat)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def plot_importance(importance: pd.DataFrame, path: str | Path, title: str, xlabel: str,
                    direction_of: str | None = None) -> None:
    """Horizontal bars of ``importance`` per ``label`` (or ``feature``), most important on
    top, coloured by ``direction``: green where a larger value raises ``direction_of`` (the
    output when not given), pink where it lowers it, grey where the feature did not vary (or
    there is no direction: 3+ classes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = importance.iloc[::-1]
    labels = ordered["label"] if "label" in ordered else ordered["feature"]
    direction = ordered["direction"].to_numpy(dtype=float)
    colours = np.where(np.isnan(direction), "#9e9e9e", np.where(direction >= 0, "#4d9221", "#c51b7d"))
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(ordered) + 1.4))
    ax.barh(np.arange(len(ordered)), ordered["importance"], color=colours)
    ax.set_yticks(np.arange(len(ordered)), labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("#4d9221", "#c51b7d", "#9e9e9e")]
    what = f"the {direction_of}" if direction_of else "it"
    ax.legend(handles, [f"larger value raises {what}", f"larger value lowers {what}", "constant, or no direction"],
              fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
