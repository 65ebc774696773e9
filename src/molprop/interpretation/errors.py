"""The test molecules a model got most wrong."""

from __future__ import annotations

import pandas as pd

from molprop.schema import MOL_ID, SMILES, TARGET


def worst_predictions(predictions: pd.DataFrame, model: str, n: int) -> pd.DataFrame:
    """The ``n`` largest errors of ``model``: mol_id, smiles, measured, predicted, error."""
    table = pd.DataFrame(
        {
            MOL_ID: predictions[MOL_ID],
            SMILES: predictions[SMILES],
            "measured": predictions[TARGET],
            "predicted": predictions[model],
            "error": predictions[f"{model}_error"],
        }
    )
    return table.sort_values(["error", MOL_ID], ascending=[False, True], ignore_index=True).head(n)
