"""Markdown pieces of the report: tables, metrics tables, images."""

from __future__ import annotations

from collections.abc import Sequence

from molprop.report.metrics import Metric, format_value


def cell(value: object) -> str:
    """Text safe inside a markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_tables(metrics: Sequence[Metric]) -> str:
    """The metrics as tables: entities (a path's keys but the last, e.g. ``baseline``) with the
    same metric names share one table, one row each; top-level values are listed first.
    Intervals are shown as ``value [low, high]``."""
    scalars = [m for m in metrics if len(m.path) == 1]
    groups: dict[str, dict[str, Metric]] = {}
    for m in metrics:
        if len(m.path) > 1:
            groups.setdefault(".".join(m.path[:-1]), {})[m.path[-1]] = m
    by_columns: dict[tuple[str, ...], list[str]] = {}
    for entity, found in groups.items():
        by_columns.setdefault(tuple(found), []).append(entity)
    parts = []
    if scalars:
        parts.append(", ".join(f"{cell(m.path[0])}: {cell(format_value(m.value))}" for m in scalars))
    for columns, entities in by_columns.items():
        rows = [[entity, *(format_value(groups[entity][c].value, groups[entity][c].low, groups[entity][c].high)
                           for c in columns)] for entity in entities]
        parts.append(table(["", *columns], rows))
    return "\n\n".join(parts)


def has_intervals(metrics: Sequence[Metric]) -> bool:
    """Whether any metric carries a confidence interval."""
    return any(m.low is not None or m.high is not None for m in metrics)


def image(path: str, title: str) -> str:
    """A markdown image with a title line above it."""
    return f"**{cell(title)}**\n\n![{cell(title)}]({path})"
