"""Seeding of every random number generator the pipeline uses."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (when it is imported) PyTorch, and ask torch for determinism."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
