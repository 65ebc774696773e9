"""Stage evaluate: test-set evaluation of the baseline and the model.

The only stage that predicts the test part. Writes (names documented in docs/metrics.md):
metrics/evaluate.json (metrics with bootstrap intervals, paired model-vs-baseline test,
k-fold member summaries), metrics/uncertainty.json, metrics/domain.json,
metrics/subgroups.json (+ every group: reports/evaluate/subgroups.csv),
data/predictions.parquet (per-molecule predictions) and the plot tables
plots/pred_vs_measured.csv, plots/residuals_<model>.csv, plots/calibration_<model>.csv and
plots/error_vs_similarity.csv.
"""

from __future__ import annotations

# first: Ctrl-C or SIGTERM during the imports below then gets one line, not a traceback
from common import read_params, run_stage

import sys
from collections.abc import Sequence
from pathlib import Path

from molprop.evaluation.verdict import comparison_sentence, defined, shown
from molprop.features.parallel import WorkerPool
from molprop.models.predictor import predict_saved
from molprop.nn.workers import device_name_problem
from molprop.schema import TARGET
from molprop.serialization import SIGNIFICANT

GRAPHS = Path("data/graphs.parquet")
PLOTS = Path("plots")
SUBGROUPS = Path("reports/evaluate/subgroups.csv")
FEW_TEST_MOLECULES = 20  # fewer test molecules: the stage warns that its figures rest on too few


def main() -> None:
    params = read_params("data", "evaluate")
    task, section = params["data"]["task"], params["evaluate"]
    problem = device_name_problem(section["device"])
    if problem:
        raise SystemExit(f"evaluate: evaluate.device {section['device']!r}: {problem}")
    if section["device"] not in ("auto", "cpu"):  # a named GPU: is it here? (checked in torch)
        from molprop.nn.device import pick_device

        try:
            pick_device(section["device"])
        except ValueError as error:
            raise SystemExit(f"evaluate: evaluate.{error}") from None
    if sys.platform == "darwin" and section["device"] in ("auto", "mps"):
        evaluate_models(task, section, None)  # Apple's GPU (MPS) is not usable in a forked process
        return
    # The network predicts in a helper process, whose server imports torch while this process
    # imports the evaluation code and predicts with the baseline (hence the imports below).
    with WorkerPool(1, predict_saved, ["torch", "molprop.nn.store"]) as helper:
        evaluate_models(task, section, helper)


