"""Metrics files of any shape as tables: nested keys flattened, confidence intervals paired
with their value whatever way the file spells them.

Recognized interval spellings (``m`` is the metric): sibling keys ``m_ci_low``/``m_ci_high``
(also ``_lower``/``_upper``, ``_low``/``_high``, ``_lo``/``_hi``); a two-number list
``m_ci`` / ``m_ci95`` or ``m.ci``; a dict ``m: {value|mean|estimate|point, low|high|...}``;
or an interval level above the metric (``ci: {m: [lo, hi]}``, ``ci_low: {m: ...}``,
``baseline_ci: {m: {low, high}}`` next to ``baseline: {m: value}``). A bound without a
value to pair with stays an ordinary metric.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOW = ("ci_lower", "ci_low", "ci_lo", "lower", "low", "lo")
HIGH = ("ci_upper", "ci_high", "ci_hi", "upper", "high", "hi")
INTERVAL = ("confidence_interval", "interval", "ci_95", "ci95", "ci")
VALUE = ("value", "estimate", "point", "mean")
_PAIR = ("#low", "#high")  # a two-number interval list, flattened


@dataclass(frozen=True)
class Metric:
    """One metric at ``path`` (keys from the file's root) with its interval, if any."""

    path: tuple[str, ...]
    value: Any
    low: float | None = None
    high: float | None = None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def flatten(data: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(key path, scalar) pairs of nested dicts and lists; a two-number list with an
    interval-like key on its path becomes two ``#low`` / ``#high`` entries."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from flatten(value, (*prefix, str(key)))
    elif isinstance(data, list):
        if len(data) == 2 and all(_is_number(v) for v in data) and any(
                _interval_name(key) is not None for key in prefix):
            yield (*prefix, _PAIR[0]), data[0]
            yield (*prefix, _PAIR[1]), data[1]
        else:
            for i, value in enumerate(data):
                yield from flatten(value, (*prefix, str(i)))
    else:
        yield prefix, data


def _interval_name(key: str) -> str | None:
    """The metric name of an interval key (``rmse_ci`` -> ``rmse``, ``ci`` -> ``""``)."""
    for name in INTERVAL:
        if key == name:
            return ""
        if key.endswith("_" + name):
            return key[: -len(name) - 1]
    return None


def _strip_interval(path: tuple[str, ...]) -> tuple[str, ...]:
    """``path`` without interval words: ``ci`` dropped, ``baseline_ci`` -> ``baseline``."""
    out = []
    for key in path:
        name = _interval_name(key)
        if name is None:
            out.append(key)
        elif name:
            out.append(name)
    return tuple(out)


def _role(path: tuple[str, ...]) -> tuple[tuple[str, ...], str] | None:
    """(metric path, "low" | "high" | "value") if ``path`` may be part of an interval."""
    last, head = path[-1], path[:-1]
    if last in _PAIR:
        return _strip_interval(head), last[1:]  # the interval key may be further up
    for role, names in (("low", LOW), ("high", HIGH)):
        if last in names:
            base = head
        elif any(last.endswith("_" + name) for name in names):
            name = next(n for n in names if last.endswith("_" + n))
            base = (*head, last[: -len(name) - 1])
        elif any(key in names for key in head):
            base = (*(k for k in head if k not in names), last)
        else:
            continue
        return _strip_interval(base), role
    if last in VALUE:
        return head, "value"
    return None


def collect(data: Any) -> list[Metric]:
    """Every scalar of a metrics file as a :class:`Metric`, intervals paired with values."""
    flat = list(flatten(data))
    plain = {path: value for path, value in flat}
    parts: dict[tuple[str, ...], dict[str, tuple[tuple[str, ...], Any]]] = {}
    for path, value in flat:
        role = _role(path) if _is_number(value) else None
        if role is not None and role[0]:
            parts.setdefault(role[0], {})[role[1]] = (path, value)
    used: set[tuple[str, ...]] = set()
    paired: dict[tuple[str, ...], Metric] = {}
    for base, found in parts.items():
        value = plain.get(base) if base in plain and _is_number(plain.get(base)) else None
        source = base
        if value is None and "value" in found:
            source, value = found["value"]
        if value is None or not ({"low", "high"} & set(found)):
            continue
        low, high = (found[r][1] if r in found else None for r in ("low", "high"))
        paired[source] = Metric(base, value, low, high)
        used.update(found[r][0] for r in found if r in ("low", "high") or found[r][0] == source)
    out = []
    for path, value in flat:
        if path in paired:
            out.append(paired[path])
        elif path not in used:
            out.append(Metric(tuple(p for p in path if p not in _PAIR), value))
    return out


class UnreadableMetrics(ValueError):
    """A metrics file that is not valid JSON / YAML (e.g. a merge conflict left in it)."""


def read_metrics_file(path: str | Path) -> Any:
    """The parsed content of a JSON (or YAML) metrics file; UnreadableMetrics naming the file."""
    import yaml

    path = Path(path)
    kind = "YAML" if path.suffix in (".yaml", ".yml") else "JSON"
    try:
        text = path.read_text()
        content = yaml.safe_load(text) if kind == "YAML" else json.loads(text)
    except (ValueError, yaml.YAMLError) as error:  # a UnicodeDecodeError is a ValueError
        raw = path.read_bytes()
        why = ("it is empty" if not raw.strip() else
               "not UTF-8 text, or a byte-order mark before it: save it as UTF-8" if isinstance(error, UnicodeError)
               or raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) else
               f"{str(error).splitlines()[0]}; a merge conflict left in it" if b"<<<<<<<" in raw else
               str(error).splitlines()[0])
        raise UnreadableMetrics(f"`{path.name}` is not valid {kind} ({why}): fix it, or re-run the stage that "
                                "writes it") from error
    if not isinstance(content, dict):
        raise UnreadableMetrics(f"`{path.name}` holds no mapping of metrics names to values but "
                                f"{type(content).__name__}: fix it, or re-run the stage that writes it")
    return content


def load_metrics(path: str | Path) -> list[Metric]:
    """The metrics of a JSON (or YAML) metrics file."""
    return collect(read_metrics_file(path))


def format_value(value: Any, low: float | None = None, high: float | None = None) -> str:
    """A value with 4 significant digits (None as a dash) and its interval as ``[low, high]``."""
    def fmt(v: Any) -> str:
        if v is None:
            return "—"
        if _is_number(v):
            return "NaN" if isinstance(v, float) and math.isnan(v) else f"{v:.4g}"
        return str(v)

    if low is None and high is None:
        return fmt(value)
    return f"{fmt(value)} [{fmt(low) if low is not None else '?'}, {fmt(high) if high is not None else '?'}]"
