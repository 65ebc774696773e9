"""Ensemble members: naming, parallel training equal to serial, calibration of the spread."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem

from molprop.errors import UserInputError
from molprop.features.graph import featurize_graph
from molprop.models.calibration import ensemble_validation, spread_calibration
from molprop.models.partitions import Partition
from molprop.models.predictor import calibrated_sigma, predict_saved
from molprop.models.store import ModelCard, save_card
from molprop.nn.members import (MemberData, MemberRun, ensemble_members, predict_rows, train_member,
                                train_members, worker_count)
from molprop.nn.training import TrainConfig

SMILES = ["CCO", "CCCO", "CCCCO", "c1ccccc1O", "CC(=O)O", "CCN", "CCCN", "c1ccccc1N", "ClCCl",
          "CC(C)O", "OCCO", "CC#N", "CCOC", "c1ccncc1", "CCS", "CCCl"]  # fmt: skip
NETWORK = {"hidden_size": 16, "depth": 2, "dropout": 0.1, "ffn_hidden_size": 8, "n_layers": 2,
           "readout": "mean", "batch_norm": False}  # fmt: skip
OPTIONS = TrainConfig(lr=3e-3, batch_size=4, max_epochs=4, warmup_epochs=1, patience=10)


def _data() -> MemberData:
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"desc_a": rng.normal(size=len(SMILES)), "desc_b": rng.normal(size=len(SMILES))})
    graphs = [featurize_graph(Chem.MolFromSmiles(s)) for s in SMILES]
    return MemberData(features, ["desc_a", "desc_b"], graphs, rng.normal(size=len(SMILES)), "regression", 1)


def _partition() -> Partition:
    return Partition("member_0", np.arange(10), np.arange(10, 13), np.arange(13, 16))


def test_member_names_and_seeds():
    plain = ensemble_members([_partition()], 3, seed=7)
    assert [(m.name, m.seed) for m in plain] == [("member_0", 7), ("member_1", 8), ("member_2", 9)]
    folds = [Partition(f"fold_{k}", np.arange(3), np.arange(3, 5), np.arange(0)) for k in range(2)]
    assert [m.name for m in ensemble_members(folds, 1, 0)] == ["fold_0", "fold_1"]
    assert [m.name for m in ensemble_members(folds, 2, 0)] == [
        "fold_0_member_0", "fold_0_member_1", "fold_1_member_0", "fold_1_member_1"]
    with pytest.raises(ValueError, match="ensemble_size"):
        ensemble_members(folds, 0, 0)


def _rounds_time(n_members: int, workers: int, cores: int) -> float:
    """Wall time, in one member's training time, of equal members in rounds of ``workers``
    processes sharing ``cores`` cores."""
    rounds = [workers] * (n_members // workers) + ([n_members % workers] if n_members % workers else [])
    return sum(max(size, cores) / cores for size in rounds)


def test_worker_count_obeys_n_jobs_and_leaves_no_core_idle_while_members_are_left():
    assert worker_count(4, 3, 2) == 3 and worker_count(2, 8, 4) == 2 and worker_count(5, 1, 2) == 1
    assert [worker_count(n, -1, 2) for n in range(1, 8)] == [1, 2, 3, 2, 3, 2, 4]
    with pytest.raises(UserInputError, match="train.n_jobs must be -1"):
        worker_count(4, 0, 2)
    for cores in (1, 2, 3, 4, 8):
        for n in range(1, 40):
            workers = worker_count(n, -1, cores)
            assert 1 <= workers <= max(cores, min(n, 2 * cores))
            plain = _rounds_time(n, min(n, cores), cores)  # rounds of one member per core
            assert _rounds_time(n, workers, cores) <= plain
            if n <= 2 * cores:  # as fast as the cores allow: n / cores member times, or one
                assert _rounds_time(n, workers, cores) == max(n, cores) / cores


def _train(tmp_path, n_jobs: int):
    out = tmp_path / f"jobs{n_jobs}"
    members = ensemble_members([_partition()], 2, seed=0)
    run = MemberRun(_data(), "dmpnn", NETWORK, "quantile", OPTIONS, "cpu", out, tmp_path / f"ckpt{n_jobs}")
    with train_members(run, members, n_jobs) as trained:
        results = list(trained)
    save_card(out, ModelCard("torch", "regression", ["descriptors"], [m.name for m in members]))
    return out, results


def test_parallel_members_equal_serial_members(tmp_path):
    serial, serial_results = _train(tmp_path, 1)
    parallel, parallel_results = _train(tmp_path, 2)
    for name in ("member_0", "member_1"):
        assert (serial / name / "weights.pt").read_bytes() == (parallel / name / "weights.pt").read_bytes()
    assert [r.history for _, r in serial_results] == [r.history for _, r in parallel_results]
    # each result carries the saved member's validation predictions (rows 10-12), not its weights
    for (member, s), (_, p) in zip(serial_results, parallel_results):
        assert s.state_dict == {} and np.array_equal(s.val_predictions, p.val_predictions)
        assert np.array_equal(s.val_predictions, predict_rows(serial, member, _data(), np.arange(10, 13),
                                                              torch.device("cpu")))
    data = _data()
    pred = predict_saved(serial, data.features.iloc[13:], "cpu", data.graphs[13:])
    assert pred.members.shape == (2, 3) and (pred.spread > 0).all()  # seeds differ, members differ


@pytest.mark.parametrize(("interval_s", "written_after"), [(0.0, [1, 2, 3, 4]), (3600.0, [1, 1, 1, 4])])
def test_a_member_is_checkpointed_after_every_epoch_or_at_the_interval(tmp_path, interval_s, written_after):
    """train.checkpoint_interval_s reaches the member's checkpoint: 0 writes after every epoch;
    a long interval writes after the first and the last epoch only."""
    member = ensemble_members([_partition()], 1, seed=0)[0]
    seen = []

    def on_epoch(record):
        seen.append(torch.load(tmp_path / "ckpt" / "member_0.pt", weights_only=True)["epoch"])

    train_member(member, _data(), "dmpnn", NETWORK, "quantile", OPTIONS, torch.device("cpu"), tmp_path / "out",
                 tmp_path / "ckpt", on_epoch, checkpoint_interval_s=interval_s)  # fmt: skip
    assert seen == written_after


def test_a_finished_checkpoint_is_reused_by_the_same_code_only(tmp_path, monkeypatch, capsys):
    """Re-running a finished member returns its checkpointed result; after a change to the
    code (its digest), the member trains afresh instead of returning the old code's weights."""
    import molprop.nn.checkpoint as checkpoint_module

    member = ensemble_members([_partition()], 1, seed=0)[0]

    def run() -> list[int]:
        epochs: list[int] = []
        train_member(member, _data(), "dmpnn", NETWORK, "quantile", OPTIONS, torch.device("cpu"), tmp_path / "out",
                     tmp_path / "ckpt", lambda record: epochs.append(record["epoch"]))  # fmt: skip
        return epochs

    run()
    capsys.readouterr()
    assert run() == [0, 1, 2, 3]  # the recorded epochs, replayed
    # a member that had finished is not "resumed" (nor after "epoch 4", 0-based as 3)
    assert "member_0: trained by an earlier run (4 epochs); its weights come" in capsys.readouterr().out
    monkeypatch.setattr(checkpoint_module, "code_digest", lambda: "edited code")
    assert run() == [0, 1, 2, 3]
    assert "resumed" not in capsys.readouterr().out


