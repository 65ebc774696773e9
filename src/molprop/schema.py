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
# The settings a stage made its table with, as JSON in the Parquet file's metadata: a model
# stage records what its inputs were made with, whatever params.yaml says now (`dvc repro -s`)
SPLIT_SETTINGS_KEY = b"molprop.split"  # data/split.parquet: the split's settings
VALIDATE_SETTINGS_KEY = b"molprop.validate"  # data/validated.parquet: standardize, identity_key, rules
FEATURIZE_SETTINGS_KEY = b"molprop.featurize"  # data/features.parquet: morgan, descriptors, graph

TASKS = ("regression", "classification")
