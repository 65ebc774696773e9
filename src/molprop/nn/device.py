"""Runtime choice of the torch device."""

from __future__ import annotations

import torch


def pick_device(preference: str = "auto") -> torch.device:
    """``cuda`` if available, else Apple ``mps``, else ``cpu``; or the explicitly named device."""
    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