def test_the_run_passes_its_checkpoint_interval_to_every_member(tmp_path, monkeypatch):
    import molprop.nn.checkpoint as checkpoint_module

    intervals = []

    class Recording(checkpoint_module.Checkpoint):
        def __init__(self, path, key, min_interval_s=0.0, on_restore=None):
            intervals.append(min_interval_s)
            super().__init__(path, key, min_interval_s, on_restore)

    monkeypatch.setattr(checkpoint_module, "Checkpoint", Recording)  # members.py imports it when training
    members = ensemble_members([_partition()], 2, seed=0)
    run = MemberRun(_data(), "dmpnn", NETWORK, "quantile", OPTIONS, "cpu", tmp_path / "out", tmp_path / "ckpt", 7.5)
    with train_members(run, members, 1) as trained:  # one job: the members train in this process
        list(trained)
    assert intervals == [7.5, 7.5]


def test_spread_calibration_recovers_scale_and_floor():
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.0, 2.0, size=20000)
    sigma = np.sqrt((3.0 * spread) ** 2 + 0.5**2)  # errors three times the spread, at least 0.5
    scale, floor = spread_calibration(rng.normal(0.0, sigma), np.zeros_like(spread), spread)
    assert scale == pytest.approx(3.0, rel=0.03) and floor == pytest.approx(0.5, rel=0.1)
    y = rng.normal(0.0, 3.0 * spread)  # no floor in the data: (next to) none fitted
    scale, floor = spread_calibration(y, np.zeros_like(y), spread)
    assert scale == pytest.approx(3.0, rel=0.03) and floor < 0.01
    # in any units: targets around 1e-9 had been left uncalibrated (an absolute spread threshold)
    tiny_scale, tiny_floor = spread_calibration(y * 1e-9, np.zeros_like(y), spread * 1e-9)
    assert tiny_scale == pytest.approx(scale, rel=1e-6) and tiny_floor == pytest.approx(floor * 1e-9, rel=1e-6)


