from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from molprop.errors import UserInputError
from molprop.models.matrix import Preprocessor
from molprop.nn.device import pick_device
from molprop.nn.mlp import MLP, MLPConfig
from molprop.nn.store import predict_member, save_member
from molprop.nn.training import TrainConfig, class_probabilities, fit, loss_function
from molprop.nn.training_types import hardly_trained_warning, lr_factor, output_count

CPU = torch.device("cpu")


def _regression(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    return x, (x[:, 0] * 2 - x[:, 1]).astype(np.float32)


def test_schedule_warms_up_then_decays():
    factors = [lr_factor(e, warmup=4, total=20) for e in range(20)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))
    assert factors[-1] == pytest.approx(0.05, abs=0.02)


def test_training_learns_and_keeps_the_best_epoch():
    x, y = _regression()
    config = TrainConfig(lr=3e-3, max_epochs=60, patience=60, batch_size=16, warmup_epochs=2)
    result = fit(MLP(MLPConfig(5, 1, 32, 2, 0.0)), "regression", (x[:90], y[:90]), (x[90:], y[90:]), config, CPU)
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < 0.2 * losses[0]
    assert result.best_val_loss == min(losses)
    assert result.best_epoch == int(np.argmin(losses))


@pytest.mark.parametrize("lr", [float("nan"), 1e12])
def test_a_diverging_loss_stops_training_with_the_settings_to_change(lr):
    x, y = _regression()
    config = TrainConfig(lr=lr, max_epochs=5, patience=5, batch_size=16, warmup_epochs=1, start_from_epoch=0)
    with pytest.raises(UserInputError, match=r"the training diverged: .* lower train.lr"):
        fit(MLP(MLPConfig(5, 1, 32, 2, 0.0)), "regression", (x[:90], y[:90]), (x[90:], y[90:]), config, CPU)


@pytest.mark.parametrize(("lr", "val"), [(10.0, True), (10.0, False)])
def test_a_network_blown_up_to_a_finite_loss_is_not_saved_as_trained(lr, val):
    """Bug fixed: with train.lr 10 two members ended at a validation RMSE of 3e10 without a
    NaN, were saved, and the ensemble's test RMSE was 3e10."""
    x, y = _regression()
    config = TrainConfig(lr=lr, max_epochs=5, patience=5, batch_size=16, warmup_epochs=1, start_from_epoch=0)
    with pytest.raises(UserInputError, match=r"the training diverged: the kept weights \(epoch \d\) have a training "
                                             r"loss of [0-9.e+]+, where a network that outputs 0 scores "
                                             r"[0-9.]+; lower train.lr"):
        fit(MLP(MLPConfig(5, 1, 32, 2, 0.0)), "regression", (x[:90], y[:90]),
            (x[90:], y[90:]) if val else (x[:0], y[:0]), config, CPU)


def test_a_validation_molecule_far_outside_the_training_targets_is_no_divergence():
    """Bug fixed: a fold whose validation part held a value ~500 training standard deviations
    out (a partition coefficient in raw units) was called diverged at a validation loss of 2057,
    better than the mean's."""
    x, y = _regression()
    far = y[90:].copy()
    far[0] = 500 * y[:90].std()
    config = TrainConfig(lr=3e-3, max_epochs=5, patience=5, batch_size=16, warmup_epochs=1, start_from_epoch=0)
    result = fit(MLP(MLPConfig(5, 1, 32, 2, 0.0)), "regression", (x[:90], y[:90]), (x[90:], far), config, CPU)
    assert result.best_val_loss > 1e3


def test_early_stopping_stops_after_patience_without_improvement():
    x, _ = _regression()
    noise = np.random.default_rng(1).normal(size=len(x)).astype(np.float32)  # nothing to learn
    config = TrainConfig(lr=1e-2, max_epochs=500, patience=5, batch_size=16, warmup_epochs=1)
    result = fit(MLP(MLPConfig(5, 1, 64, 2, 0.0)), "regression", (x[:90], noise[:90]), (x[90:], noise[90:]), config, CPU)
    assert len(result.history) == result.best_epoch + 5 + 1 < 500


