"""The evaluation configuration (the ``evaluate:`` section of params.yaml, validated)."""

from __future__ import annotations

from dataclasses import dataclass, field

from molprop.errors import UserInputError
from molprop.evaluation.bootstrap import BootstrapConfig
from molprop.evaluation.subgroups import FlagRule

SCAFFOLDS = ("generic", "murcko")
_KEYS = {
    "": {"device", "bootstrap", "uncertainty", "calibration_bins", "subgroups", "domain"},
    "bootstrap": {"n_resamples", "seed", "confidence"},
    "uncertainty": {"interval"},
    "subgroups": {"min_group_size", "worse_factor", "scaffold", "target_bins", "size_bins"},
    "domain": {"similarity_bins"},
}


@dataclass(frozen=True)
class EvaluateConfig:
    """Every evaluation option. Invalid values raise ``UserInputError`` naming the
    ``evaluate.*`` key."""

    device: str = "auto"
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    interval: float = 0.9
    calibration_bins: int = 10
    flag: FlagRule = field(default_factory=FlagRule)
    scaffold: str = "generic"
    target_bins: int = 5
    size_bins: int = 5
    similarity_bins: tuple[float, ...] = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)

    def __post_init__(self) -> None:
        if not 0.0 < self.interval < 1.0:
            raise UserInputError(f"evaluate.uncertainty.interval is {self.interval!r}; give a level "
                             "between 0 and 1, e.g. 0.9")
        for key, value in (("calibration_bins", self.calibration_bins),
                           ("subgroups.target_bins", self.target_bins),
                           ("subgroups.size_bins", self.size_bins),
                           ("subgroups.min_group_size", self.flag.min_group_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise UserInputError(f"evaluate.{key} is {value!r}; use an integer >= 2")
        if not isinstance(self.flag.worse_factor, (int, float)) or self.flag.worse_factor < 1.0:
            raise UserInputError(f"evaluate.subgroups.worse_factor is {self.flag.worse_factor!r}; use "
                             "a number >= 1 (1.0: flag on the interval condition alone)")
        if self.scaffold not in SCAFFOLDS:
            raise UserInputError(f"evaluate.subgroups.scaffold is {self.scaffold!r}; use one of "
                             f"{', '.join(SCAFFOLDS)}")
        edges = list(self.similarity_bins)
        if len(edges) < 2 or edges != sorted(set(edges)) or edges[0] != 0 or edges[-1] != 1:
            raise UserInputError(f"evaluate.domain.similarity_bins is {edges!r}; give increasing edges "
                                 "from 0 to 1 (every similarity falls in a bin), e.g. [0.0, 0.4, 0.6, 1.0]")

    @classmethod
    def from_params(cls, section: dict | None) -> EvaluateConfig:
        """The config from the ``evaluate:`` section of params.yaml; unknown keys raise."""
        section = dict(section or {})
        parts = {name: dict(section.get(name) or {}) for name in _KEYS if name}
        for name, allowed in _KEYS.items():
            given = section if not name else parts[name]
            unknown = sorted(set(given) - allowed)
            if unknown:
                raise UserInputError(f"unknown key(s) {', '.join(unknown)} under "
                                 f"{'evaluate.' + name if name else 'evaluate'} in params.yaml; "
                                 f"allowed: {', '.join(sorted(allowed))}")
        subgroups, defaults = parts["subgroups"], cls()
        return cls(
            device=section.get("device", defaults.device),
            bootstrap=BootstrapConfig(**parts["bootstrap"]),
            interval=parts["uncertainty"].get("interval", defaults.interval),
            calibration_bins=section.get("calibration_bins", defaults.calibration_bins),
            flag=FlagRule(**{k: subgroups[k] for k in ("min_group_size", "worse_factor")
                             if k in subgroups}),
            scaffold=subgroups.get("scaffold", defaults.scaffold),
            target_bins=subgroups.get("target_bins", defaults.target_bins),
            size_bins=subgroups.get("size_bins", defaults.size_bins),
            similarity_bins=tuple(parts["domain"].get("similarity_bins", defaults.similarity_bins)),
        )
