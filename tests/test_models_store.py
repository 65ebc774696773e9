import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from molprop.models.estimators import fit_estimator, make_estimator
from molprop.models.matrix import Preprocessor
from molprop.models.predictor import predict_saved
from molprop.models.store import ModelCard, load_sklearn_member, save_card, save_sklearn_member


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"desc_a": rng.normal(size=n), "desc_b": rng.normal(size=n)})
    return frame, (2 * frame["desc_a"] - frame["desc_b"]).to_numpy()


def test_saved_forest_predicts_like_the_fitted_one(tmp_path):
    frame, y = _data()
    prep = Preprocessor.fit(frame, ["desc_a", "desc_b"], scale=False)
    forest = fit_estimator(make_estimator("random_forest", "regression", {"n_estimators": 20}, 0),
                           prep.transform(frame), y)
    save_sklearn_member(tmp_path / "member_0", forest, prep)
    save_card(tmp_path, ModelCard("sklearn", "regression", ["descriptors"], ["member_0"]))
    pred = predict_saved(tmp_path, frame)
    assert pred.members.shape == (1, 40)
    assert np.allclose(pred.mean, forest.predict(prep.transform(frame)))
    assert np.corrcoef(pred.mean, y)[0, 1] > 0.9


def test_same_seed_same_forest_whatever_the_threads():
    frame, y = _data()
    x = frame.to_numpy()
    a = fit_estimator(make_estimator("random_forest", "regression", {"n_estimators": 10}, 3, n_jobs=1), x, y, 1)
    b = fit_estimator(make_estimator("random_forest", "regression", {"n_estimators": 10}, 3, n_jobs=2), x, y, 2)
    assert np.array_equal(a.predict(x), b.predict(x))
    assert b.n_jobs == 1  # predicts in one thread: a reproducible sum over the trees


def test_gradient_boosting_saves_the_same_bytes_whatever_the_threads(tmp_path):
    # the binner kept its thread count: the same model saved differently on 1 and 2 cores
    frame, y = _data()
    prep = Preprocessor.fit(frame, ["desc_a", "desc_b"], scale=False)
    saved = []
    for n_jobs in (1, 2):
        model = fit_estimator(make_estimator("hist_gradient_boosting", "regression", {"max_iter": 5}, 0, n_jobs),
                              prep.transform(frame), y, n_jobs)
        save_sklearn_member(tmp_path / f"m{n_jobs}", model, prep)
        saved.append(sorted((p.name, p.read_bytes()) for p in (tmp_path / f"m{n_jobs}").iterdir()))
    assert saved[0] == saved[1]


def test_classes_unseen_in_training_get_zero_probability(tmp_path):
    frame, _ = _data()
    y = (frame["desc_a"] > 0).astype(int).to_numpy()  # classes 0, 1 only; the card says 3
    prep = Preprocessor.fit(frame, ["desc_a", "desc_b"], scale=False)
    forest = fit_estimator(make_estimator("random_forest", "classification", {"n_estimators": 10}, 0),
                           prep.transform(frame), y)
    save_sklearn_member(tmp_path / "m", forest, prep)
    save_card(tmp_path, ModelCard("sklearn", "classification", ["descriptors"], ["m"], ["a", "b", "c"]))
    proba = predict_saved(tmp_path, frame).mean
    assert proba.shape == (40, 3)
    assert np.allclose(proba.sum(axis=1), 1.0) and np.all(proba[:, 2] == 0)


class Payload:
    """A type skops can save but does not trust: loading it could run arbitrary code."""

    def __init__(self) -> None:
        self.value = 1


def test_loading_refuses_a_file_with_untrusted_types(tmp_path):
    import skops.io

    skops.io.dump({"payload": Payload()}, tmp_path / "estimator.skops")
    (tmp_path / "preprocess.json").write_text(json.dumps(Preprocessor([], []).to_dict()))
    with pytest.raises(ValueError, match="untrusted"):
        load_sklearn_member(tmp_path)


def test_loading_refuses_an_untrusted_type_hidden_inside_a_trusted_estimator(tmp_path):
    import skops.io
    from sklearn.linear_model import Ridge

    model = Ridge().fit(np.zeros((3, 1)), np.arange(3.0))
    model.hidden = Payload()
    skops.io.dump(model, tmp_path / "estimator.skops")
    (tmp_path / "preprocess.json").write_text(json.dumps(Preprocessor([], []).to_dict()))
    with pytest.raises(ValueError, match="Payload"):
        load_sklearn_member(tmp_path)


SAVE_IN_A_NEW_PROCESS = """
import sys
import numpy as np
import pandas as pd
from molprop.models.estimators import fit_estimator, make_estimator
from molprop.models.matrix import Preprocessor
from molprop.models.store import save_sklearn_member
rng = np.random.default_rng(0)
frame = pd.DataFrame({"desc_a": rng.normal(size=40), "desc_b": rng.normal(size=40)})
prep = Preprocessor.fit(frame, ["desc_a", "desc_b"], scale=False)
forest = fit_estimator(make_estimator("random_forest", "regression", {"n_estimators": 5}, 0),
                       prep.transform(frame), frame["desc_a"].to_numpy())
save_sklearn_member(__import__("pathlib").Path(sys.argv[1]), forest, prep)
"""


def test_equal_models_saved_by_two_processes_have_identical_bytes(tmp_path):
    """skops names arrays by memory address and stamps the time; saved files must not vary."""
    import subprocess
    import sys

    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", SAVE_IN_A_NEW_PROCESS, str(tmp_path / name)], check=True)
    first = (tmp_path / "a/estimator.skops").read_bytes()
    assert first == (tmp_path / "b/estimator.skops").read_bytes()
    estimator, prep = load_sklearn_member(tmp_path / "a")
    assert estimator.predict(np.zeros((1, 2), dtype=np.float32)).shape == (1,)


def test_skops_import_leaves_torch_unimported_and_its_adapter_importable():
    code = ("import sys; from molprop.models.store import _import_skops_io; _import_skops_io(); "
            "assert 'torch' not in sys.modules, 'skops pulled in torch'; "
            "assert 'sklearn.externals.array_api_compat.torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


REFUSE_AN_SVM = """
import sys
from pathlib import Path
import numpy as np
from sklearn.svm import SVR
from molprop.models.store import _import_skops_io, load_sklearn_member
folder = Path(sys.argv[1])
model = SVR().fit(np.arange(8, dtype=float).reshape(4, 2), np.arange(4, dtype=float))
(folder / "estimator.skops").write_bytes(_import_skops_io().dumps(model))
try:
    load_sklearn_member(folder)
except ValueError as err:
    print(err)
"""


def test_a_scikit_learn_estimator_of_a_package_molprop_never_saves_is_refused(tmp_path):
    """skops is imported trusting only the estimators of the packages a baseline is built
    from (in a fresh process, as in a stage); any other scikit-learn estimator, here a
    support-vector machine, is refused."""
    done = subprocess.run([sys.executable, "-c", REFUSE_AN_SVM, str(tmp_path)], check=True,
                          capture_output=True, text=True)
    assert "untrusted types" in done.stdout and "sklearn.svm._classes.SVR" in done.stdout