def test_weights_before_start_from_epoch_are_never_kept():
    """On noise the validation loss is lowest early; watched from epoch 6 on, the result is
    the best of epochs 6-9 of the same run (the trajectory does not depend on the setting)."""
    x, _ = _regression()
    noise = np.random.default_rng(1).normal(size=len(x)).astype(np.float32)
    config = TrainConfig(lr=1e-2, max_epochs=10, patience=50, batch_size=16, warmup_epochs=1)

    def run(start: int):
        torch.manual_seed(0)
        return fit(MLP(MLPConfig(5, 1, 64, 2, 0.0)), "regression", (x[:90], noise[:90]), (x[90:], noise[90:]),
                   replace(config, start_from_epoch=start), CPU)

    every, late, beyond = run(0), run(6), run(99)
    losses = [h["val_loss"] for h in every.history]
    assert every.best_epoch < 6  # the case the setting is for
    assert [h["val_loss"] for h in late.history] == losses
    assert late.best_epoch == 6 + int(np.argmin(losses[6:])) and late.best_val_loss == min(losses[6:])
    assert beyond.best_epoch == 9  # past the end: the last epoch is kept
    assert not any(torch.equal(late.state_dict[k], every.state_dict[k]) for k in every.state_dict)


def test_warning_when_every_member_kept_weights_from_the_warm_up():
    warning = hardly_trained_warning([1, 2, 0, 2], warmup_epochs=2, n_val=3)
    assert warning is not None and "first 3 epoch(s)" in warning and "3 molecule(s)" in warning
    assert "[0, 1, 2]" in warning and "split.fractions.val" in warning
    assert hardly_trained_warning([1, 2, 3, 0], warmup_epochs=2, n_val=3) is None  # one member trained on
    assert hardly_trained_warning([0, 0], warmup_epochs=2, n_val=0) is None  # no validation part
    assert hardly_trained_warning([], warmup_epochs=2, n_val=5) is None
    # a warm-up or a watch that starts past the end: named, not only max_epochs
    late = hardly_trained_warning([4], warmup_epochs=10, n_val=5, start_from_epoch=10, max_epochs=5)
    assert late.startswith("train.max_epochs is 5, so training ended before its warm-up was over "
                           "(train.warmup_epochs 10: the learning rate never reached train.lr) and before the "
                           "validation loss was watched (train.start_from_epoch 10): lower them")
    assert "before the validation loss was watched (train.start_from_epoch 5): lower it below" in \
        hardly_trained_warning([4], warmup_epochs=5, n_val=5, start_from_epoch=5, max_epochs=5)  # warm-up ends at 5
    assert "raise train.max_epochs (default 40)" in hardly_trained_warning([2], 2, 5, 2, max_epochs=3)
    impatient = hardly_trained_warning([1, 2], warmup_epochs=2, n_val=50, patience=1)
    assert "train.patience is 1" in impatient and "split.fractions.val" not in impatient
    assert hardly_trained_warning([0], warmup_epochs=0, n_val=5) is not None
    # watched from epoch 3 on: lowest at once, at epoch 3, is the same sign
    assert "first 4 epoch(s)" in hardly_trained_warning([3, 3], warmup_epochs=2, n_val=5, start_from_epoch=3)
    assert hardly_trained_warning([3, 4], warmup_epochs=2, n_val=5, start_from_epoch=3) is None
    # training that ended within those epochs (max_epochs 3) says so rather than blame the data
    short = hardly_trained_warning([2, 2], warmup_epochs=2, n_val=50, start_from_epoch=2, max_epochs=3)
    assert short.startswith("train.max_epochs is 3, so training ended within the first 3 epoch(s)")
    assert "validation molecules" not in short
    no_val = hardly_trained_warning([2, 2], warmup_epochs=2, n_val=0, start_from_epoch=2, max_epochs=3)
    assert no_val == short  # a short training is short without a validation part too
    assert "never lower later" in hardly_trained_warning([2, 2], warmup_epochs=2, n_val=50, start_from_epoch=2,
                                                         max_epochs=40)


def test_same_seed_gives_identical_weights():
    x, y = _regression()
    config = TrainConfig(max_epochs=5, seed=7)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(fit(MLP(MLPConfig(5, 1, 16, 1, 0.1)), "regression", (x, y), (x[:10], y[:10]), config, CPU))
    for key in runs[0].state_dict:
        assert torch.equal(runs[0].state_dict[key], runs[1].state_dict[key])


