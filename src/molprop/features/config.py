"""Configuration objects of the featurizers, and ``config_from_params`` building them from the
``featurize`` section of params.yaml (the featurize stage and predict both use it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from molprop.errors import UserInputError

DescriptorSet = Literal["full", "fast"]


@dataclass(frozen=True)
class MorganConfig:
    """Morgan (ECFP-like) fingerprint: bond radius, vector length, bit or count vector."""

    radius: int = 2
    n_bits: int = 2048
    counts: bool = True

    def __post_init__(self) -> None:
        if self.radius < 0:
            raise UserInputError(f"featurize.morgan.radius must be >= 0, got {self.radius}")
        if self.n_bits < 1:
            raise UserInputError(f"featurize.morgan.n_bits must be >= 1, got {self.n_bits}")


@dataclass(frozen=True)
class DescriptorConfig:
    """RDKit 2D descriptors: which set, and when a mostly non-finite column is dropped."""

    set: DescriptorSet = "full"
    max_nonfinite_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.set not in ("full", "fast"):
            raise UserInputError(f"featurize.descriptors.set must be 'full' or 'fast', got {self.set!r}")
        if not 0.0 <= self.max_nonfinite_fraction <= 1.0:
            raise UserInputError(
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
            raise UserInputError(f"featurize.chunk_size must be >= 1, got {self.chunk_size}")
        if self.row_group_size < 1:
            raise UserInputError(f"featurize.row_group_size must be >= 1, got {self.row_group_size}")
        if not self.serial_below_seconds >= 0:
            raise UserInputError(f"featurize.serial_below_seconds must be >= 0, got {self.serial_below_seconds}")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise UserInputError(f"featurize.n_jobs must be -1 (all cores) or >= 1, got {self.n_jobs}")


_RUN_SETTINGS = ("n_jobs", "chunk_size", "row_group_size", "serial_below_seconds")


def config_from_params(section: Mapping[str, Any]) -> FeaturizeConfig:
    """The ``featurize`` section of params.yaml as a FeaturizeConfig.

    What is computed (``morgan``, ``descriptors``, ``graph``) must be given; the run settings
    (``n_jobs``, ``chunk_size``, ``row_group_size``, ``serial_below_seconds``), which never
    change the features, default to FeaturizeConfig's when absent (a saved predict context
    need not carry them).
    """
    if "graph" not in section:
        raise UserInputError(f"the featurize section has no 'graph' key (keys: {sorted(section)})")
    morgan, desc = section.get("morgan") or {}, section.get("descriptors") or {}
    defaults = FeaturizeConfig()
    run = {k: type(getattr(defaults, k))(section.get(k, getattr(defaults, k))) for k in _RUN_SETTINGS}
    return FeaturizeConfig(
        morgan=MorganConfig(radius=int(morgan["radius"]), n_bits=int(morgan["n_bits"]),
                            counts=bool(morgan["counts"])) if morgan.get("enabled") else None,
        descriptors=DescriptorConfig(set=desc["set"],
                                     max_nonfinite_fraction=float(desc["max_nonfinite_fraction"]))
        if desc.get("enabled") else None,
        graph=bool(section["graph"]),
        **run,
    )  # fmt: skip


def settings_of(config: FeaturizeConfig) -> dict[str, Any]:
    """What ``config`` computes as the ``featurize`` params that make it (morgan, descriptors,
    graph; :func:`config_from_params` reads them back): the settings a model is saved with."""
    morgan, desc = config.morgan, config.descriptors
    return {
        "morgan": {"enabled": False} if morgan is None else
        {"enabled": True, "radius": morgan.radius, "n_bits": morgan.n_bits, "counts": morgan.counts},
        "descriptors": {"enabled": False} if desc is None else
        {"enabled": True, "set": desc.set, "max_nonfinite_fraction": desc.max_nonfinite_fraction},
        "graph": config.graph,
    }  # fmt: skip