def evaluate_models(task: str, section: dict, helper: WorkerPool | None) -> None:
    """Predict the test part with every model (networks in ``helper``, when given), evaluate,
    write the outputs."""
    import numpy as np

    from molprop.data.tables import class_names, read_aligned
    from molprop.evaluation.config import EvaluateConfig
    from molprop.evaluation.predictions import MODELS, plot_table, prediction_table
    from molprop.evaluation.run import evaluate
    from molprop.features.graph_store import has_graphs, load_aligned_graphs
    from molprop.models.partitions import partitions
    from molprop.schema import MOL_ID, SPLIT
    from molprop.serialization import write_json

    config = EvaluateConfig.from_params(section)
    validated, features, split = read_aligned(
        "data/validated.parquet", "data/features.parquet", "data/split.parquet"
    )
    parts = split[SPLIT].to_numpy()
    test = np.flatnonzero(parts == "test")
    if len(test) == 0:
        raise SystemExit("evaluate: the split has no test molecules (split.fractions.test 0?), so there is "
                         "nothing to evaluate: raise split.fractions.test, or run `dvc repro train` to stop "
                         "before evaluate.")
    graphs = None
    if has_graphs(GRAPHS):
        every = load_aligned_graphs(GRAPHS, validated[MOL_ID].tolist())
        graphs = [every[i] for i in test]
    networks = {name: helper.submit(predict_saved, Path("models") / name, features.iloc[test], config.device,
                                    graphs) for name in MODELS if name != "baseline" and helper is not None}
    predictions = {name: networks[name].result() if name in networks else
                   predict_saved(Path("models") / name, features.iloc[test], config.device, graphs)
                   for name in MODELS}
    # the molecules the models were fitted on (k-fold: every fold's training part), the same
    # reference as the split report's and `molprop predict`'s applicability domain
    seen = validated.iloc[np.unique(np.concatenate([p.train for p in partitions(split)]))]
    classes = class_names(validated, task)
    result = evaluate(task, validated.iloc[test].reset_index(drop=True), predictions, seen, config, classes)

    table = prediction_table(validated.iloc[test], predictions, task)
    table["train_similarity"] = result.similarity
    table.to_parquet("data/predictions.parquet", index=False)
    PLOTS.mkdir(exist_ok=True)
    # 6 significant digits, as in metrics/*.json (6 decimals wrote 3.9e-06 as 4e-06)
    plot_table(table).to_csv(PLOTS / "pred_vs_measured.csv", index=False, float_format=SIGNIFICANT)
    for name, frame in result.plots.items():
        frame.to_csv(PLOTS / f"{name}.csv", index=False, float_format=SIGNIFICANT)
    reports = {"evaluate": result.metrics, "uncertainty": result.uncertainty,
               "domain": result.domain, "subgroups": result.subgroups}
    for name, report in reports.items():
        write_json(f"metrics/{name}.json", report)
    SUBGROUPS.parent.mkdir(parents=True, exist_ok=True)
    result.subgroup_table.to_csv(SUBGROUPS, index=False, float_format=SIGNIFICANT)
    scarce, rare = [], {}
    if task == "classification":  # as the split report counts a class scarce in a training part
        share, trained = (frame[TARGET].value_counts(normalize=True) for frame in (validated, seen))
        scarce = [classes[k] for k in share.index if trained.get(k, 0.0) < 0.5 * share[k]]
        rare = {classes[k]: float(share[k]) for k in sorted(share.index) if share[k] < 0.5 / len(classes)}
    _print_summary(task, result.metrics, MODELS, table, classes, scarce, rare)
    _print_uncertainty(result.uncertainty, MODELS, result.metrics["n_test"])


# why a resample leaves a metric undefined
UNDEFINED_WHY = {
    "classification": "they lack a class the metric needs: both for an AUC or MCC, class 1 measured or predicted "
                      "for F1, every class of the test part for a multi-class average",
    "regression": "their measured values or their predictions are one value, as when a model predicts few distinct "
                  "values, or they draw too few distinct molecules",
}


BASELINE_SEARCH = "see the baseline's cross-validation scores and its search (baseline.search)"


def _one_class_why(name: str, scarce: Sequence[str], rare: dict[str, float]) -> str:
    """Why a model may predict one class for every test molecule: a class scarce in the training
    part (the split), one rare in the data (class weights), or neither (too little learnt)."""
    if scarce:
        return (f"the training part holds {', '.join(repr(c) for c in scarce)} at under half "
                f"{'its' if len(scarce) == 1 else 'their'} share of the data (metrics/split.json)")
    if rare:
        shown = ", ".join(f"'{c}' is {share:.1%}" for c, share in rare.items())
        return f"{shown} of the data: " + (
            f"with baseline.class_weight: none, balanced (the default) weighs a rare class up; with balanced, "
            f"{BASELINE_SEARCH}"
            if name == "baseline" else "the network is trained without class weights, so a rare class is seldom "
            "its most probable one; ROC-AUC and PR-AUC, which rank the probabilities, say more")
    return "every class is common in the data and the training part, so the model learnt too little: " + (
        BASELINE_SEARCH if name == "baseline"
        else "see train's warnings; more train.max_epochs or another train.lr")


