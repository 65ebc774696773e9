"""Featurize stage: validated molecules -> fingerprints + descriptors, molecular graphs, metrics.

Reads data/validated.parquet and the `featurize` section of params.yaml; writes
data/features.parquet, data/graphs.parquet and metrics/featurize.json.
"""

from __future__ import annotations

# first: Ctrl-C or SIGTERM during the imports below then gets one line, not a traceback
from common import read_params, run_stage

import json
from pathlib import Path

from molprop.features.config import config_from_params
from molprop.schema import MOL_ID, SMILES

VALIDATED = Path("data/validated.parquet")
FEATURES = Path("data/features.parquet")
GRAPHS = Path("data/graphs.parquet")
METRICS = Path("metrics/featurize.json")


def main() -> None:
    # Imported here, not at the top: where workers start from a forkserver (not Linux) each
    # imports this script again, and needs neither pyarrow nor the runner (molprop.features.chunk).
    import pyarrow.parquet as pq

    from molprop.features.runner import featurize_table

    params = read_params("featurize")["featurize"]
    config = config_from_params(params)
    table = pq.read_table(VALIDATED, columns=[MOL_ID, SMILES])
    metrics = featurize_table(table.column(MOL_ID).to_pylist(), table.column(SMILES).to_pylist(),
                              config, FEATURES, GRAPHS)  # fmt: skip
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    METRICS.write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"featurize: {metrics['n_molecules']} molecules, {metrics['n_fp_bits']} fingerprint bits, "
          f"{metrics['n_descriptors']} descriptors -> {FEATURES}, {GRAPHS}")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
