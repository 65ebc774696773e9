"""The plots declared in dvc.yaml (top-level ``plots:``) rendered offline as PNG with
matplotlib, following each plot's DVC template, x/y fields, title and axis labels.

Templates: linear / simple / smooth (lines), scatter / scatter_jitter (points),
bar_horizontal / bar_horizontal_sorted (bars), confusion / confusion_normalized (a matrix of
x = actual against y = predicted). Data files: CSV, TSV or JSON (a list of records).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

LINES = ("linear", "simple", "smooth")
POINTS = ("scatter", "scatter_jitter")
BARS = ("bar_horizontal", "bar_horizontal_sorted")
MATRICES = ("confusion", "confusion_normalized")


@dataclass(frozen=True)
class PlotSpec:
    """One plot: its id, template, x field per file (None: row number), y fields per file."""

    id: str
    template: str
    x: dict[str, str | None]
    y: dict[str, list[str]]
    title: str
    x_label: str | None = None
    y_label: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _fields(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def plot_specs(dvc_yaml: Mapping[str, Any]) -> list[PlotSpec]:
    """The top-level plot definitions of a parsed dvc.yaml."""
    specs = []
    for entry in dvc_yaml.get("plots") or []:
        plot_id, config = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        config = config or {}
        y = config.get("y")
        if isinstance(y, Mapping):
            ys = {str(f): _fields(v) for f, v in y.items()}
        else:  # the plot id is the data file
            ys = {plot_id: _fields(y)}
        x = config.get("x")
        xs = {f: (x.get(f) if isinstance(x, Mapping) else x) for f in ys}
        specs.append(PlotSpec(plot_id, config.get("template", "linear"), xs, ys,
                              config.get("title", plot_id), config.get("x_label"), config.get("y_label")))
    return specs


def read_data(path: Path) -> pd.DataFrame:
    """A plot data file as a table."""
    if path.suffix == ".tsv":
        return pd.read_csv(path, sep="\t")
    if path.suffix == ".json":
        return pd.DataFrame(pd.read_json(path))
    return pd.read_csv(path)


def _labels(files: list[str]) -> dict[str, str]:
    """Short names telling the files apart (their paths without the common folder and suffix)."""
    if len(files) == 1:
        return {files[0]: ""}
    common = os.path.commonpath([os.path.dirname(f) or "." for f in files])
    return {f: os.path.splitext(os.path.relpath(f, common))[0] for f in files}


def render(spec: PlotSpec, root: Path, out: Path, identity_line: bool = False) -> None:
    """Draw ``spec`` from the data files under ``root`` to the PNG ``out`` (repeatable bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if spec.template not in (*LINES, *POINTS, *BARS, *MATRICES):
        raise ValueError(f"plot {spec.id!r}: template {spec.template!r} is not drawn by the report")
    # a file may be missing (no validation curve without a validation part): the title says so
    missing = [file for file in spec.y if not (root / file).is_file()]
    tables = {file: pd.DataFrame() if file in missing else read_data(root / file) for file in spec.y}
    if len(missing) == len(tables):
        raise ValueError(f"not found: {', '.join(missing)}")
    if all(len(t) == 0 for t in tables.values()):
        raise ValueError(f"no data in {', '.join(tables)}")
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    labels = _labels(list(spec.y))
    for file, fields in spec.y.items():
        data = tables[file]
        if data.empty:  # e.g. a model without an uncertainty has no calibration curve
            continue
        xfield = spec.x.get(file)
        ys = fields or [c for c in data.columns if c != xfield and pd.api.types.is_numeric_dtype(data[c])]
        x = data[xfield] if xfield else pd.Series(np.arange(len(data)), name="step")
        for yfield in ys:
            label = ": ".join(p for p in (labels[file], yfield) if p)
            if spec.template in LINES:
                ax.plot(x, data[yfield], label=label)
            elif spec.template in POINTS:
                ax.scatter(x, data[yfield], s=16, alpha=0.7, label=label)
            elif spec.template in BARS:
                ax.barh(data[yfield].astype(str), x, label=label)
            else:
                _confusion(ax, data[xfield], data[yfield], spec.template == "confusion_normalized")
    if identity_line and spec.template in (*LINES, *POINTS):
        low, high = (min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1]))
        ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="y = x")
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
    if spec.template in BARS:
        ax.invert_yaxis()  # first row on top, as in DVC
    first = next(iter(spec.y))
    fields = list(dict.fromkeys(f for fs in spec.y.values() for f in fs))
    ax.set_xlabel(spec.x_label or spec.x.get(first) or "step")
    ax.set_ylabel(spec.y_label or ", ".join(fields))
    title = spec.title + (f" (not found: {', '.join(missing)})" if missing else "")
    ax.set_title("\n".join(textwrap.wrap(title, 60)), fontsize=11)
    if spec.template not in MATRICES and len(ax.get_legend_handles_labels()[0]) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata={"Software": None})
    plt.close(fig)


