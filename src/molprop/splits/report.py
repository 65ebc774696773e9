"""The split report: part sizes, targets, scaffolds and test-to-train similarity."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from rdkit.DataStructs import ExplicitBitVect

from molprop.schema import SPLIT_NAMES
from molprop.splits.chem import max_similarity

QUANTILES = (0.05, 0.25, 0.75, 0.95)
N_BINS = 10


def _num(value: float) -> float | None:
    """A JSON-friendly float rounded to 6 decimals; None for NaN."""
    return None if value is None or np.isnan(value) else round(float(value), 6)


def target_summary(y: np.ndarray, task: str, classes: Sequence[int] = ()) -> dict:
    """Regression: n, mean, std (ddof=1), min, max. Classification: count of every class."""
    y = np.asarray(y)
    if task == "classification":
        present = {int(c) for c in np.unique(y)} | {int(c) for c in classes}
        return {"class_counts": {str(c): int(np.sum(y == c)) for c in sorted(present)}}
    values = y.astype(np.float64)
    if values.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None}
    return {
        "mean": _num(values.mean()),
        "std": _num(values.std(ddof=1)) if values.size > 1 else None,
        "min": _num(values.min()),
        "max": _num(values.max()),
    }


def similarity_summary(similarities: np.ndarray) -> dict:
    """n, mean, median, min, max and 5/25/75/95 % quantiles of max-similarity values."""
    sims = np.asarray(similarities, dtype=np.float64)
    keys = ["mean", "median", "min", "max"] + [f"q{round(q * 100):02d}" for q in QUANTILES]
    if sims.size == 0:
        return {"n": 0, **dict.fromkeys(keys)}
    values = [sims.mean(), np.median(sims), sims.min(), sims.max(), *np.quantile(sims, QUANTILES)]
    return {"n": int(sims.size), **{k: _num(v) for k, v in zip(keys, values, strict=True)}}


def similarity_histogram(similarities: np.ndarray) -> pd.DataFrame:
    """Counts of max-similarity values in 10 bins "0.0-0.1" ... "0.9-1.0" (1.0 in the last)."""
    edges = np.arange(N_BINS + 1) / N_BINS  # exact tenths: 0.3 itself falls in "0.3-0.4"
    counts, _ = np.histogram(np.asarray(similarities, dtype=np.float64), bins=edges)
    names = [f"{edges[i]:.1f}-{edges[i + 1]:.1f}" for i in range(N_BINS)]
    return pd.DataFrame({"similarity_bin": names, "count": counts.astype(np.int64)})


def part_summary(
    mask: np.ndarray, y: np.ndarray, task: str, scaffolds: np.ndarray, classes: Sequence[int]
) -> dict:
    """Size, fraction of all molecules, unique scaffolds and target summary of one part."""
    return {
        "n": int(mask.sum()),
        "fraction": _num(mask.mean()) if mask.size else None,
        "n_scaffolds": int(len(set(scaffolds[mask].tolist()))),
        "target": target_summary(y[mask], task, classes),
    }


def shared_scaffolds(labels: np.ndarray, scaffolds: np.ndarray, parts=SPLIT_NAMES) -> dict:
    """Number of scaffolds present in both parts, for every pair of the given parts; acyclic
    molecules (the empty scaffold) share no ring system and are not counted."""
    sets = {p: set(scaffolds[labels == p].tolist()) - {""} for p in parts}
    return {f"{a}_{b}": len(sets[a] & sets[b]) for a, b in combinations(parts, 2)}


def split_report(
    labels: np.ndarray,
    folds: np.ndarray,
    y: np.ndarray,
    task: str,
    scaffolds: Sequence[str],
    fps: Sequence[ExplicitBitVect],
) -> tuple[dict, np.ndarray]:
    """The report (per part, and per fold when folds >= 0) and the max Tanimoto similarity of
    each test molecule to the training part (in row order of the test molecules)."""
    labels, folds, y = np.asarray(labels), np.asarray(folds), np.asarray(y)
    scaffolds = np.asarray(scaffolds, dtype=object)
    classes = sorted({int(c) for c in np.unique(y)}) if task == "classification" else ()
    train_idx, test_idx = np.flatnonzero(labels == "train"), np.flatnonzero(labels == "test")
    test_sims = max_similarity([fps[i] for i in test_idx], [fps[i] for i in train_idx])
    report = {
        "n_molecules": int(labels.size),
        "parts": {p: part_summary(labels == p, y, task, scaffolds, classes) for p in SPLIT_NAMES},
        "shared_scaffolds": shared_scaffolds(labels, scaffolds),
        "test_similarity_to_train": similarity_summary(test_sims),
    }
    n_folds = int(folds.max()) + 1 if folds.size else 0
    if n_folds > 0:
        report["folds"] = [
            _fold_report(f, folds, y, task, scaffolds, fps, classes) for f in range(n_folds)
        ]
    return report, test_sims


def _fold_report(fold, folds, y, task, scaffolds, fps, classes) -> dict:
    fold_labels = np.where(folds == fold, "val", np.where(folds >= 0, "train", "test"))
    train_idx = np.flatnonzero(fold_labels == "train")
    val_idx = np.flatnonzero(fold_labels == "val")
    sims = max_similarity([fps[i] for i in val_idx], [fps[i] for i in train_idx])
    return {
        "fold": int(fold),
        "train": part_summary(fold_labels == "train", y, task, scaffolds, classes),
        "val": part_summary(fold_labels == "val", y, task, scaffolds, classes),
        "shared_scaffolds_train_val": shared_scaffolds(fold_labels, scaffolds, ("train", "val"))[
            "train_val"
        ],
        "val_similarity_to_train": similarity_summary(sims),
    }


def class_balance_warnings(report: dict, class_labels: dict[str, str] | None = None) -> list[str]:
    """Warnings for the non-empty parts (and fold parts) of a classification split's report
    that hold no molecule of a class the data has (an undefined ROC-AUC in a test or
    validation part, a class no model learns in a training part), and for training parts
    that hold a class at under half its share of all molecules (a scaffold split put 3 of 15
    actives in train, 1.2% against 5%, and both models predicted inactive for every test
    molecule). A fold's training part is measured against the fold's molecules (its train
    and val parts): what the test part took, no fold can spread."""
    labels = class_labels or {}
    places = list(report["parts"].items())
    places += [(f"fold {f['fold']} {name}", f[name]) for f in report.get("folds", []) for name in ("train", "val")]
    totals = _class_totals(report["parts"].values())
    folds = {f"fold {f['fold']} {name}": _class_totals([f["train"], f["val"]])
             for f in report.get("folds", []) for name in ("train", "val")}
    warnings = []
    for name, part in places:
        counts = part["target"].get("class_counts", {})
        among = folds.get(name, totals)
        missing = [c for c, n in counts.items() if n == 0]
        if name.endswith("train") and part["n"]:
            warnings += _scarce_class_warnings(name, counts, among, labels)
        if part["n"] == 0 or not missing:
            continue
        where = "in all" if name in report["parts"] else "in the fold"
        what = ", ".join(f"'{labels.get(c, c)}' ({among[c]} {where})" for c in missing)
        present = len(counts) - len(missing)
        if name.endswith("train"):
            effect = "no model learns it"
        elif present < 2:
            effect = "ROC-AUC and PR-AUC there are undefined"
        else:  # one-vs-rest averages over the classes present
            effect = "ROC-AUC and PR-AUC there average over the other classes only"
        warnings.append(f"the {name} part has no molecule of class {what}: {effect}")
    return warnings


def _class_totals(parts) -> dict[str, int]:
    """Molecules per class over the split report's ``parts``."""
    totals: dict[str, int] = {}
    for part in parts:
        for c, n in part["target"].get("class_counts", {}).items():
            totals[c] = totals.get(c, 0) + n
    return totals