def test_a_member_pair_agreeing_by_chance_does_not_set_the_scale():
    """Two members whose predictions agree on one molecule (spread 1e-4, error 1.4): the
    scale-only fit was decided by it (as 397 was in a k-fold run); the floor absorbs it."""
    rng = np.random.default_rng(1)
    spread = rng.uniform(0.2, 0.6, size=200)
    y = rng.normal(0.0, 4.0 * spread)
    spread[0], y[0] = 1e-4, 1.4
    scale, floor = spread_calibration(y, np.zeros_like(y), spread)
    assert 3.0 < scale < 4.5 and floor < 1.0  # without that molecule: 3.6 and 0
    assert np.sqrt(np.mean((y / spread) ** 2)) > 50  # what the scale alone would have been


def test_spread_calibration_needs_a_spread():
    assert spread_calibration(np.ones(5), np.zeros(5), np.zeros(5)) is None
    assert spread_calibration(np.ones(1), np.zeros(1), np.ones(1)) is None
    assert np.allclose(calibrated_sigma(np.array([0.0, 1.0]), 2.0, 0.5), [0.5, np.sqrt(4.25)])
    assert np.allclose(calibrated_sigma(np.array([0.0, 1.0]), 2.0, None), [0.0, 2.0])  # calibrated before floors
    assert np.allclose(calibrated_sigma(np.array([0.0, 1.0]), None, None), [0.0, 1.0])


def test_ensemble_validation_scores_the_mean_and_fits_the_spread_scale():
    y = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    rows = {"main": np.array([0, 1, 2, 3])}
    members = [np.array([0.5, 1.0, 2.5, 2.0]), np.array([1.5, 2.0, 1.5, 3.0])]  # mean y + (1, 0.5, 0, -0.5)
    out = ensemble_validation(rows, {"main": members}, y, "regression")
    mean, spread = np.mean(members, axis=0), np.std(members, axis=0)
    assert out["val_rmse"] == pytest.approx(np.sqrt(np.mean((mean - y[:4]) ** 2)))
    assert (out["uncertainty_scale"], out["uncertainty_floor"]) == spread_calibration(y[:4], mean, spread)
    # k-fold: keys per partition; one member per partition has no spread to scale
    folds = ensemble_validation({"fold_0": np.array([0, 1]), "fold_1": np.array([2, 3])},
                                {"fold_0": [np.array([0.0, 1.0])], "fold_1": [np.array([2.0, 4.0])]}, y,
                                "regression")
    assert folds["fold_0_val_rmse"] == 0.0 and folds["fold_1_val_rmse"] == pytest.approx(np.sqrt(0.5))
    # and pooled out of fold, under a single split's keys (dvc exp show / metrics diff line them up)
    assert folds["val_rmse"] == pytest.approx(np.sqrt(1.0 / 4))  # errors 0, 0, 0, 1
    assert folds["uncertainty_scale"] is None and folds["uncertainty_floor"] is None


