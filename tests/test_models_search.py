"""Hyperparameter search: folds on training rows only, seeded and repeatable, budgets kept."""

import numpy as np
import pandas as pd
import pytest

from molprop.models import baseline as baseline_module
from molprop.models.baseline import BaselineConfig, fit_member
from molprop.models.search import (SearchConfig, cross_validated_score, cv_groups_of, cv_splits,
                                   run_search)
from test_models_estimators import toy_table


def test_scaffold_groups_never_span_two_folds():
    groups = ["a"] * 10 + ["b"] * 5 + ["c"] * 5 + ["d"] * 3 + ["e"] * 2 + list("fghij")
    splits = cv_splits(len(groups), 4, groups, seed=0)
    assert len(splits) == 4
    held = np.concatenate([h for _, h in splits])
    assert sorted(held.tolist()) == list(range(len(groups)))  # every row held out once
    for fit_rows, held_out in splits:
        assert not {groups[i] for i in fit_rows} & {groups[i] for i in held_out}


def test_fewer_scaffolds_than_folds_gives_fewer_folds_and_one_scaffold_is_an_error():
    assert len(cv_splits(6, 5, ["a", "a", "b", "b", "c", "c"], seed=0)) == 3
    with pytest.raises(ValueError, match="cv_groups to random"):
        cv_splits(4, 3, ["a"] * 4, seed=0)
    with pytest.raises(ValueError, match="cv_folds"):
        cv_splits(3, 5, None, seed=0)


def test_molecules_are_grouped_by_scaffold_and_each_acyclic_one_is_its_own_group():
    groups = cv_groups_of(["c1ccccc1CC", "CCO", "c1ccccc1O", "CCCl", "C1CC1C"], "scaffold")
    assert groups[0] == groups[2] == "c1ccccc1" and groups[4] == "C1CC1"
    assert len({groups[1], groups[3], groups[0], groups[4]}) == 4
    assert cv_groups_of(["CCO"], "random") is None