def _scarce_class_warnings(name: str, counts: dict[str, int], totals: dict[str, int],
                           labels: dict[str, str]) -> list[str]:
    """A training part's classes (present, expected 2 or more times) held at under half their
    share of ``totals`` (all molecules, or a fold's)."""
    n_part, n_all = sum(counts.values()), sum(totals.values())
    warnings = []
    for c, n in counts.items():
        expected = n_part * totals[c] / n_all
        if n > 0 and expected >= 2 and n < expected / 2:
            among = "all molecules" if name == "train" else "the fold's molecules"
            warnings.append(f"the {name} part holds {n} of the {totals[c]} molecules of class "
                            f"'{labels.get(c, c)}' ({n / n_part:.1%} of it, against {totals[c] / n_all:.1%} of "
                            f"{among}): the models learn it from few examples and may never predict it")
    return warnings


SCAFFOLD_GROUPS = ("each Bemis-Murcko scaffold group goes whole to one part (the acyclic molecules all share "
                   "the empty scaffold), and a large group can fill a part or not fit in it; use split.method "
                   "random or cluster, or other split.fractions")
FRACTION_ADVICE = {"scaffold": SCAFFOLD_GROUPS, "scaffold_balanced": SCAFFOLD_GROUPS,
                   "cluster": "each cluster goes whole to one part, and a large one can fill a part or not fit in "
                              "it; make the clusters smaller (split.cluster) or use split.method random"}


