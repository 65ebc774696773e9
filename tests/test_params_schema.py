"""params.schema.json: the project's params.yaml conforms, the allowed values are the code's,
and problems are reported by key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from molprop.evaluation.config import SCAFFOLDS
from molprop.models.estimators import KINDS
from molprop.models.matrix import FEATURE_GROUPS, SCALINGS
from molprop.models.search import CV_GROUPS, METHODS as SEARCH_METHODS
from molprop.models.tanimoto import WEIGHTS
from molprop.nn.mpnn import READOUTS
from molprop.nn.training_types import ARCHITECTURES
from molprop.nn.workers import device_name_problem
from molprop.params_check import SCHEMA_FILE, params_problems, unknown_sections
from molprop.schema import TASKS
from molprop.splits.config import CLUSTER_METHODS, METHODS as SPLIT_METHODS
from molprop.validation.config import AGGREGATES, IDENTITY_KEYS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads(SCHEMA_FILE.read_text())


MAX_FEATURES = ("a fraction of the features (0-1.0; all of them: 1.0, not 1, which scikit-learn reads as one "
                "feature), a count >= 2, sqrt, log2 or null (all)")


def _at(path: str) -> dict:
    node = SCHEMA
    for part in path.split("."):
        node = node["properties"][part]
    return node


def test_the_schema_is_valid_and_the_project_params_conform():
    Draft202012Validator.check_schema(SCHEMA)
    params = YAML(typ="safe").load((ROOT / "params.yaml").read_text())
    assert params_problems(params) == []
    assert set(params) == set(SCHEMA["properties"])  # every section is described


@pytest.mark.parametrize("path, values", [
    ("data.task", TASKS), ("validate.identity_key", IDENTITY_KEYS), ("validate.duplicates.aggregate", AGGREGATES),
    ("split.method", SPLIT_METHODS), ("split.cluster.method", CLUSTER_METHODS), ("baseline.model", KINDS),
    ("baseline.knn_tanimoto.weights", WEIGHTS), ("baseline.search.method", SEARCH_METHODS),
    ("baseline.search.cv_groups", CV_GROUPS), ("train.model", ARCHITECTURES), ("train.readout", READOUTS),
    ("train.feature_scaling", SCALINGS), ("evaluate.subgroups.scaffold", SCAFFOLDS),
])
def test_allowed_values_are_the_code_s(path, values):
    assert sorted(_at(path)["enum"]) == sorted(values)


def test_feature_groups_and_devices_are_the_code_s():
    assert sorted(SCHEMA["$defs"]["feature_groups"]["items"]["enum"]) == sorted(FEATURE_GROUPS)
    assert sorted(_at("baseline.search.space")["propertyNames"]["enum"]) == sorted(KINDS)
    accepted = Draft202012Validator(SCHEMA["$defs"]["device"])
    for name in ("auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps", "gpu", "cuda:x", "cpu:0", "", "CUDA"):
        known = "not a device name" not in (device_name_problem(name) or "")
        assert accepted.is_valid(name) == known, name


def test_problems_name_the_key_and_what_to_write():
    params = {"data": {"target_column": ["logD", "logS"], "task": "regresion"},
              "split": {"fractions": {"train": 1.5}},
              "baseline": {"random_forest": {"max_features": "all"}, "search": {"timeout_s": 0}},
              "train": {"lrr": 0.1, "device": "gpu", "lr": None}}
    problems = params_problems(params, require_keys=False)
    assert problems == [
        f"baseline.random_forest.max_features is \"all\"; expected {MAX_FEATURES}",
        "baseline.search.timeout_s is 0; expected seconds > 0, or null (no limit)",
        "data.target_column is [\"logD\", \"logS\"]; expected one column name: molprop trains one target per "
        "pipeline; for several targets, run an experiment per target: dvc exp run -S data.target_column=<name>",
        "data.task is \"regresion\"; use one of \"regression\", \"classification\"",
        "split.fractions.train is 1.5; it must be <= 1",
        problems[5],
        "train.device is \"gpu\"; expected auto, cpu, cuda, cuda:<index> or mps",
        "train.lr is null; expected a number",
    ]
    assert problems[5].startswith("train: unknown key(s) 'lrr'; the known keys are batch_norm, batch_size,")


def test_sections_it_does_not_know_are_left_to_their_owners():
    assert params_problems({"my_own_stage": {"anything": [1, "a"]}}, require_keys=False) == []
    mine = ["my_own_stage", "training", "validation", "evaluation", "train2", "train_", "featurize_extra",
            "plot", "export", "import", "repo", "trial", "date", "splice", "feature", "dat"]
    assert unknown_sections(dict.fromkeys(mine + ["data"], {})) == []  # sections of the user's own stages
    typos = (("trian", "train"), ("Train", "train"), ("TRAIN", "train"), ("Data", "data"), ("featurise", "featurize"),
             ("evalute", "evaluate"), ("splt", "split"), ("trainn", "train"), ("splits", "split"), ("dataa", "data"))
    assert unknown_sections(dict.fromkeys([name for name, _ in typos], {})) == [
        f"{name}: not a section molprop reads (did you mean {section}?); rename it, or delete it"
        for name, section in typos]


@pytest.mark.parametrize("section", ["validate", "featurize", "baseline", "train"])
def test_n_jobs_is_minus_one_or_a_count_in_every_section(section):
    def problems(value):
        return params_problems({section: {"n_jobs": value}}, require_keys=False)

    assert problems(-1) == problems(3) == []
    assert problems(0) == [
        f"{section}.n_jobs is 0; expected an integer: -1 for all cores, k >= 1 for k processes or threads"]
    assert problems(-2) == [f"{section}.n_jobs is -2; it must be >= -1"]


def test_whole_floats_are_not_counts_and_nan_is_not_a_number():
    problems = params_problems({"train": {"hidden_size": 1e2, "lr": float("nan"), "max_epochs": True,
                                          "dropout": float("inf")},
                                "baseline": {"ridge": {"alpha": float("nan")}},
                                "validate": {"target_range": {"y": [float("nan"), 5.0]}}}, require_keys=False)
    assert problems == [
        "baseline.ridge.alpha is .nan (not a number); give a value",
        "train.dropout is .inf; it must be <= 0.998",
        "train.hidden_size is 100.0; write it as an integer (100)",
        "train.lr is .nan (not a number); give a value",
        "train.max_epochs is true; expected an integer",
        "validate.target_range.y.0 is .nan (not a number); give a value",
    ]
    assert params_problems({"train": {"lr": 1, "dropout": 0}, "split": {"fractions": {"train": 1}},
                            "validate": {"target_range": {"y": [float("-inf"), 10.0]}}}, require_keys=False) == []


def test_search_space_values_follow_their_hyperparameter_s_rules():
    space = {"random_forest": {"min_samples_leaf": [0, 1], "max_features": [0.5, 2.5]},
             "ridge": {"alpha": {"low": 100, "high": 1}},
             "hist_gradient_boosting": {"learning_rate": {"low": 0, "high": 1, "log": True}},
             "knn_tanimoto": {"n_neighbors": {"low": 1, "high": 30.5}, "k": [1]}}
    assert params_problems({"baseline": {"search": {"space": space}}}, require_keys=False) == [
        "baseline.search.space.random_forest.min_samples_leaf: 0 is not a value of "
        "baseline.random_forest.min_samples_leaf (expected a count >= 1, or a fraction (0-1) of the training rows)",
        "baseline.search.space.random_forest.max_features: 2.5 is not a value of baseline.random_forest.max_features "
        f"(expected {MAX_FEATURES})",
        "baseline.search.space.ridge.alpha: low 100 is above high 1",
        "baseline.search.space.hist_gradient_boosting.learning_rate: 0 is not a value of "
        "baseline.hist_gradient_boosting.learning_rate (it must be > 0)",
        "baseline.search.space.knn_tanimoto.n_neighbors: 30.5 is not a value of baseline.knn_tanimoto.n_neighbors "
        "(expected an integer)",
        "baseline.search.space.knn_tanimoto.k: knn_tanimoto has no hyperparameter 'k'; it has n_neighbors, "
        "weights, binarize",
    ]
    assert params_problems({"baseline": {"random_forest": {"min_samples_leaf": 1.5, "max_features": 2}}},
                           require_keys=False) == [
        "baseline.random_forest.min_samples_leaf is 1.5; expected a count >= 1, or a fraction (0-1) of the "
        "training rows"]
    # a range with one decimal end samples decimals: every value between must be valid as one
    # ({low: 0.5, high: 4} of a leaf size drew 2.42, which scikit-learn refused mid-search)
    mixed = {"random_forest": {"min_samples_leaf": {"low": 0.5, "high": 4}, "max_features": {"low": 0.1, "high": 1.0}}}
    assert params_problems({"baseline": {"search": {"space": mixed}}}, require_keys=False) == [
        "baseline.search.space.random_forest.min_samples_leaf: 4.0 (a range with a decimal end is sampled as "
        "decimals) is not a value of baseline.random_forest.min_samples_leaf (expected a count >= 1, or a fraction "
        "(0-1) of the training rows)"]
    # the integer 1 is one feature per split to scikit-learn: all of them is 1.0
    assert params_problems({"baseline": {"random_forest": {"max_features": 1}}}, require_keys=False) == [
        f"baseline.random_forest.max_features is 1; expected {MAX_FEATURES}"]
    assert params_problems({"baseline": {"random_forest": {"max_features": 1.0}}}, require_keys=False) == []


@pytest.mark.parametrize("section", ["split", "baseline", "train"])
def test_seeds_stop_at_the_largest_scikit_learn_takes(section):
    # 2**32 passed, then k-fold, k-means and the baseline's models failed with a traceback
    assert params_problems({section: {"seed": 2**32 - 1}}, require_keys=False) == []
    assert params_problems({section: {"seed": 2**32}}, require_keys=False) == [
        f"{section}.seed is 4294967296; it must be <= 4294967295"]


def test_keys_the_stages_read_are_required():
    params = YAML(typ="safe").load((ROOT / "params.yaml").read_text())
    del params["train"]["lr"], params["data"]["task"], params["split"]["fractions"]["val"]
    params["featurize"]["morgan"] = {"enabled": True}
    hint = "add them back: molprop's own params.yaml has each, with a comment on what it does"
    assert params_problems(params) == [f"data: missing key(s) 'task'; {hint}",
                                       f"featurize.morgan: missing key(s) 'radius', 'n_bits'; {hint}",
                                       f"featurize.morgan: missing key(s) 'counts'; {hint}",
                                       f"split.fractions: missing key(s) 'val'; {hint}",  # not the default 0.1
                                       f"train: missing key(s) 'lr'; {hint}"]
    # a group switched off needs no settings but those other stages read (morgan's radius and
    # n_bits: interpret's bit pictures)
    params = YAML(typ="safe").load((ROOT / "params.yaml").read_text())
    params["featurize"]["descriptors"] = {"enabled": False}
    params["featurize"]["morgan"] = {"enabled": False, "radius": 2, "n_bits": 2048}
    assert params_problems(params) == []
    assert params_problems({"train": {"lr": 10**400}}, require_keys=False) == []  # no OverflowError


def test_dvc_can_set_every_list_after_another_change(tmp_path):
    """`dvc exp run -S` rewrites params.yaml with ruamel; a comment continuing after a flow-style
    list ('features: [descriptors]  # ...' and an indented '# ...' line under it) made a second
    rewrite (-S train.features=[] after any other) write a file that no longer parses."""
    from dvc.utils.hydra import apply_overrides

    params = YAML(typ="safe").load((ROOT / "params.yaml").read_text())
    lists = {f"{section}.{key}": value[:1] for section, body in params.items() if isinstance(body, dict)
             for key, value in body.items() if isinstance(value, list)} | {"train.features": []}
    assert {"baseline.features", "train.features"} <= set(lists)
    path = tmp_path / "params.yaml"
    for key, value in lists.items():
        path.write_text((ROOT / "params.yaml").read_text())
        apply_overrides(str(path), ["split.n_folds=3"])
        apply_overrides(str(path), [f"{key}={json.dumps(value)}"])
        section, name = key.split(".")
        assert YAML(typ="safe").load(path.read_text())[section][name] == value, key


@pytest.mark.parametrize("section, bad", [
    ({"bootstrap": {"n_resamples": 9}}, "n_resamples"),
    ({"calibration_bins": 1}, "calibration_bins"),
    ({"bootstrap": {"confidence": 1}}, "confidence"),
    ({"bootstrap": {"confidence": 0}}, "confidence"),
])
def test_the_schema_refuses_what_evaluate_config_refuses(section, bad):
    from molprop.params_check import params_problems

    problems = params_problems({"evaluate": section}, require_keys=False)
    assert any(bad in p for p in problems), problems


def test_dvc_exp_run_set_param_keeps_params_yaml_as_written(tmp_path):
    """Bug fixed: `dvc exp run -S` (DVC's ruamel.yaml round trip of params.yaml) rewrote its
    [a, b] lists one item per line, moved the comment after a list above the list's items, and
    on a second -S dropped the 5-line class_weight comment that followed a list. A comment or
    blank line after a list belongs to the list, which DVC replaces: params.yaml has none."""
    from dvc.utils.hydra import apply_overrides

    text = (ROOT / "params.yaml").read_text()
    copy = tmp_path / "params.yaml"
    copy.write_text(text)
    apply_overrides(copy, ["interpret.seed=0"])  # its own value
    assert copy.read_text() == text
    apply_overrides(copy, ["train.lr=3e-4", "baseline.features=[morgan]"])
    apply_overrides(copy, ["evaluate.domain.similarity_bins=[0,0.5,1]"])

    def comments(content: str) -> list[str]:
        return [line.split("#", 1)[1] for line in content.splitlines() if "#" in line]

    assert comments(copy.read_text()) == comments(text)