def render_class_confusion(spec: PlotSpec, root: Path, out: Path, classes: list[str]) -> None:
    """A scatter of predicted against measured class indices (a classification run's
    predicted-vs-measured plot) drawn as one confusion matrix per predicting column, the
    classes named by ``classes`` (index order): a scatter put every molecule on a few points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    file, fields = next(iter(spec.y.items()))
    data, measured = read_data(root / file), spec.x.get(file)
    codes = data[[measured, *fields]].to_numpy()
    if codes.size and not (np.isin(codes, np.arange(len(classes)))).all():
        raise ValueError(f"{file} holds class indices other than 0-{len(classes) - 1} of metrics/split.json's "
                         "class_labels: run `dvc repro` so that both come from one run")
    fig, axes = plt.subplots(1, len(fields), figsize=(0.8 + 3.6 * len(fields), 4.0), squeeze=False)
    names = _short_names([str(c) for c in classes], 16)
    for ax, predicted in zip(axes[0], fields):
        counts = np.zeros((len(classes), len(classes)))
        np.add.at(counts, (data[measured].astype(int), data[predicted].astype(int)), 1)
        _matrix(ax, counts, names, names, "{:.0f}")
        ax.set_xlabel(f"{predicted}: predicted class")
        ax.set_ylabel(f"{measured} class")
    fig.suptitle("\n".join(textwrap.wrap(f"{spec.title} (molecules per class pair)", 70)), fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _short_names(names: list[str], width: int) -> list[str]:
    """``names`` cut in the middle to ``width`` characters (an ellipsis marks the cut; the end,
    "(positive)", often tells classes apart), numbered where two would read the same, with
    ``$`` escaped (matplotlib reads $...$ as math)."""
    head = (width - 1) // 2
    short = [n if len(n) <= width else n[:head] + "\u2026" + n[len(n) - (width - 1 - head):] for n in names]
    repeated = {n for n in short if short.count(n) > 1}
    return [(f"{k}: {n}" if n in repeated else n).replace("$", r"\$") for k, n in enumerate(short)]


def _confusion(ax, actual: pd.Series, predicted: pd.Series, normalized: bool) -> None:
    table = pd.crosstab(actual.astype(str), predicted.astype(str))
    values = table.to_numpy(dtype=float)
    if normalized:
        values = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    _matrix(ax, values, list(table.columns), list(table.index), "{:.2f}" if normalized else "{:.0f}")


def _matrix(ax, values: np.ndarray, columns: list[str], rows: list[str], cell: str) -> None:
    """``values`` as a blue heat map with each cell's value written in it (white on the dark
    half) and the column labels tilted when long or many."""
    ax.imshow(values, cmap="Blues")
    tilted = len(columns) > 3 or max(map(len, map(str, columns)), default=0) > 8
    ax.set_xticks(range(len(columns)), columns, rotation=45 if tilted else 0, ha="right" if tilted else "center",
                  fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, cell.format(v), ha="center", va="center", fontsize=8,
                color="white" if v > values.max() / 2 else "black")