def test_planning_members_does_not_import_torch():
    """The train stage plans members and reads their results without torch (~1 s) when they
    train in workers: the modules it uses for that do not import it."""
    code = ("import sys; import molprop.nn.members, molprop.nn.training_types, molprop.nn.workers; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("platform", "version", "expected"), [
    ("linux", "2.13.0+cpu", True), ("linux", "2.13.0", False), ("linux", "2.13.0+cu126", False),
    ("darwin", "2.13.0+cpu", False), ("linux", None, False)])
def test_only_cpu_available_from_the_torch_build(monkeypatch, platform, version, expected):
    import importlib.metadata

    import molprop.nn.workers as workers

    def fake_version(name):
        if version is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return version

    monkeypatch.setattr(workers.sys, "platform", platform)
    monkeypatch.setattr(workers.importlib.metadata, "version", fake_version)
    assert workers.only_cpu_available() is expected


def test_an_mlp_without_feature_groups_is_a_setting_to_fix(tmp_path):
    from test_interpretation_stage import _project

    from molprop.nn.members import read_training_tables

    _project(tmp_path, "regression")
    with pytest.raises(UserInputError, match=r"train.model: mlp reads nothing but the feature groups"):
        read_training_tables(tmp_path / "data", "regression", "mlp", [])
    assert read_training_tables(tmp_path / "data", "regression", "dmpnn", []).data.columns == []


def test_a_worker_that_died_is_reported_in_one_line_with_what_to_do():
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from molprop.nn.members import _results

    died = Future()
    died.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
    with pytest.raises(UserInputError, match=r"worker process died .* resume from checkpoints/train"):
        list(_results(["member_0"], [died]))


def test_a_calibration_that_ignores_the_spread_is_warned_about():
    from molprop.models.calibration import flat_uncertainty_warning

    rng = np.random.default_rng(0)
    members = [rng.normal(size=50) * 0.1 for _ in range(4)]  # spread ~0.1
    assert flat_uncertainty_warning({"all": members}, scale=7.0, floor=0.8) is None  # 0.7 of 0.8
    warning = flat_uncertainty_warning({"all": members}, scale=0.003, floor=0.6)
    assert warning.startswith("the calibrated uncertainty is about the same for every molecule (+-0.6 at no "
                              "spread, +-0.6 at the members' median spread)")
    assert flat_uncertainty_warning({"all": members}, scale=None, floor=None) is None


