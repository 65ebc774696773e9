import mlflow

from molprop import tracking


def test_run_logs_flattened_params_and_finite_metrics(tmp_path):
    with tracking.mlflow_run("unit", "run", {"train": {"lr": 0.1, "layers": 2}, "seed": 0}) as run:
        tracking.log_metrics({"rmse": 1.5, "bad": float("nan"), "name": "x"})
        (tmp_path / "model").mkdir()
        (tmp_path / "model" / "model.json").write_text("{}")
        tracking.log_model_dir(tmp_path / "model")
    stored = mlflow.get_run(run.info.run_id)
    assert stored.data.params == {"train.lr": "0.1", "train.layers": "2", "seed": "0"}
    assert stored.data.metrics == {"rmse": 1.5}
    assert [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "model")] == ["model/model.json"]
