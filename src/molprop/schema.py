"""Column names shared by the pipeline's intermediate tables.

Every table under ``data/`` after validation is keyed by ``MOL_ID`` and row-aligned with
``data/validated.parquet``.
"""

MOL_ID = "mol_id"  # unique identity key of a (standardized, de-duplicated) molecule
ROW = "row"  # 0-based index of the (first) input data row the molecule came from
SMILES_INPUT = "smiles_input"  # the raw string as the user gave it
SMILES = "smiles"  # standardized canonical SMILES
TARGET = "y"  # float64 (regression) or int64 class index (classification)
LABEL = "label"  # classification only: the original class label, as text
N_REPLICATES = "n_replicates"  # input rows merged into this molecule

SPLIT = "split"  # "train" | "val" | "test"
FOLD = "fold"  # cross-validation fold, -1 when no k-fold is used
SPLIT_NAMES = ("train", "val", "test")
SPLIT_SETTINGS_KEY = b"molprop.split"  # the split's settings (JSON) in data/split.parquet's metadata

TASKS = ("regression", "classification")
