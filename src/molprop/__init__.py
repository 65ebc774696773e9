"""molprop: predict molecular properties from SMILES with a reproducible DVC pipeline."""

__version__ = "0.1.0"
