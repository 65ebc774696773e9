"""Saved models: a directory of members, each weights + JSON config, never a pickle.

Layout: ``<dir>/model.json`` (kind, task, classes, feature columns, members) and one folder
per member with ``preprocess.json`` plus ``estimator.skops`` (scikit-learn, loaded with an
explicit list of trusted types) or ``weights.pt`` + ``network.json`` (PyTorch state dict,
loaded with ``weights_only=True``).
"""

from __future__ import annotations

import io
import json
import re
import sys
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molprop.errors import UserInputError
from molprop.models.matrix import FEATURE_GROUPS, Preprocessor
from molprop.serialization import undefined_as_null, write_json

# Types a saved baseline may hold beyond skops' own trusted set (builtins, numpy arrays and
# scikit-learn estimators): the tree structures of forests and gradient boosting, and the
# k-NN Tanimoto estimators (plain arrays inside). Any other type in a .skops file is refused.
SKOPS_TRUSTED = [
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "molprop.models.tanimoto.TanimotoKNNRegressor",
    "molprop.models.tanimoto.TanimotoKNNClassifier",
]


@dataclass
class ModelCard:
    """What a saved model is: kind, task, classes and the members it holds."""

    kind: str  # "sklearn" | "torch"
    task: str
    feature_groups: list[str]
    members: list[str]
    classes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def save_card(directory: Path, card: ModelCard) -> None:
    """Write ``model.json``."""
    write_json(directory / "model.json", undefined_as_null(card.__dict__))


# What to do about a saved model whose files are missing or damaged.
REPAIR = (
    "Copy the model directory whole, `dvc pull --force` it (`dvc checkout --force` when the local DVC cache has it; "
    "without --force DVC keeps a file that was changed), or retrain it (dvc repro).")


def read_model_json(path: Path) -> Any:
    """The JSON file ``path`` of a saved model; ``UserInputError`` naming it when it is missing
    or damaged."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserInputError(f"{path} cannot be read ({type(error).__name__}: {str(error)[:120]}): the "
                             f"model directory is damaged or incomplete. {REPAIR}") from None


def _card_problem(card: Any) -> str | None:
    """What makes ``card`` (model.json as read) no model card, or None."""
    if not isinstance(card, dict):
        return "not a JSON object"
    missing = [key for key in ("kind", "task", "feature_groups", "members") if key not in card]
    unknown = sorted(set(card) - set(ModelCard.__dataclass_fields__))
    if missing or unknown:
        return f"keys missing {missing}, unknown {unknown}"
    if card["kind"] not in ("sklearn", "torch") or card["task"] not in ("regression", "classification"):
        return f"kind {card['kind']!r}, task {card['task']!r}"
    members, groups = card["members"], card["feature_groups"]
    if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
        return f"members {members!r}: not a list of member folder names"
    if len(set(members)) < len(members):
        return f"a member is listed twice in {members}"
    outside = [m for m in members if m in ("", ".", "..") or Path(m).name != m or "\\" in m]
    if outside:  # a path out of the model directory ('../x', '/x', 'a/b')
        return f"member {outside[0]!r} is not a folder directly inside the model directory"
    if not isinstance(groups, list) or not set(groups) <= set(FEATURE_GROUPS):
        return f"feature_groups {groups!r}: not a list of {sorted(FEATURE_GROUPS)}"
    classes, extra = card.get("classes", []), card.get("extra", {})
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        return f"classes {classes!r}: not a list of labels"
    if (len(classes) >= 2) != (card["task"] == "classification") or len(set(classes)) < len(classes):
        return f"classes {classes!r} in a {card['task']} model (classification has 2 or more, regression none)"
    if not isinstance(extra, dict) or not all(
            isinstance(extra.get(k), (int, float, type(None))) for k in ("uncertainty_scale", "uncertainty_floor")):
        return f"extra {extra!r}: not an object with numeric uncertainty_scale / uncertainty_floor"
    return None


def load_card(directory: Path) -> ModelCard:
    """Read ``model.json`` (``UserInputError`` naming it when it is no model card: damaged, or
    naming members outside ``directory``)."""
    card = read_model_json(directory / "model.json")
    problem = _card_problem(card)
    if problem:
        raise UserInputError(f"{directory / 'model.json'} is not a valid model card ({problem}): the model "
                             f"directory is damaged. {REPAIR}")
    return ModelCard(**card)


_SKOPS_ID = re.compile(r'(?<="__id__": )\d+|(?<=")\d+(?=\.npy")')


def canonical_skops(data: bytes) -> bytes:
    """The same skops archive with reproducible bytes: object ids (memory addresses, used by
    skops as ``__id__`` and array file names) renumbered in order of first appearance, entries
    sorted and dated 1980-01-01. Without this, every save of an equal model hashes differently
    and DVC would see a new model on each run."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        files = {info.filename: (info, source.read(info)) for info in source.infolist()}
    schema = files["schema.json"][1].decode()
    numbers: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        return numbers.setdefault(match.group(0), str(len(numbers)))

    schema = _SKOPS_ID.sub(renumber, schema)
    renamed = {"schema.json": schema.encode()}
    for name, (_, content) in files.items():
        if name != "schema.json":
            stem, dot, suffix = name.partition(".")
            renamed[f"{numbers.get(stem, stem)}{dot}{suffix}"] = content
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(renamed):
            target.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), renamed[name],
                            compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