def test_settings_that_cannot_train_are_refused_before_a_run_is_opened(monkeypatch, tmp_path):
    """check_settings runs before the MLflow run opens (a graph-less dmpnn had left a FAILED run
    and printed MLflow's database set-up before its one-line message)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    from train import check_settings

    plain = {"feature_scaling": "quantile", "features": [], "model": "dmpnn", "n_layers": 2}
    with pytest.raises(UserInputError, match="train.feature_scaling none leaves the RDKit descriptors"):
        check_settings(plain | {"feature_scaling": "none", "features": ["descriptors"]}, tmp_path / "none.parquet")
    with pytest.raises(UserInputError, match="train.n_layers is 0: a dmpnn's head counts its output layer"):
        check_settings(plain | {"n_layers": 0}, tmp_path / "none.parquet")
    from molprop.features.graph_store import METADATA_KEY

    graphs = tmp_path / "graphs.parquet"  # as featurize writes it with featurize.graph: false
    pq.write_table(pa.table({"mol_id": pa.array([], pa.string())}).replace_schema_metadata(
        {METADATA_KEY: json.dumps({"enabled": False})}), graphs)
    none = tmp_path / "none.parquet"
    with pytest.raises(UserInputError, match=r"holds no graphs: set featurize.graph: true .*\(or train.model: mlp\)"):
        check_settings(plain, graphs, none)
    check_settings(plain | {"model": "mlp", "features": ["morgan"]}, graphs, none)  # an MLP needs no graphs
    # feature groups against the featurized columns (a FAILED MLflow run was left before)
    features = tmp_path / "features.parquet"
    pq.write_table(pa.table({"mol_id": pa.array([], pa.string()), "fp_0": pa.array([], pa.float32())}), features)
    check_settings(plain | {"model": "mlp", "features": ["morgan"]}, graphs, features)
    with pytest.raises(UserInputError, match=r"train.model: mlp reads nothing but the feature groups"):
        check_settings(plain | {"model": "mlp"}, graphs, features)
    with pytest.raises(UserInputError, match=r"\['descriptors'\] are listed in train.features but "
                                             r"data/features.parquet has no columns of them"):
        check_settings(plain | {"features": ["morgan", "descriptors"]}, tmp_path / "none.parquet", features)


def test_what_the_train_stage_imports_to_coordinate_the_members_does_not_import_torch():
    """On the CPU torch is imported by the workers only; in the stage's own process it cost
    ~0.6 s of the FreeSolv run (an import of nn.checkpoint in train_ensemble did that). The
    imports of stages/train.py at module level and in train_ensemble, run in a fresh process."""
    import ast

    script = Path(__file__).resolve().parents[1] / "stages" / "train.py"
    tree = ast.parse(script.read_text())
    ensemble = next(node for node in tree.body if getattr(node, "name", "") == "train_ensemble")
    imports = [node for node in [*tree.body, *ensemble.body] if isinstance(node, (ast.Import, ast.ImportFrom))
               and getattr(node, "module", None) != "__future__"]
    code = (f"import sys; sys.path.insert(0, {str(script.parent)!r})\n"
            + "\n".join(ast.unparse(node) for node in imports) + "\nprint('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_scratch_of_a_killed_stage_is_removed_by_the_next(tmp_path, monkeypatch):
    """Bug fixed: a train stage killed by SIGKILL or SIGTERM left its pickled copy of the
    training data in /tmp for good; the next stage removes the folders whose owner is gone
    (their lock is free), and nothing else."""
    from molprop.nn.members import LOCK_FILE, RUN_FILE, SCRATCH_PREFIX, _held_lock, remove_orphaned_scratch

    def folder(name: str, *files: str) -> Path:
        path = tmp_path / f"{SCRATCH_PREFIX}{name}"
        path.mkdir()
        for file in files:
            (path / file).write_bytes(b"data")
        return path

    orphan = folder("gone", RUN_FILE, LOCK_FILE)  # its lock died with its process
    live = folder("live", RUN_FILE)
    users = folder("2024-results", "notes.txt")  # a user's folder that happens to share the prefix
    mixed = folder("mixed", RUN_FILE, LOCK_FILE, "notes.txt")
    link = tmp_path / f"{SCRATCH_PREFIX}link"
    link.symlink_to(orphan)
    with _held_lock(live):
        assert remove_orphaned_scratch(tmp_path) == [orphan]
        assert live.exists() and users.exists() and mixed.exists() and link.is_symlink()
    assert remove_orphaned_scratch(tmp_path) == [live]  # the run has ended
    assert mixed.exists() and users.exists()
    # a serial run removes them too (it was left to a later parallel run: n_jobs 1, a GPU or
    # one core never did)
    import tempfile
    from types import SimpleNamespace

    import molprop.nn.members as members_module

    orphan = folder("gone-again", RUN_FILE, LOCK_FILE)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(members_module, "_train_serially", lambda run, members: iter(()))
    with members_module.train_members(SimpleNamespace(device="cpu"), ["member_0"], 1) as trained:
        assert list(trained) == []
    assert not orphan.exists()


def test_a_worker_starting_after_its_stage_stopped_ends_without_a_traceback(tmp_path):
    """Bug fixed: a stage stopped (Ctrl-C, SIGTERM) while its workers started removed its
    scratch folder, and each worker still starting printed "Exception in initializer" and a
    FileNotFoundError traceback beside the stage's one-line message."""
    code = ("import os\nfrom molprop.nn.members import _init_worker\n"
            f"_init_worker({str(tmp_path / 'gone' / 'run.pickle')!r}, os.getpid())\nprint('went on')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")