def test_cross_validated_score_pools_the_out_of_fold_predictions():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    splits = [(np.array([2, 3]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    seen = []

    def fit_predict(fit_rows, held_out):
        seen.append((fit_rows.tolist(), held_out.tolist()))
        return y[held_out] + 1.0

    assert cross_validated_score(fit_predict, y, splits, "regression") == pytest.approx(1.0)
    assert seen == [([2, 3], [0, 1]), ([0, 1], [2, 3])]


def _bowl(params):
    """A deterministic objective with its minimum at x = 0.3, k = 4."""
    return (params["x"] - 0.3) ** 2 + 0.1 * abs(params["k"] - 4) + (params["kind"] == "b") * 0.05


SPACE = {"x": {"low": 0.0, "high": 1.0}, "k": {"low": 1, "high": 16, "log": True}, "kind": ["a", "b"]}


def test_optuna_search_is_repeatable_and_keeps_the_budget():
    config = SearchConfig("optuna", n_trials=25, space=SPACE)
    first = run_search(_bowl, config, "regression", seed=7)
    again = run_search(_bowl, config, "regression", seed=7)
    other = run_search(_bowl, config, "regression", seed=8)
    assert first.trials == again.trials and first.best == again.best
    assert first.trials != other.trials
    assert len(first.trials) == 25 and isinstance(first.best["k"], int)
    assert first.cv_score == min(t["value"] for t in first.trials) < 0.2
    assert first.metric == "rmse"


def test_grid_search_tries_every_combination_and_needs_lists():
    seen = []

    def objective(params):
        seen.append(params)
        return params["a"] * 10 + params["b"]

    config = SearchConfig("grid", n_trials=100, space={"a": [1, 2, 3], "b": [0.5, 0.1]})
    result = run_search(objective, config, "regression", seed=0)
    assert len(seen) == 6 and result.best == {"a": 1, "b": 0.1}
    with pytest.raises(ValueError, match=r"grid needs a list of values .* \['b'\] are ranges"):
        SearchConfig("grid", space={"a": [1], "b": {"low": 0, "high": 1}})  # before any work


def test_classification_maximizes_and_an_empty_space_scores_the_fixed_values():
    result = run_search(lambda p: p["c"], SearchConfig("optuna", 5, space={"c": [0.6, 0.9, 0.7]}),
                        "classification", seed=0)
    assert result.metric == "roc_auc" and result.best == {"c": 0.9}
    fixed = run_search(lambda p: 0.42, SearchConfig("optuna", 5), "regression", seed=0)
    assert fixed.best == {} and fixed.cv_score == 0.42 and len(fixed.trials) == 1


def test_bad_search_settings_are_named():
    with pytest.raises(ValueError, match="method"):
        SearchConfig("random")
    with pytest.raises(ValueError, match="cv_groups"):
        SearchConfig("optuna", cv_groups="cluster")
    with pytest.raises(ValueError, match="must be a list of choices"):
        run_search(lambda p: 0.0, SearchConfig("optuna", 2, space={"a": 3}), "regression", 0)


@pytest.mark.parametrize("kind", ["ridge", "knn_tanimoto", "hist_gradient_boosting"])
def test_the_search_never_sees_rows_outside_the_training_part(kind, monkeypatch):
    """Test rows carry a sentinel value; no fitted or predicted matrix may contain it."""
    frame, y = toy_table("regression", n=90)
    test = np.arange(60, 90)
    frame.loc[test, "desc_size"] = 1e6
    frame.loc[test, "fp_0"] = 200
    y = y.copy()
    y[test] = 1e6
    matrices = []
    real_rows, real_fit, real_predict = (baseline_module.fit_on_rows, baseline_module.fit_estimator,
                                         baseline_module.predict_member)

    def spy_rows(frame_fit, y_fit, *args):
        assert np.all(np.abs(y_fit) < 1e5)  # the targets before they are standardized
        return real_rows(frame_fit, y_fit, *args)

    def spy_fit(estimator, x, y_fit, n_jobs=1):
        matrices.append(x)
        return real_fit(estimator, x, y_fit, n_jobs)

    def spy_predict(estimator, prep, rows, task, n_classes):
        matrices.append(prep.transform(rows))
        return real_predict(estimator, prep, rows, task, n_classes)

    monkeypatch.setattr(baseline_module, "fit_on_rows", spy_rows)
    monkeypatch.setattr(baseline_module, "fit_estimator", spy_fit)
    monkeypatch.setattr(baseline_module, "predict_member", spy_predict)
    space = {"ridge": {"alpha": {"low": 0.1, "high": 10.0, "log": True}},
             "knn_tanimoto": {"n_neighbors": [1, 3, 5]},
             "hist_gradient_boosting": {"max_iter": [5, 10]}}[kind]
    groups = [f"g{i % 7}" for i in range(90)]
    config = BaselineConfig(kind, {}, ["morgan", "descriptors"],
                            SearchConfig("optuna", n_trials=4, cv_folds=3, space=space), n_jobs=1)
    member = fit_member(frame, y, groups, np.arange(60), "regression", 0, config)
    distinct = {repr(sorted(t["params"].items())) for t in member.search.trials}
    assert len(member.search.trials) == 4  # repeated points are not refitted
    assert len(matrices) == len(distinct) * 3 * 2 + 1  # folds x (fit + predict), final fit
    assert all(len(m) <= 60 and np.all(np.abs(m) < 150) for m in matrices)
    assert member.hyperparameters.items() >= member.search.best.items()


def test_fit_member_is_repeatable_and_applies_the_best_hyperparameters():
    frame, y = toy_table("regression", n=100)
    config = BaselineConfig("knn_tanimoto", {"weights": "uniform", "n_neighbors": 2},
                            ["morgan"], SearchConfig("optuna", n_trials=6, cv_folds=4,
                                                     cv_groups="random",
                                                     space={"n_neighbors": {"low": 1, "high": 20}}))
    train = np.arange(80)
    a = fit_member(frame, y, None, train, "regression", 0, config)
    b = fit_member(frame, y, None, train, "regression", 0, config)
    assert a.search.trials == b.search.trials
    assert a.hyperparameters == {"weights": "uniform", "n_neighbors": a.search.best["n_neighbors"],
                                 "binarize": False}  # the default that applied is recorded too
    assert a.estimator.n_neighbors == a.search.best["n_neighbors"]
    x = pd.DataFrame(frame.iloc[80:])
    assert np.array_equal(a.estimator.predict(a.prep.transform(x)), b.estimator.predict(b.prep.transform(x)))


def test_no_search_fits_the_given_hyperparameters():
    frame, y = toy_table("classification", n=60)
    config = BaselineConfig("ridge", {"alpha": 3.0}, ["descriptors"])
    member = fit_member(frame, y, None, np.arange(60), "classification", 3, config)
    assert member.search is None and member.hyperparameters == {"alpha": 3.0}
    assert member.estimator.C == pytest.approx(1 / 3.0)
    assert member.prep.columns == ["desc_size", "desc_noisy"]


def test_the_card_records_the_defaults_that_applied_and_boosting_takes_a_whole_fraction():
    frame, y = toy_table("regression", n=60)
    # baseline.ridge: null (or a key left out) fitted alpha 1.0 and recorded {}
    member = fit_member(frame, y, None, np.arange(60), "regression", 0, BaselineConfig("ridge", {}, ["descriptors"]))
    assert member.hyperparameters == {"alpha": 1.0} and member.estimator.alpha == 1.0
    config = BaselineConfig("hist_gradient_boosting", {"max_iter": 3, "max_features": 1}, ["descriptors"])
    member = fit_member(frame, y, None, np.arange(60), "regression", 0, config)  # scikit-learn refused the integer 1
    assert member.estimator.max_features == 1.0 and member.hyperparameters["max_features"] == 1
    assert member.hyperparameters["learning_rate"] == 0.1  # scikit-learn's default, recorded


def test_a_user_error_inside_a_trial_is_not_preceded_by_optuna_s_traceback(capsys):
    from molprop.errors import UserInputError

    def objective(params):
        raise UserInputError("feature group(s) ['descriptors'] are listed in baseline.features ...")

    with pytest.raises(UserInputError, match="feature group"):
        run_search(objective, SearchConfig("optuna", n_trials=2, space={"alpha": {"low": 0.1, "high": 1.0}}),
                   "regression", 0)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out and "Trial 0 failed" not in captured.err + captured.out


def test_a_search_the_time_cap_cut_short_is_named():
    from molprop.models.search import timeout_note

    optuna = SearchConfig("optuna", n_trials=20, timeout_s=5, space={"alpha": {"low": 0.1, "high": 1.0}})
    assert timeout_note(optuna, 3) == ("the search stopped at baseline.search.timeout_s (5 s) after 3 of 20 trials; "
                                       "the hyperparameters chosen depend on this machine's speed")
    assert timeout_note(optuna, 20) is None
    assert timeout_note(SearchConfig("optuna", n_trials=20, space=optuna.space), 3) is None  # no cap: a failure
    grid = SearchConfig("grid", n_trials=20, timeout_s=5, space={"a": [1, 2], "b": [1, 2, 3]})
    assert timeout_note(grid, 6) is None and "after 4 of 6 trials" in timeout_note(grid, 4)  # the whole grid is 6


def test_a_search_whose_every_score_is_nan_says_so():
    from molprop.errors import UserInputError

    config = SearchConfig("optuna", n_trials=3, space={"alpha": {"low": 0.1, "high": 1.0}})
    with pytest.raises(UserInputError, match=r"cross-validated roc_auc was not a number in every trial \(3\)"):
        run_search(lambda params: float("nan"), config, "classification", 0)


def test_a_timeout_before_the_first_trial_names_timeout_s():
    with pytest.raises(ValueError, match=r"baseline.search.timeout_s \(1e-09 s\) ran out before the first trial"):
        run_search(lambda p: 0.0, SearchConfig("optuna", 5, timeout_s=1e-9, space={"a": [1, 2]}), "regression", 0)


def test_a_grid_search_stops_at_its_trial_budget():
    from molprop.models.search import SearchConfig, run_search
    calls = []
    config = SearchConfig("grid", n_trials=2, space={"a": [1, 2, 3], "b": [0.5, 0.1]})
    result = run_search(lambda p: calls.append(p) or float(p["a"]), config, "regression", 0)
    assert len(result.trials) == 2 and len(calls) == 2


def test_the_search_keeps_each_scaffold_group_in_one_cross_validation_fold(monkeypatch):
    """cv_groups scaffold (the default): a scaffold split across the search's folds leaks, and
    the search then favours settings that memorize scaffolds."""
    seen = []
    real = baseline_module.cv_splits

    def spy(n, folds, groups, seed):
        out = list(real(n, folds, groups, seed))
        seen.append(out)
        return out

    monkeypatch.setattr(baseline_module, "cv_splits", spy)
    frame, y = toy_table("regression", n=90)
    groups = [f"g{i % 7}" for i in range(90)]
    config = BaselineConfig("ridge", {}, ["descriptors"],
                            SearchConfig("optuna", n_trials=2, cv_folds=3, space={"alpha": [0.1, 1.0]}), n_jobs=1)
    train = np.arange(60)
    fit_member(frame, y, groups, train, "regression", 0, config)
    train_groups = np.array(groups)[train]
    assert seen and all(not set(train_groups[fit]) & set(train_groups[held]) for fit, held in seen[0])