# skops builds its default trusted-type list from scikit-learn's estimator discovery, which
# imports every scikit-learn package (~1.5 s; among them the array-API adapter for torch, and
# so torch itself, ~2 s more). A saved baseline only ever holds estimators of the packages
# below, so while skops imports, discovery is limited to them: skops then trusts exactly
# those scikit-learn estimators (plus :data:`SKOPS_TRUSTED`) and refuses any other type.
# Forests and boosting, ridge / logistic regression, their trees, and the LabelEncoder
# inside a boosting classifier.
_SKLEARN_PACKAGES = ("ensemble", "linear_model", "preprocessing", "tree")


def _estimators_of_used_packages(type_filter: Any = None) -> list[tuple[str, type]]:
    """(name, class) of the public scikit-learn estimators in :data:`_SKLEARN_PACKAGES`
    (``all_estimators``' signature; ``type_filter`` is not used)."""
    import importlib
    import inspect

    from sklearn.base import BaseEstimator

    found = {}
    for package in _SKLEARN_PACKAGES:
        module = importlib.import_module(f"sklearn.{package}")
        for name in getattr(module, "__all__", []):
            item = getattr(module, name, None)
            if inspect.isclass(item) and issubclass(item, BaseEstimator) and not inspect.isabstract(item):
                found[name] = item
    return sorted(found.items())


def _import_skops_io() -> types.ModuleType:
    """``skops.io``, imported with estimator discovery limited to the packages molprop uses."""
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    import sklearn.utils

    discover = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = _estimators_of_used_packages
    try:
        import skops.io
    finally:
        sklearn.utils.all_estimators = discover
    return skops.io


def save_sklearn_member(directory: Path, estimator: Any, prep: Preprocessor) -> None:
    """Save one scikit-learn member (skops format, byte-reproducible) with its preprocessing."""
    skops_io = _import_skops_io()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "estimator.skops").write_bytes(canonical_skops(skops_io.dumps(estimator)))
    write_json(directory / "preprocess.json", prep.to_dict())


def load_sklearn_member(directory: Path) -> tuple[Any, Preprocessor]:
    """Load one scikit-learn member, refusing any type not in :data:`SKOPS_TRUSTED`."""
    skops_io = _import_skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    path = directory / "estimator.skops"
    try:  # skops audits every type in the file before it constructs anything
        estimator = skops_io.load(path, trusted=SKOPS_TRUSTED)
    except UntrustedTypesFoundException as error:
        raise UserInputError(f"{path} contains untrusted types ({error}); refusing to load") from None
    prep = Preprocessor.from_dict(read_model_json(directory / "preprocess.json"))
    if not hasattr(estimator, "predict") or getattr(estimator, "n_features_in_", len(prep.columns)) != len(prep.columns):
        raise UserInputError(f"{path} holds no fitted estimator for the {len(prep.columns)} columns of "
                             f"preprocess.json ({type(estimator).__name__}, reading "
                             f"{getattr(estimator, 'n_features_in_', 'no')} features): the member's files are "
                             f"damaged or mixed up. {REPAIR}")
    return estimator, prep