def _data_with_outlying_test_rows():
    from rdkit import Chem
    from molprop.features.graph import featurize_graph
    from molprop.nn.members import MemberData
    smiles = ["CCO", "CCCO", "CCCCO", "c1ccccc1O", "CC(=O)O", "CCN", "CCCN", "c1ccccc1N", "ClCCl",
              "CC(C)O", "OCCO", "CC#N", "CCOC", "c1ccncc1", "CCS", "CCCl"]
    rng = np.random.default_rng(0)
    a, y = rng.normal(size=16), rng.normal(size=16)
    a[13:] = y[13:] = 1e3  # the test rows: a huge descriptor and target
    features = pd.DataFrame({"desc_a": a, "desc_b": rng.normal(size=16)})
    graphs = [featurize_graph(Chem.MolFromSmiles(s)) for s in smiles]
    return MemberData(features, ["desc_a", "desc_b"], graphs, y, "regression", 1), a, y


@pytest.mark.parametrize("scaling", ["standard", "quantile"])
def test_a_member_s_feature_and_target_scaling_is_fitted_on_its_training_rows_only(tmp_path, scaling):
    import torch
    from molprop.models.partitions import Partition
    from molprop.nn.members import ensemble_members, train_member
    from molprop.nn.training_types import TrainConfig
    data, a, y = _data_with_outlying_test_rows()
    part = Partition("member_0", np.arange(10), np.arange(10, 13), np.arange(13, 16))
    member = ensemble_members([part], 1, seed=0)[0]
    net = {"hidden_size": 8, "depth": 2, "dropout": 0.0, "ffn_hidden_size": 8, "n_layers": 2,
           "readout": "mean", "batch_norm": False}
    train_member(member, data, "dmpnn", net, scaling, TrainConfig(lr=3e-3, batch_size=4, max_epochs=1,
                 warmup_epochs=0, patience=10), torch.device("cpu"), tmp_path, None)
    prep = json.loads((tmp_path / "member_0" / "preprocess.json").read_text())
    scale = json.loads((tmp_path / "member_0" / "network.json").read_text())["target_scale"]
    assert scale == pytest.approx([y[:10].mean(), y[:10].std()])
    assert prep["medians"][0] == pytest.approx(np.median(a[:10]))
    if scaling == "standard":
        assert prep["highs"][0] == pytest.approx(a[:10].max())
    else:
        assert prep["quantiles"][0][-1] == pytest.approx(a[:10].max())


def test_spread_calibration_finds_a_scale_far_from_rms_over_median_spread():
    from molprop.models.calibration import spread_calibration

    rng = np.random.default_rng(0)
    spread = np.where(np.arange(400) % 10 == 0, 100.0, 1.0)  # a few huge spreads dominate the RMS
    residual = spread * rng.standard_normal(400)  # true scale 1, floor 0; rms / median spread ~ 30
    scale, floor = spread_calibration(residual, np.zeros(400), spread)
    assert 0.7 < scale < 1.4
    assert floor < 1.0
