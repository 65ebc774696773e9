"""Seeding of every random number generator the pipeline uses."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (when it is imported) PyTorch; on a GPU, also ask torch for
    deterministic kernels, and cuBLAS for a fixed workspace (``CUBLAS_WORKSPACE_CONFIG``,
    unless set already), without which its matrix products may differ from run to run.

    The CPU kernels the pipeline uses (index_add_, matrix products, the seeded generators)
    are deterministic already, so the switch is left alone there: turning it on imports
    torch's compiler stack (torch._inductor), ~1.5 s of a stage's start-up.
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        if torch.cuda.is_available() or torch.backends.mps.is_available():
            deterministic_gpu_kernels()


def deterministic_gpu_kernels() -> None:
    """Ask torch for its deterministic kernels and cuBLAS for a fixed workspace (unless
    ``CUBLAS_WORKSPACE_CONFIG`` is set already): for every process that runs a network on a GPU,
    training or predicting."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.use_deterministic_algorithms(True, warn_only=True)