@pytest.mark.parametrize("n_classes, n_outputs", [(2, 1), (2, 2), (3, 3)])
def test_classification_outputs_probabilities_after_save_and_load(tmp_path, n_classes, n_outputs):
    """Two classes train one output with binary cross-entropy (a network saved with one logit
    per class still predicts); three or more, one logit per class with cross-entropy."""
    x, y = _regression()
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1])).astype(np.int64)
    frame = pd.DataFrame(x, columns=[f"desc_{i}" for i in range(5)])
    prep = Preprocessor.fit(frame, list(frame.columns), scale=True)
    net = MLPConfig(5, n_outputs, 16, 1, 0.0)
    result = fit(MLP(net), "classification", (prep.transform(frame), labels), (prep.transform(frame), labels),
                 TrainConfig(lr=1e-2, batch_size=16, max_epochs=30, warmup_epochs=1), CPU)
    save_member(tmp_path, "mlp", net, result.state_dict, prep, None)
    proba = predict_member(tmp_path, frame, None, "classification", CPU)
    assert proba.shape == (120, n_classes) and np.allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == labels).mean() > 0.8


def test_two_classes_get_one_output_and_binary_cross_entropy():
    assert [output_count("classification", k) for k in (2, 3, 5)] == [1, 3, 5]
    assert output_count("regression", 0) == 1
    logits, labels = torch.tensor([[2.0], [-1.0], [0.5]]), torch.tensor([1, 0, 0])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
    assert torch.allclose(loss_function("classification")(logits, labels), expected)
    # the same probabilities as the softmax of logits (0, z)
    two = torch.cat([torch.zeros_like(logits), logits], dim=1)
    assert torch.allclose(class_probabilities(logits), torch.softmax(two, dim=1))
    many = torch.tensor([[1.0, 2.0, 0.0]])
    assert torch.allclose(class_probabilities(many), torch.softmax(many, dim=1))
    assert torch.allclose(loss_function("classification")(many, torch.tensor([1])),
                          torch.nn.functional.cross_entropy(many, torch.tensor([1])))


def test_regression_predictions_come_back_in_target_units(tmp_path):
    x, y = _regression()
    frame = pd.DataFrame(x, columns=[f"desc_{i}" for i in range(5)])
    prep = Preprocessor.fit(frame, list(frame.columns), scale=False)
    net = MLPConfig(5, 1, 8, 1, 0.0)
    model = MLP(net)
    save_member(tmp_path, "mlp", net, model.state_dict(), prep, (10.0, 2.0))
    raw = model(torch.as_tensor(x)).detach().numpy().ravel()
    assert np.allclose(predict_member(tmp_path, frame, None, "regression", CPU), raw * 2.0 + 10.0, atol=1e-5)


def test_device_choice():
    assert pick_device("cpu") == CPU
    assert pick_device("auto").type in {"cpu", "cuda", "mps"}


def test_a_device_this_machine_lacks_is_a_clear_error(monkeypatch):
    from molprop.nn import workers
    from molprop.nn.workers import device_name_problem

    assert device_name_problem("auto") is None and device_name_problem("cpu") is None
    for name in ("gpu", "cuda:x", "cpu:0", ""):
        assert device_name_problem(name).startswith("not a device name")
        with pytest.raises(ValueError, match=f"device {name!r}: not a device name"):
            pick_device(name)
    monkeypatch.setattr(workers, "only_cpu_available", lambda: True)
    assert "CPU-only build; use auto or cpu" in device_name_problem("cuda:1")
    monkeypatch.setattr(workers.sys, "platform", "linux")
    assert "macOS only" in device_name_problem("mps")
    monkeypatch.setattr(workers, "only_cpu_available", lambda: False)  # a CUDA build that sees no GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="sees no CUDA GPU here; use auto or cpu"):
        pick_device("cuda")


def _a_cuda_build_seeing(gpus: int, monkeypatch) -> None:
    from molprop.nn import workers

    monkeypatch.setattr(workers, "only_cpu_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)


def test_a_gpu_index_this_machine_lacks_is_a_clear_error(monkeypatch):
    _a_cuda_build_seeing(1, monkeypatch)
    assert pick_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match=r"device 'cuda:1': this machine has 1 CUDA GPU\(s\), cuda:0 to cuda:0"):
        pick_device("cuda:1")


def test_the_train_stage_keeps_the_gpu_index(monkeypatch):
    import runpy
    from pathlib import Path

    stages = Path(__file__).resolve().parents[1] / "stages"
    monkeypatch.syspath_prepend(str(stages))
    training_device = runpy.run_path(str(stages / "train.py"))["training_device"]
    assert training_device("cpu") == "cpu"
    _a_cuda_build_seeing(2, monkeypatch)
    assert training_device("cuda:1") == "cuda:1"  # not the first GPU
    assert training_device("cuda") == "cuda"
    with pytest.raises(ValueError, match="cuda:0 to cuda:1"):
        training_device("cuda:2")


