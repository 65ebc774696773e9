"""Predicting new molecules with a saved model, at library scale (see docs/predict.md).

    from molprop.predict import predict_file, PredictOptions
    predict_file("models/model", "library.csv", "predictions.parquet")
"""

from __future__ import annotations

from typing import Any

__all__ = ["PredictOptions", "predict_file", "save_predict_context", "load_predict_context"]


def __getattr__(name: str) -> Any:  # light package import; the runner loads on first use
    if name in ("PredictOptions", "predict_file"):
        from molprop.predict import runner

        return getattr(runner, name)
    if name in ("save_predict_context", "load_predict_context"):
        from molprop.predict import context

        return getattr(context, name)
    raise AttributeError(f"module 'molprop.predict' has no attribute {name!r}")