def fraction_warnings(report: dict) -> list[str]:
    """Warnings for parts whose share of the molecules is far from what split.fractions asks
    (off by more than 5 points, by more than half the fraction and by 2 or more molecules), and
    for any molecule in a part asked to be empty: grouped splits keep each group whole, and one
    big group (all acyclic molecules share one scaffold) can overturn them. In k-fold mode the
    test part is compared, and each fold with the 1/k share of the non-test molecules asked of
    it (scaffold-grouped folds keep groups whole, which may not spread evenly)."""
    config, parts = report["config"], report["parts"]
    total = sum(part["n"] for part in parts.values())
    names = ["test"] if config.get("n_folds", 0) else ["train", "val", "test"]
    warnings = []
    for name in names:
        n = parts.get(name, {"n": 0})["n"]
        asked, got = float(config[name]), n / total if total else 0.0
        off = abs(n - asked * total) > 1.5 and abs(got - asked) > 0.05  # more than rounding on a few molecules
        why = FRACTION_ADVICE.get(config["method"], "check split.fractions")
        if asked == 0 and n > 0:
            warnings.append(f"the {name} part holds {n} molecule(s), where split.fractions.{name} asks for none: {why}")
        elif off and not 0.5 * asked <= got <= 1.5 * asked:
            warnings.append(f"the {name} part holds {n} of {total} molecules "
                            f"({got:.0%}), where split.fractions.{name} asks for {asked:.0%}: {why}")
    return warnings + _fold_size_warnings(report)


def _fold_size_warnings(report: dict) -> list[str]:
    """One warning when a fold is off its 1/k share of the non-test molecules by more than half
    of it (and by 2 or more molecules)."""
    sizes = [fold["val"]["n"] for fold in report.get("folds", [])]
    total, k = sum(sizes), len(sizes)
    if not any(abs(n - total / k) >= 2 and not 0.5 * total / k <= n <= 1.5 * total / k for n in sizes):
        return []
    why = ("each scaffold group stays whole in one fold, and whole groups cannot always be spread evenly "
           "(one of more than 1/k of the molecules never can); split.group_folds_by_scaffold: false "
           "spreads them over the folds"
           if report["config"].get("group_folds_by_scaffold") else "check split.n_folds")
    return [f"the {k} folds hold {' / '.join(map(str, sizes))} of the {total} non-test molecules, where "
            f"each should hold ~{total / k:.0f}; the models of fold {sizes.index(max(sizes))} learn from "
            f"{total - max(sizes)} only: {why}"]


def one_class_training_parts(report: dict) -> list[str]:
    """The training parts (plain, or of a fold) of a classification split's report that hold
    molecules of a single class, where no classifier can be fitted."""
    places = [("train", report["parts"]["train"])]
    places += [(f"fold {f['fold']} train", f["train"]) for f in report.get("folds", [])]
    return [name for name, part in places
            if part["n"] and sum(n > 0 for n in part["target"].get("class_counts", {}).values()) == 1]


def constant_target_training_parts(y: np.ndarray, split: np.ndarray, fold: np.ndarray) -> list[str]:
    """Warnings for the training parts (plain, or of a fold) of a regression split whose targets
    are all one value (up to rounding, as R² judges): no model learns from them."""
    from molprop.evaluation.metrics import constant_up_to_rounding

    y, split, fold = np.asarray(y, dtype=np.float64), np.asarray(split), np.asarray(fold)
    places = [("train", split == "train")]
    places += [(f"fold {f} train", (fold >= 0) & (fold != f)) for f in sorted(set(fold[fold >= 0].tolist()))]
    return [f"every target of the {name} part is {y[chosen][0]:g} ({int(chosen.sum())} molecules): the "
            "models have nothing to learn and predict that value for every molecule; check "
            "data.target_column and the data, or split another way (split.method)"
            for name, chosen in places if chosen.sum() > 1 and constant_up_to_rounding(y[chosen])]