def test_the_ensemble_curve_is_the_mean_of_the_members_that_ran_each_epoch():
    from molprop.nn.training_types import mean_history

    one = [{"epoch": 0, "train_loss": 2.0, "val_loss": 3.0}, {"epoch": 1, "train_loss": 1.0, "val_loss": 2.0}]
    two = [{"epoch": 0, "train_loss": 4.0, "val_loss": 5.0}]  # stopped early
    assert mean_history([one, two]) == [{"epoch": 0, "train_loss": 3.0, "val_loss": 4.0},
                                        {"epoch": 1, "train_loss": 1.0, "val_loss": 2.0}]


def test_batch_norm_never_gets_a_batch_of_one_molecule():
    from molprop.nn.training import batch_bounds

    assert batch_bounds(51, 50) == [(0, 50), (50, 51)]
    assert batch_bounds(51, 50, no_single=True) == [(0, 51)]
    assert batch_bounds(52, 50, no_single=True) == [(0, 50), (50, 52)]
    assert batch_bounds(1, 50, no_single=True) == [(0, 1)]

    class Normed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))

        def forward(self, x):
            return self.net(x)

    x, y = _regression(n=61)
    config = TrainConfig(lr=1e-3, max_epochs=2, patience=2, batch_size=50, warmup_epochs=1, start_from_epoch=0)
    result = fit(Normed(), "regression", (x[:51], y[:51]), (x[51:], y[51:]), config, CPU)  # 51 = 50 + 1
    assert len(result.history) == 2
    with pytest.raises(UserInputError, match="train.batch_norm .* train.batch_size >= 2"):
        fit(Normed(), "regression", (x[:51], y[:51]), (x[51:], y[51:]), replace(config, batch_size=1), CPU)


def test_the_untrained_loss_is_the_mean_square_or_log_of_the_classes():
    from molprop.nn.training import constant_loss, untrained_loss

    assert constant_loss(np.array([1.0, 3.0]), "regression") == pytest.approx(1.0)
    assert constant_loss(np.array([0, 1, 0, 1]), "classification") == pytest.approx(np.log(2))

    assert untrained_loss(np.array([1.0, -3.0]), "regression") == pytest.approx(5.0)
    assert untrained_loss(np.array([0, 1, 0, 0]), "classification") == pytest.approx(np.log(2))
    assert untrained_loss(np.array([0, 1, 2, 2]), "classification") == pytest.approx(np.log(3))


def test_a_network_worse_than_a_constant_is_warned_about_and_a_one_epoch_wide_one_is_not_refused():
    """Bugs fixed (second and third rounds): a classifier at a training cross-entropy of 634
    nats, and regressors 3-4x worse than their targets' mean, were saved without a word; the
    epoch-mean training loss of a wide network's first epoch had been called diverged though
    its weights scored 0.93 (untrained D-MPNNs start up to 70x a zero output's loss)."""
    from molprop.nn.training_types import not_learnt_warning

    x, y = _regression()
    labels = (y > np.median(y)).astype(np.int64)
    config = TrainConfig(lr=100.0, grad_clip=1e9, max_epochs=6, patience=6, batch_size=16, warmup_epochs=0,
                         start_from_epoch=0)
    result = fit(MLP(MLPConfig(5, 2, 64, 2, 0.0)), "classification", (x[:90], labels[:90]), (x[90:], labels[90:]),
                 config, CPU)
    assert result.kept_train_loss > result.constant_loss == pytest.approx(np.log(2), abs=0.01)
    assert not_learnt_warning("member_1", result).startswith(
        "member_1 fits its training molecules no better than a constant prediction of their mean or class shares")
    assert not_learnt_warning("member_1", result, 6).endswith("give it more epochs (train.max_epochs), another "
                                                              "train.lr, or less train.weight_decay")
    # early stopping ended it: more epochs (the advice before) would change nothing
    stopped = not_learnt_warning("member_1", result, 40)
    assert f"early stopping ended it after 6 of 40 epochs and kept its weights of epoch {result.best_epoch}" in stopped
    assert "train.max_epochs" not in stopped and "split.method: stratified" in stopped
    scaled = (y - y.mean()) / y.std()
    wide = TrainConfig(lr=1e-3, max_epochs=1, patience=1, batch_size=16, warmup_epochs=0, start_from_epoch=0)
    result = fit(MLP(MLPConfig(5, 1, 2048, 3, 0.0)), "regression", (x[:90], scaled[:90]), (x[90:], scaled[90:]),
                 wide, CPU)
    assert not_learnt_warning("member_0", result) is None and result.kept_train_loss < result.constant_loss