def _print_summary(task: str, metrics: dict, models: tuple[str, ...], table, classes: list[str],
                   scarce: Sequence[str] = (), rare: dict[str, float] | None = None) -> None:
    """The test metrics and their warnings; ``scarce``: classes the training part holds at under
    half their share of the data; ``rare``: classes under half an even share of the data (1/K),
    with their shares."""
    keys = ("roc_auc", "mcc") if task == "classification" else ("rmse", "r2")
    for name in models:
        figures = ", ".join(
            f"{k} {shown(metrics[name][k])} [{shown(metrics[f'{name}_ci'][k]['low'])}, "
            f"{shown(metrics[f'{name}_ci'][k]['high'])}]" for k in keys
        )
        print(f"evaluate {name}: {figures}")
        thin = {k: ci["n_resamples_defined"] for k, ci in metrics[f"{name}_ci"].items() if "n_resamples_defined" in ci}
        if thin:
            print(f"evaluate: note: the {name}'s intervals of {', '.join(f'{k} ({n})' for k, n in thin.items())} "
                  f"rest on that many of the {metrics['bootstrap']['n_resamples']} resamples: the others leave it "
                  f"undefined ({UNDEFINED_WHY[task]}); n/a when fewer than half define it")
        r2 = metrics[name].get("r2") if task == "regression" else None
        if r2 is not None and r2 < 0:
            print(f"evaluate: warning: the {name}'s test R² is {r2}: it predicts the test molecules worse than "
                  "their mean would (a setting that broke training, a few far outlying targets: see validate's "
                  "warnings, or a test part unlike the training one)")
        predicted = set(table[name]) if task == "classification" else set()
        if len(predicted) == 1 and table[TARGET].nunique() > 1:
            why = _one_class_why(name, scarce, rare or {})
            print(f"evaluate: warning: the {name} predicts class '{classes[predicted.pop()]}' for every test "
                  f"molecule, so its F1 and MCC say nothing (ROC-AUC and PR-AUC rank its probabilities); {why}")
    print(f"evaluate model vs baseline: {comparison_sentence(metrics.get('model_vs_baseline', {}))}")
    if metrics["n_test"] < FEW_TEST_MOLECULES:
        print(f"evaluate: warning: {metrics['n_test']} test molecule(s): the metrics and their bootstrap "
              "intervals rest on too few molecules to compare models by (a resample can only repeat "
              f"them); raise split.fractions.test, or use more data, for {FEW_TEST_MOLECULES} or more")


def _print_uncertainty(uncertainty: dict, models: tuple[str, ...], n_test: int) -> None:
    """One line per regression model with an uncertainty: its intervals' coverage and whether
    it ranks the test errors (Spearman of uncertainty and |error|, with its bootstrap interval).
    Undefined figures arrive as None (metrics/*.json's null); a model without a usable
    uncertainty gets the reason why."""
    from molprop.evaluation.uncertainty import UNAVAILABLE

    for name in models:
        figures = uncertainty.get(name, {})
        if figures.get("reason") in UNAVAILABLE:
            print(f"evaluate {name} uncertainty: none, {UNAVAILABLE[figures['reason']]}")
        if figures.get("coverage") is None:
            continue
        coverage, rho = figures.get("coverage_ci") or {}, figures.get("spread_error_spearman_ci") or {}
        spearman = figures.get("spread_error_spearman")
        if n_test < FEW_TEST_MOLECULES:  # 2 molecules: a Spearman of +-1 whatever the model
            ranks = f"{n_test} test molecule(s) are too few to tell whether it ranks their errors"
        elif not defined(spearman):
            ranks = ("the Spearman of uncertainty and |error| is undefined (one uncertainty for every test "
                     "molecule, or too few of them), so it ranks none of their errors")
        else:
            low, high = rho.get("low"), rho.get("high")
            verdict = ("it ranks the errors" if defined(low) and low > 0 else
                       "it ranks them backwards (larger uncertainty, smaller error)" if defined(high) and high < 0
                       else "an interval that takes in 0: it hardly tells which test molecules it errs on")
            ranks = (f"Spearman of uncertainty and |error| {spearman:.2f} [{shown(low, '.2f')}, "
                     f"{shown(high, '.2f')}], {verdict}")
        raw = " (the raw member spread, not calibrated)" if figures.get("uncertainty_scale") is None else ""
        print(f"evaluate {name} uncertainty{raw}: {figures['coverage_level']:.0%} intervals cover "
              f"{figures['coverage']:.1%} [{shown(coverage.get('low'), '.1%')}, "
              f"{shown(coverage.get('high'), '.1%')}] "
              f"of test molecules; {ranks}")


if __name__ == "__main__":
    run_stage(main)
