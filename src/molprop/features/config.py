"""Configuration objects of the featurizers (built by the stage from params.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DescriptorSet = Literal["full", "fast"]


@dataclass(frozen=True)
class MorganConfig:
    """Morgan (ECFP-like) fingerprint: bond radius, vector length, bit or count vector."""

    radius: int = 2
    n_bits: int = 2048
    counts: bool = True

    def __post_init__(self) -> None:
        if self.radius < 0:
            raise ValueError(f"featurize.morgan.radius must be >= 0, got {self.radius}")
        if self.n_bits < 1:
            raise ValueError(f"featurize.morgan.n_bits must be >= 1, got {self.n_bits}")


@dataclass(frozen=True)
class DescriptorConfig:
    """RDKit 2D descriptors: which set, and when a mostly non-finite column is dropped."""

    set: DescriptorSet = "full"
    max_nonfinite_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.set not in ("full", "fast"):
            raise ValueError(f"featurize.descriptors.set must be 'full' or 'fast', got {self.set!r}")
        if not 0.0 <= self.max_nonfinite_fraction <= 1.0:
            raise ValueError(
                "featurize.descriptors.max_nonfinite_fraction must be in [0, 1], got "
                f"{self.max_nonfinite_fraction}"
            )


@dataclass(frozen=True)
class FeaturizeConfig:
    """Which featurizers run (None / False = off) and how the work is split over processes."""

    morgan: MorganConfig | None = MorganConfig()
    descriptors: DescriptorConfig | None = DescriptorConfig()
    graph: bool = True
    n_jobs: int = -1
    chunk_size: int = 1000
    row_group_size: int = 32768
    serial_below_seconds: float = 1.0  # inputs estimated to take less stay in one process

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError(f"featurize.chunk_size must be >= 1, got {self.chunk_size}")
        if self.row_group_size < 1:
            raise ValueError(f"featurize.row_group_size must be >= 1, got {self.row_group_size}")
        if not self.serial_below_seconds >= 0:
            raise ValueError(f"featurize.serial_below_seconds must be >= 0, got {self.serial_below_seconds}")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise ValueError(f"featurize.n_jobs must be -1 (all cores) or >= 1, got {self.n_jobs}")
