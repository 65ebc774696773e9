"""molprop predict end to end on small real models: training-time standardization and
featurization, every row accounted for, resumption, the CLI and `molprop info`."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from predict_models import BAD_SMILES, REPO, build_models, library_csv

import molprop.predict.runner as runner
from molprop.models.predictor import predict_saved
from molprop.predict import PredictOptions, predict_file
from molprop.predict.model import HeldModel


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def library(models):
    return library_csv(models, models.root / "library.csv")


def _expected(models, model_dir, graphs=False):
    pred = predict_saved(model_dir, models.features, "cpu", models.graphs if graphs else None)
    return pred, models.validated["row"].to_numpy()


@pytest.mark.parametrize("which", ["baseline", "network"])
def test_predictions_equal_those_on_the_training_time_features(models, library, tmp_path, which):
    model_dir = getattr(models, which)
    options = PredictOptions(id_column="name", chunk_size=64, batch_size=20)
    summary = predict_file(model_dir, library, tmp_path / "out.parquet", options, n_jobs=2,
                           device="cpu", progress=False)
    out = pd.read_parquet(tmp_path / "out.parquet")
    n_in = len(models.raw) + len(BAD_SMILES)
    assert summary["rows"] == len(out) == n_in  # every input row has an output row
    assert out["row"].tolist() == list(range(n_in))
    assert out["id"].tolist() == [*models.raw["name"], *[f"bad{i}" for i in range(len(BAD_SMILES))]]
    pred, rows = _expected(models, model_dir, graphs=which == "network")
    got = out.set_index("row").loc[rows]
    assert got["smiles"].tolist() == models.validated["smiles"].tolist()
    assert np.allclose(got["prediction"], pred.mean, rtol=1e-5, atol=1e-5)
    assert np.allclose(got["uncertainty"], pred.uncertainty, atol=1e-6)
    if which == "baseline":  # two members with an uncertainty scale of 1.5
        assert np.allclose(got["uncertainty"], 1.5 * pred.members.std(axis=0)) and got["uncertainty"].max() > 0
    else:
        assert (got["uncertainty"] == 0).all()  # one member: no spread


@pytest.mark.parametrize("which", ["baseline", "classifier", "network"])
def test_held_model_predicts_as_predict_saved(models, which):
    model_dir = getattr(models, which)
    graphs = models.graphs if which == "network" else None
    held = HeldModel(model_dir, "cpu").predict(models.features, graphs)
    saved = predict_saved(model_dir, models.features, "cpu", graphs)
    assert held.names == saved.names and held.uncertainty_scale == saved.uncertainty_scale
    assert np.array_equal(held.members, saved.members)


def test_a_held_network_predicts_on_one_torch_thread_as_evaluate_does(models, monkeypatch):
    # --n-jobs 1 predicted in the main process on every torch thread: the last bits of some
    # predictions differed from evaluate's (one thread) and between machines
    import torch

    import molprop.predict.model as held_module

    seen, real = [], held_module.predict_loaded
    monkeypatch.setattr(held_module, "predict_loaded", lambda *a: seen.append(torch.get_num_threads()) or real(*a))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        HeldModel(models.network, "cpu").predict(models.features, models.graphs)
        assert seen and set(seen) == {1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_invalid_rows_get_a_reason_and_domain_scores_are_consistent(models, library, tmp_path):
    predict_file(models.baseline, library, tmp_path / "out.csv", PredictOptions(id_column="name"),
                 n_jobs=1, progress=False)
    out = pd.read_csv(tmp_path / "out.csv")
    bad = out[out["id"].str.startswith("bad")].set_index("id")
    assert (bad["status"] == "invalid").all() and bad["prediction"].isna().all()
    assert bad["in_domain"].isna().all() and bad["smiles"].isna().all()
    assert bad["reason"].tolist() == ["unparsable_smiles", "missing_smiles", "valence_error",
                                      "inorganic_salt", "reaction_smiles", "trailing_text", "metal"]
    assert bad["message"].str.len().min() > 10
    # the metal's message names validate.rules.reject_metals: in predict that means retraining
    assert "reject_metals: false" in bad.loc["bad6", "message"] and "re-run the pipeline" in bad.loc["bad6", "message"]
    assert "re-run the pipeline" not in bad.loc["bad0", "message"]
    ok = out[out["status"] == "ok"]
    assert len(ok) == len(models.raw) and ok["prediction"].notna().all()
    train = set(models.validated["smiles"].iloc[: int(0.8 * len(models.validated))])
    assert (ok[ok["smiles"].isin(train)]["ad_similarity"] == 1.0).all()
    assert (ok["in_domain"] == (ok["ad_similarity"] >= 0.3)).all()


def test_classifier_outputs_labels_and_probabilities(models, library, tmp_path):
    predict_file(models.classifier, library, tmp_path / "c.parquet", progress=False, n_jobs=1)
    out = pd.read_parquet(tmp_path / "c.parquet")
    ok = out[out["status"] == "ok"]
    assert set(ok["prediction"]) <= {"low", "high"}
    assert np.allclose(ok["p_low"] + ok["p_high"], 1.0)
    assert (ok["prediction"] == np.where(ok["p_high"] > ok["p_low"], "high", "low")).all()
    assert out.loc[out["status"] != "ok", "prediction"].isna().all()


def test_a_k_fold_classifier_s_uncertainty_is_the_spread_over_every_fold_s_members(models, library, tmp_path):
    """The folds' disagreement is uncertainty too: not the within-fold spread (what a k-fold
    regression model's calibration is fitted on), as docs/predict.md says."""
    import shutil
    from dataclasses import replace

    from predict_models import _forest

    from molprop.models.store import load_card, load_sklearn_member, save_card, save_sklearn_member

    kfold = tmp_path / "kfold"
    shutil.copytree(models.classifier, kfold, ignore=shutil.ignore_patterns("member_0"))
    _, prep = load_sklearn_member(models.classifier / "member_0")
    x, y = prep.transform(models.features), models.validated["y"].to_numpy()
    labels, names = (y > np.median(y)).astype(int), []
    for fold in range(2):
        rows = np.flatnonzero(np.arange(len(y)) % 3 != fold)  # the folds see other molecules
        for member in range(2):
            names.append(f"fold_{fold}_member_{member}")
            save_sklearn_member(kfold / names[-1], _forest(x[rows], labels[rows], "classification", 10,
                                                           seed=2 * fold + member), prep)
    save_card(kfold, replace(load_card(models.classifier), members=names))
    predict_file(kfold, library, tmp_path / "k.parquet", PredictOptions(id_column="name"), n_jobs=1,
                 progress=False)
    pred, rows = _expected(models, kfold)
    got = pd.read_parquet(tmp_path / "k.parquet").set_index("row").loc[rows]
    best = pred.mean.argmax(axis=1)
    expected = pred.members.std(axis=0)[np.arange(len(best)), best]
    assert np.allclose(got["uncertainty"], expected) and not np.allclose(expected, pred.spread[np.arange(len(best)), best])


def test_an_interrupted_run_resumes_where_it_stopped(models, library, tmp_path, monkeypatch):
    options = PredictOptions(id_column="name", chunk_size=40)
    reference = tmp_path / "reference.parquet"
    predict_file(models.baseline, library, reference, options, n_jobs=1, progress=False)
    calls = []
    real = runner.process

    def counting(task):
        calls.append(len(task[1]))
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user stops the run during the third chunk
        return real(task)

    monkeypatch.setattr(runner, "process", counting)
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        predict_file(models.baseline, library, out, options, n_jobs=1, progress=False)
    manifest = json.loads((tmp_path / "out.parquet.parts" / "_manifest.json").read_text())
    assert sorted(manifest["parts"], key=int) == ["0", "1"] and not out.exists()
    calls.clear()
    monkeypatch.setattr(runner, "process", lambda task: calls.append(1) or real(task))
    summary = predict_file(models.baseline, library, out, options, n_jobs=1, progress=False)
    n_chunks = -(-(len(models.raw) + len(BAD_SMILES)) // 40)
    assert len(calls) == n_chunks - 2  # only the chunks not written before
    assert pd.read_parquet(out).equals(pd.read_parquet(reference))
    assert summary["rows"] == len(models.raw) + len(BAD_SMILES)
    predict_file(models.baseline, library, tmp_path / "dir", options, progress=False, n_jobs=1)
    with pytest.raises(ValueError, match="holds a finished run with other settings"):  # another threshold
        predict_file(models.baseline, library, tmp_path / "dir",
                     PredictOptions(id_column="name", chunk_size=40, ad_threshold=0.5), progress=False)
    with pytest.raises(ValueError, match="other settings .batch_size 500 -> 7.;"):  # float32 follows the batch
        predict_file(models.baseline, library, tmp_path / "dir",
                     PredictOptions(id_column="name", chunk_size=40, batch_size=7), progress=False)



def test_sigterm_ends_predict_with_a_message_to_resume(monkeypatch, capsys):
    """A batch scheduler's time limit or `kill` (SIGTERM) ended predict with no word; it now
    ends as Ctrl-C does (the parts written so far are kept for the same command to resume)."""
    import signal
    import time

    from molprop import cli

    def killed(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # the handler raises before this ends

    monkeypatch.setattr(cli, "_predict", killed)
    before = signal.getsignal(signal.SIGTERM)
    try:
        code = cli.main(["predict", "--model", "m", "--input", "i.csv", "--output", "o.csv"])
    finally:
        signal.signal(signal.SIGTERM, before)
    assert code == 143
    assert capsys.readouterr().err == "molprop predict: terminated; run the same command again to resume.\n"


def test_a_network_run_resumes_only_on_the_device_it_was_asked_for(models, library, tmp_path):
    """A GPU's float32 sums differ from the CPU's in the last digits, as another batch size's do;
    a forest's predictions do not depend on --device."""
    options = PredictOptions(id_column="name", chunk_size=200)
    predict_file(models.network, library, tmp_path / "network", options, n_jobs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="other settings .device 'cpu' -> 'auto'.;"):
        predict_file(models.network, library, tmp_path / "network", options, n_jobs=1, device="auto",
                     progress=False)
    predict_file(models.baseline, library, tmp_path / "forest", options, n_jobs=1, device="cpu", progress=False)
    summary = predict_file(models.baseline, library, tmp_path / "forest", options, n_jobs=1, device="auto",
                           progress=False)
    assert summary["rows"] == len(models.raw) + len(BAD_SMILES)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_run_killed_while_merging_merges_again(models, library, tmp_path, monkeypatch, suffix):
    """Bug fixed: the manifest said complete before the merge, so every later run reported
    success and wrote no output file."""
    from molprop.predict import parts

    options = PredictOptions(id_column="name", chunk_size=40)
    reference = tmp_path / f"reference{suffix}"
    predict_file(models.baseline, library, reference, options, n_jobs=1, progress=False)
    out = tmp_path / f"out{suffix}"

    real_replace = os.replace

    def killed(source, target):
        if Path(target) == out:  # the merge's last step
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(parts.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        predict_file(models.baseline, library, out, options, n_jobs=1, progress=False)
    assert not out.exists()
    monkeypatch.undo()
    calls = []
    monkeypatch.setattr(runner, "process", lambda task: calls.append(1))
    summary = predict_file(models.baseline, library, out, options, n_jobs=1, progress=False)
    assert calls == [] and out.read_bytes() == reference.read_bytes()
    assert summary["rows"] == len(models.raw) + len(BAD_SMILES)
    assert not (tmp_path / f"out{suffix}.parts").exists() and not (tmp_path / f"out{suffix}.tmp").exists()


def test_a_run_killed_while_deleting_its_parts_blocks_nothing(models, library, tmp_path, monkeypatch):
    """A kill after the merge, while the part folder was deleted, had left a folder without
    its manifest, which even --overwrite refused to remove."""
    from molprop.predict import parts

    out, real_rmtree = tmp_path / "out.parquet", shutil.rmtree

    def killed(path, *args, **kwargs):
        if str(path).endswith(".done") and Path(path).exists():
            (Path(path) / "_manifest.json").unlink()  # deleted first, in the worst order
            raise KeyboardInterrupt
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(parts.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        predict_file(models.baseline, library, out, PredictOptions(), n_jobs=1, progress=False)
    monkeypatch.undo()
    assert out.is_file() and not (tmp_path / "out.parquet.parts").exists()
    with pytest.raises(FileExistsError, match="exists; pass --overwrite"):  # the run had finished
        predict_file(models.baseline, library, out, PredictOptions(), n_jobs=1, progress=False)
    predict_file(models.baseline, library, out, PredictOptions(), n_jobs=1, progress=False, overwrite=True)
    assert not (tmp_path / "out.parquet.parts.done").exists()


def test_directory_output_keeps_parts_and_a_finished_run_is_not_redone(models, library, tmp_path):
    out = tmp_path / "parts"
    predict_file(models.baseline, library, out, PredictOptions(chunk_size=50), n_jobs=1, progress=False)
    files = sorted(p.name for p in out.iterdir())
    assert files[0] == "_manifest.json" and len(files) == 1 + -(-(len(models.raw) + len(BAD_SMILES)) // 50)
    assert json.loads((out / "_manifest.json").read_text())["complete"] is True
    again = predict_file(models.baseline, library, out, PredictOptions(chunk_size=50), progress=False)
    assert again["rows"] == len(models.raw) + len(BAD_SMILES)
    assert pd.read_parquet(out)["row"].tolist() == list(range(again["rows"]))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "molprop.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO)


def test_cli_predict_info_and_errors(models, library, tmp_path):
    smi = tmp_path / "lib.smi"
    smi.write_text("CCO ethanol\nc1ccccc1 benzene\nC1CC broken\n")
    run = _cli("predict", "--model", models.network, "--input", smi, "--output", tmp_path / "o.csv",
               "--no-progress", "--n-jobs", "1", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert "3 molecules" in run.stdout and "1 invalid" in run.stdout
    assert "ids are the names after the SMILES" in run.stdout
    out = pd.read_csv(tmp_path / "o.csv")
    assert out["id"].tolist() == ["ethanol", "benzene", "broken"]
    info = _cli("info", "--model", models.baseline)
    assert info.returncode == 0, info.stderr
    assert "2 member(s)" in info.stdout and "spread x 1.5" in info.stdout and "val_rmse: 1.23" in info.stdout
    assert "\nmodel card:\n  model: random_forest\nmetrics:\n" in info.stdout  # not filed under metrics
    assert "\n                  elements Br, C, Cl, F, I, N, O, P, S; net charges 0\n" in info.stdout
    labelled = tmp_path / "labelled"  # a label holding a comma was printed as two ('apolar, polar, small')
    shutil.copytree(models.classifier, labelled)
    _edit_json(labelled / "model.json", lambda card: card.update(classes=["apolar", "polar, small"]))
    assert "classes:          'apolar', 'polar, small'\n" in _cli("info", "--model", labelled).stdout
    read_end, write_end = os.pipe()
    os.close(read_end)  # `molprop info | head`: the reader has gone before the output is written
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a pipe buffers stdout
    piped = subprocess.run([sys.executable, "-m", "molprop.cli", "info", "--model", str(models.baseline)],
                           stdout=write_end, stderr=subprocess.PIPE, text=True, env=env)
    os.close(write_end)
    assert (piped.returncode, piped.stderr) == (141, "")
    closed = subprocess.run(f"'{sys.executable}' -m molprop.cli info --model '{models.baseline}' >&-", shell=True,
                            capture_output=True, text=True)
    assert (closed.returncode, closed.stderr) == (0, "")  # started with stdout closed: nothing to write to
    data = json.loads(_cli("info", "--model", models.baseline, "--json").stdout)
    assert data["featurize"]["morgan"]["radius"] == 3 and data["n_train"] > 0 and len(data["data_hash"]) == 32
    # two models trained on the same data share the data hash; the files' md5 tells them apart
    copy = tmp_path / "copy"
    shutil.copytree(models.baseline, copy)
    assert json.loads(_cli("info", "--model", copy, "--json").stdout)["files_md5"] == data["files_md5"]
    _edit_json(copy / "model.json", lambda card: card["extra"].update(note="retrained"))
    assert json.loads(_cli("info", "--model", copy, "--json").stdout)["files_md5"] != data["files_md5"]
    assert f"model files md5:  {data['files_md5']} " in _cli("info", "--model", models.baseline).stdout
    bad = _cli("predict", "--model", models.root, "--input", smi, "--output", tmp_path / "x.csv")
    assert bad.returncode == 1 and "not a saved molprop model" in bad.stderr
    bad = _cli("info", "--model", models.root)
    assert bad.returncode == 1 and "not a saved molprop model" in bad.stderr
    bad = _cli("predict", "--model", models.baseline, "--input", library, "--output", tmp_path / "x.csv",
               "--smiles-column", "SMILES")
    assert bad.returncode == 1 and "Did you mean 'smiles'" in bad.stderr
    bad = _cli("predict", "--model", models.baseline, "--input", smi, "--output", tmp_path / "o.csv" / "x.parquet")
    assert bad.returncode == 1 and "Not a directory" in bad.stderr and "Traceback" not in bad.stderr


def test_a_header_only_input_gives_an_empty_output_and_a_failed_run_leaves_nothing(models, tmp_path):
    header_only = tmp_path / "none.csv"
    header_only.write_text("smiles,name\n")
    summary = predict_file(models.baseline, header_only, tmp_path / "none.parquet", n_jobs=1, progress=False)
    out = pd.read_parquet(tmp_path / "none.parquet")
    assert summary["rows"] == len(out) == 0 and {"row", "prediction", "in_domain"} <= set(out.columns)
    library = tmp_path / "lib.csv"
    library.write_text("SMILES\nCCO\nc1ccccc1\n")
    with pytest.raises(ValueError, match="Did you mean 'SMILES'"):
        predict_file(models.baseline, library, tmp_path / "out.csv", n_jobs=1, progress=False)
    assert not (tmp_path / "out.csv.parts").exists()
    with pytest.raises(ValueError):  # a failure once the run has started: no worker count of 0
        predict_file(models.baseline, library, tmp_path / "out.csv", PredictOptions(smiles_column="SMILES"),
                     n_jobs=0, progress=False)
    assert not (tmp_path / "out.csv.parts").exists()
    summary = predict_file(models.baseline, library, tmp_path / "out.csv", PredictOptions(smiles_column="SMILES"),
                           n_jobs=1, progress=False)
    assert summary["rows"] == 2


def test_an_input_without_molecules_is_warned_about(models, tmp_path):
    # an empty .smi (a cut download) ended "0 molecules -> ..." with no word, where an empty CSV stops
    for name, text in (("empty.smi", ""), ("comments.smi", "# a library\n\n"), ("header.csv", "smiles\n")):
        (tmp_path / name).write_text(text)
        done = _cli("predict", "--model", models.baseline, "--input", tmp_path / name, "--output",
                    tmp_path / f"{name}.csv", "--n-jobs", "1", "--no-progress")
        assert done.returncode == 0, done.stderr
        assert f"warning: {tmp_path / name} holds no molecule (empty, a header only" in done.stdout
    (tmp_path / "one.smi").write_text("CCO\n")
    done = _cli("predict", "--model", models.baseline, "--input", tmp_path / "one.smi", "--output",
                tmp_path / "one.csv", "--n-jobs", "1", "--no-progress")
    assert "1 molecules ->" in done.stdout and "holds no molecule" not in done.stdout


def test_the_current_folder_as_output_and_a_wrong_device_named_before_anything_is_made(models, library, tmp_path):
    """`--output .` stopped on "PosixPath('.') has an empty name"; `--device gpu` was found by
    the workers, after the output folder and its missing parents were made."""
    work = tmp_path / "here"
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "molprop.cli", "predict", "--model", str(models.baseline), "--input",
                           str(library), "--output", ".", "--no-progress", "--n-jobs", "1"],
                          capture_output=True, text=True, cwd=work)
    assert done.returncode == 0, done.stderr
    assert sorted(p.suffix for p in work.iterdir()) == [".json", ".parquet"]  # the manifest and one part
    with pytest.raises(ValueError, match=r"^device 'gpu': not a device name: use auto, cpu"):
        predict_file(models.network, library, tmp_path / "new" / "deeper" / "x.csv", device="gpu", progress=False)
    assert not (tmp_path / "new").exists()


def test_overwrite_keeps_the_earlier_output_file_when_the_new_run_fails(models, library, tmp_path):
    """Third round: --overwrite deleted the earlier output first, and a run that then failed (a
    bad line in the input, a damaged model) lost it."""
    out = tmp_path / "sub" / ".." / "out.csv"  # through a folder that does not exist: 'sub/..' is tmp_path
    predict_file(models.baseline, library, out, n_jobs=1, progress=False)
    before = (tmp_path / "out.csv").read_bytes()
    bad = tmp_path / "bad.smi"
    bad.write_text("smiles name\nCCO ethanol\nCCN eth amine x\n")
    with pytest.raises(ValueError, match="line 3 has 4 whitespace-separated fields"):
        predict_file(models.baseline, bad, tmp_path / "out.csv", n_jobs=1, progress=False, overwrite=True)
    assert (tmp_path / "out.csv").read_bytes() == before and not (tmp_path / "sub").exists()
    predict_file(models.baseline, library, tmp_path / "out.csv", n_jobs=1, progress=False, overwrite=True)
    assert (tmp_path / "out.csv").read_bytes() == before  # replaced by the new run's output, the same here


def test_an_output_on_the_input_is_refused_and_the_input_kept_even_with_overwrite(models, tmp_path):
    library = tmp_path / "lib.csv"
    library.write_text("smiles\nCCO\n")
    shards = tmp_path / "shards"
    shards.mkdir()
    pd.DataFrame({"smiles": ["CCO"]}).to_parquet(shards / "a.parquet")
    for source, output in [(library, library), (library, tmp_path), (shards, shards / "out.parquet"),
                           (shards, shards)]:
        with pytest.raises(ValueError, match="would (be|overlap) the input"):
            predict_file(models.baseline, source, output, n_jobs=1, overwrite=True, progress=False)
    # another name for the input (a hard link here; LIB.csv for lib.csv on macOS and Windows)
    os.link(library, tmp_path / "other_name.csv")
    with pytest.raises(ValueError, match="would be the input"):
        predict_file(models.baseline, library, tmp_path / "other_name.csv", n_jobs=1, overwrite=True, progress=False)
    (tmp_path / "other_name.csv").unlink()
    assert library.read_text() == "smiles\nCCO\n" and (shards / "a.parquet").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.csv", "shards"]
    run = _cli("predict", "--model", models.baseline, "--input", library, "--output", library, "--overwrite")
    assert run.returncode == 1 and "would be the input" in run.stderr and library.is_file()


def test_ids_detected_from_common_column_names_else_row_numbers(models, tmp_path):
    frame = pd.DataFrame({"SMILES": ["CCO", "c1ccccc1", "CCN", "CCO", "CCCl"],
                          "Compound ID": ["A-1", "A-2", "A-1", "A-1", "A-3"], "id": list("vwxyz")})
    lib = tmp_path / "lib.csv"
    frame[["SMILES", "Compound ID"]].to_csv(lib, index=False)
    common = ("--model", models.baseline, "--smiles-column", "SMILES", "--no-progress", "--n-jobs", "1")
    run = _cli("predict", "--input", lib, "--output", tmp_path / "a.csv", *common)
    assert run.returncode == 0, run.stderr
    assert "ids from column 'Compound ID' (detected" in run.stdout
    assert "2 row(s) repeat the id of an earlier row (e.g. 'A-1')" in run.stderr  # kept, with a warning
    assert pd.read_csv(tmp_path / "a.csv")["id"].tolist() == frame["Compound ID"].tolist()
    assert "row number" not in run.stderr
    pd.DataFrame({"SMILES": ["CCO", "CCN", "CCC"], "Compound ID": ["1", None, "3"]}).to_csv(lib, index=False)
    run = _cli("predict", "--input", lib, "--output", tmp_path / "gap.csv", *common)
    assert "repeat the id of an earlier row (e.g. '1')" in run.stderr  # row 1 has no id: '1'
    assert "A row without an id takes its row number as id, which another row may have" in run.stderr
    bad = _cli("predict", "--input", lib, "--output", tmp_path / "b.csv", "--id-column", "Catalog ID", *common)
    assert bad.returncode == 1 and "no id column 'Catalog ID'" in bad.stderr
    assert "Columns: ['SMILES', 'Compound ID']" in bad.stderr and not (tmp_path / "b.csv").exists()
    frame[["SMILES"]].to_csv(lib, index=False)
    run = _cli("predict", "--input", lib, "--output", tmp_path / "c.csv", *common)
    assert run.returncode == 0 and "ids are the row numbers" in run.stdout and "repeat" not in run.stderr
    assert pd.read_csv(tmp_path / "c.csv")["id"].tolist() == [0, 1, 2, 3, 4]
    frame.to_csv(lib, index=False)  # "id" before "Compound ID"; an explicit column wins
    summary = predict_file(models.baseline, lib, tmp_path / "d.parquet", PredictOptions("SMILES"),
                           n_jobs=1, progress=False)
    assert (summary["id_column"], summary["id_source"], summary["repeated_ids"]) == ("id", "detected", 0)
    assert pd.read_parquet(tmp_path / "d.parquet")["id"].tolist() == list("vwxyz")
    summary = predict_file(models.baseline, lib, tmp_path / "e.parquet", PredictOptions("SMILES", "Compound ID"),
                           n_jobs=1, progress=False)
    assert (summary["id_source"], summary["repeated_ids"], summary["repeated_id_examples"]) == ("given", 2, ["A-1"])


def test_console_script_is_declared():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["molprop"].split(":")
    assert callable(getattr(__import__(module, fromlist=[func]), func))


def test_a_molecule_a_featurizer_fails_on_is_reported_not_dropped(models, tmp_path, monkeypatch):
    import molprop.predict.chunk as chunk

    real = chunk.featurize_chunk

    def failing(task):
        if "OCC" in task[1] or "CCO" in task[1]:
            raise RuntimeError("descriptor crashed")
        return real(task)

    monkeypatch.setattr(chunk, "featurize_chunk", failing)
    (tmp_path / "x.smi").write_text("c1ccccc1 a\nOCC b\nCCCl c\n")
    predict_file(models.baseline, tmp_path / "x.smi", tmp_path / "o.parquet", n_jobs=1, progress=False)
    out = pd.read_parquet(tmp_path / "o.parquet")
    assert out["status"].tolist() == ["ok", "invalid", "ok"]
    assert out["reason"][1] == "featurization_failed" and "descriptor crashed" in out["message"][1]
    assert out["prediction"].notna().tolist() == [True, False, True]


def test_info_without_scores_and_an_output_file_without_a_suffix(models, tmp_path):
    """Bugs fixed: `molprop info` printed 'metrics:\\n  null\\n  ...' for a model without
    validation scores; an existing file without a suffix as --output gave '[Errno 20]'."""
    model = tmp_path / "model"
    shutil.copytree(models.baseline, model)
    context = json.loads((model / "predict_context.json").read_text())
    (model / "predict_context.json").write_text(json.dumps({**context, "metrics": None}))
    info = _cli("info", "--model", model)
    assert info.returncode == 0 and "\nmetrics: none\n" in info.stdout and "null" not in info.stdout
    card = json.loads((model / "model.json").read_text())
    (model / "model.json").write_text(json.dumps({**card, "members": card["members"][:1]}))
    info = _cli("info", "--model", model)  # one member: no uncertainty, not an uncalibrated one
    assert "uncertainty:      none: one member, no spread" in info.stdout, info.stderr
    smi = tmp_path / "lib.smi"
    smi.write_text("CCO ethanol\n")
    (tmp_path / "plainfile").write_text("x\n")
    bad = _cli("predict", "--model", models.baseline, "--input", smi, "--output", tmp_path / "plainfile",
               "--overwrite")
    assert bad.returncode == 1 and "exists and is not a directory" in bad.stderr and "Errno" not in bad.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="no flock")
def test_a_second_run_on_an_output_being_written_stops_with_a_message(models, tmp_path):
    """Two runs on one output wrote the same part files at once (the second failed on a raw
    pyarrow error; with --overwrite it would delete the first's parts)."""
    import fcntl

    library = tmp_path / "lib.csv"
    library.write_text("smiles\nCCO\nCCN\n")
    with open(tmp_path / "out.parquet.lock", "a") as held:  # a live run's lock
        fcntl.flock(held, fcntl.LOCK_EX)
        for overwrite in (False, True):
            with pytest.raises(ValueError, match=r"another molprop predict is writing .*out\.parquet"):
                predict_file(models.baseline, library, tmp_path / "out.parquet", n_jobs=1, overwrite=overwrite,
                             progress=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.csv", "out.parquet.lock"]
    summary = predict_file(models.baseline, library, tmp_path / "out.parquet", n_jobs=1, progress=False)
    assert summary["rows"] == 2  # the lock released: the run goes ahead, and removes its lock file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.csv", "out.parquet"]


def test_invalid_rows_among_valid_ones_keep_every_row_s_own_values(models, tmp_path):
    from molprop.predict import PredictOptions, predict_file
    raw = models.raw[["smiles", "name"]].head(30).reset_index(drop=True)
    bad = pd.DataFrame({"smiles": ["C1CC", "CC(C)(C)(C)(C)C"], "name": ["bad0", "bad1"]})
    lib = pd.concat([bad.iloc[:1], raw.iloc[:15], bad.iloc[1:], raw.iloc[15:]], ignore_index=True)
    lib.to_csv(tmp_path / "lib.csv", index=False)
    both = {}
    for name, frame in (("mixed", lib), ("clean", raw)):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        predict_file(models.baseline, tmp_path / f"{name}.csv", tmp_path / f"{name}.parquet",
                     PredictOptions(id_column="name"), n_jobs=1, progress=False)
        both[name] = pd.read_parquet(tmp_path / f"{name}.parquet").set_index("id")
    mixed, clean = both["mixed"], both["clean"]
    assert mixed.loc[["bad0", "bad1"], "ad_similarity"].isna().all()
    ok = mixed.drop(index=["bad0", "bad1"])
    for column in ("prediction", "uncertainty", "ad_similarity", "in_domain"):
        pd.testing.assert_series_equal(ok[column], clean.loc[ok.index, column], check_names=False, check_dtype=False)


def test_a_model_replaced_in_place_is_loaded_again_in_the_same_process(models, library, tmp_path):
    """Bug fixed: with n_jobs=1 (the calling process) a second predict_file after the model was
    retrained at the same path used the weights cached by the first."""
    model_dir = tmp_path / "model"
    shutil.copytree(models.baseline, model_dir)
    options = PredictOptions(id_column="name")
    predict_file(model_dir, library, tmp_path / "before.parquet", options, n_jobs=1, progress=False)
    assert pd.read_parquet(tmp_path / "before.parquet")["uncertainty"].max() > 0  # two members differ
    shutil.rmtree(model_dir / "member_0")
    shutil.copytree(model_dir / "member_1", model_dir / "member_0")  # now two equal members
    predict_file(model_dir, library, tmp_path / "after.parquet", options, n_jobs=1, progress=False)
    after = pd.read_parquet(tmp_path / "after.parquet")
    pred, rows = _expected(models, model_dir)
    got = after.set_index("row").loc[rows]
    assert np.allclose(got["prediction"], pred.mean) and (got["uncertainty"] == 0).all()


DAMAGE = [  # (model, file damaged: truncated to 20 bytes or given other content, what the message names)
    ("network", "member_0/weights.pt", None, "member_0 cannot be loaded (RuntimeError"),
    # a Git LFS pointer (or an HTML error page) in place of the weights: a traceback before
    ("network", "member_0/weights.pt", "version https://git-lfs.github.com/spec/v1\noid sha256:0\n",
     "member_0 cannot be loaded (UnpicklingError"),
    ("network", "member_0/network.json", None, "member_0/network.json cannot be read (JSONDecodeError"),
    ("network", "member_0/network.json", "{}", "member_0/network.json names no known network kind"),
    ("baseline", "member_0/estimator.skops", None, "member_0 cannot be loaded (BadZipFile"),
    ("baseline", "member_0/preprocess.json", "[]", "member_0 cannot be loaded (TypeError"),
    ("baseline", "member_1", "deleted", "member_1/estimator.skops is missing: the model directory is incomplete"),
    ("baseline", "model.json", None, "model.json cannot be read (JSONDecodeError"),
    ("baseline", "predict_context.json", None, "predict_context.json cannot be read (JSONDecodeError"),
    ("baseline", "train_fingerprints.npy", None, "train_fingerprints.npy cannot be read"),
]


def _damaged(models, tmp_path, which: str, file: str, content: str | None) -> Path:
    model_dir = tmp_path / "model"
    shutil.copytree(getattr(models, which), model_dir)
    path = model_dir / file
    if content == "deleted":
        shutil.rmtree(path)
    else:
        path.write_bytes(path.read_bytes()[:20] if content is None else content.encode())
    return model_dir


@pytest.mark.parametrize(("which", "file", "content", "named"), DAMAGE)
def test_a_damaged_model_file_is_named_with_what_to_do(models, library, tmp_path, which, file, content, named):
    """Bug fixed: a truncated member file gave a 45-line traceback, a deleted member a bare
    errno, a truncated JSON file a bare 'Expecting value', and `molprop info` called such a
    model fine (the last only checks that the files are there)."""
    model_dir = _damaged(models, tmp_path, which, file, content)
    with pytest.raises(ValueError, match=r"(?s)" + named.replace("(", r"\(") + ".*dvc checkout"):
        predict_file(model_dir, library, tmp_path / "out.csv", PredictOptions(id_column="name"), n_jobs=1,
                     progress=False)


@pytest.mark.parametrize(("which", "file", "content", "named"), [d for d in DAMAGE if "cannot be loaded" in d[3]])
def test_interpret_names_a_damaged_member_too(models, tmp_path, which, file, content, named):
    from molprop.interpretation.attribution import integrated_gradients
    from molprop.interpretation.baseline_model import load_sklearn_model

    model_dir = _damaged(models, tmp_path, which, file, content)
    with pytest.raises(ValueError, match=r"(?s)" + named.replace("(", r"\(") + ".*dvc checkout"):
        if which == "baseline":
            load_sklearn_model(model_dir)
        else:
            integrated_gradients(model_dir, models.features.iloc[:2], models.graphs[:2])


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _drop_last_column(data: dict) -> None:
    for key in ("columns", "medians", "quantiles", "means", "stds", "lows", "highs"):
        if data.get(key) is not None:
            data[key] = data[key][:-1]


MISMATCHED = [  # (model, file, edit of its JSON or new bytes, what the message says)
    ("baseline", "member_0/preprocess.json", lambda d: d.update(medians=d["medians"][:-5]),
     "member_0 cannot be loaded (ValueError: 1228 columns, but per-column lists of {'medians': 1223} values"),
    ("baseline", "member_0/preprocess.json", lambda d: d["columns"].__setitem__(0, "name"),
     "member_0 cannot be loaded (ValueError: its columns are not all feature column names"),
    ("baseline", "member_0/preprocess.json", _drop_last_column,
     "member_0/estimator.skops holds no fitted estimator for the 1227 columns of preprocess.json "
     "(RandomForestRegressor, reading 1228 features)"),
    ("baseline", "member_0/estimator.skops", "dict",
     "member_0/estimator.skops holds no fitted estimator for the 1228 columns of preprocess.json (dict, reading no features)"),
    ("network", "member_0/preprocess.json", _drop_last_column,
     "member_0 cannot be loaded (ValueError: network.json reads 204 features, preprocess.json makes 203"),
    ("network", "member_0/preprocess.json", lambda d: d["quantiles"].__setitem__(0, []),
     "member_0 cannot be loaded (ValueError: its quantiles are not one list of the same length per descriptor"),
    ("network", "member_0/preprocess.json", lambda d: d["quantiles"][1].reverse(),
     "member_0 cannot be loaded (ValueError: its quantiles are not sorted finite numbers"),
    ("baseline", "member_0/preprocess.json", lambda d: d["medians"].__setitem__(3, None),
     "member_0 cannot be loaded (ValueError: its medians are not all finite numbers"),
    # hand-edited JSON: a traceback in the forward pass, a regression network's outputs written as
    # class probabilities (p_a -0.94), an OverflowError in the fingerprints
    ("network", "member_0/network.json", lambda d: d["config"].update(depth="3"),
     "member_0 cannot be loaded (TypeError: network.json: depth is '3', not of type int"),
    ("network", "model.json", lambda d: d.update(task="classification", classes=["a", "b"]),
     "does not belong to this model (a network of 1 output(s) with target scaling in a classification model "
     "of 2 classes)"),
    ("network", "model.json", lambda d: d.update(task="classification", classes=[]),
     "classes [] in a classification model (classification has 2 or more, regression none)"),
    ("baseline", "predict_context.json", lambda d: d["domain"].update(radius=-1),
     "domain.radius / domain.n_bits (whole numbers, >= 0 / >= 1)"),
    ("baseline", "predict_context.json", lambda d: d["validate"]["rules"].update(max_heavy_atoms="many"),
     "predict_context.json: its training-time settings cannot be read (ValueError: validate.rules.max_heavy_atoms"),
]


@pytest.mark.parametrize(("which", "file", "edit", "named"), MISMATCHED)
def test_member_files_that_disagree_are_refused_on_loading(models, library, tmp_path, which, file, edit, named):
    """Bug fixed: a preprocess.json cut short, or an estimator.skops holding another object, loaded
    and then failed in the middle of predicting with numpy's broadcast error or a traceback."""
    model_dir = tmp_path / "model"
    shutil.copytree(getattr(models, which), model_dir)
    if edit == "dict":
        from molprop.models.store import _import_skops_io

        (model_dir / file).write_bytes(_import_skops_io().dumps({"a": 1}))
    else:
        _edit_json(model_dir / file, edit)
    with pytest.raises(ValueError, match=r"(?s)" + re.escape(named) + ".*dvc checkout"):
        predict_file(model_dir, library, tmp_path / "out.csv", PredictOptions(id_column="name"), n_jobs=1,
                     progress=False)


def _set_extra_model(kind: str):
    return lambda card: card.setdefault("extra", {}).update(model=kind)


MIXED_UP = [  # (model, how its copy is mixed up, what the message says)
    ("baseline", ("classifier", "member_0"), "a RandomForestClassifier in a regression model"),
    ("classifier", ("baseline", "member_0"), "a RandomForestRegressor in a classification model"),
    ("baseline", _set_extra_model("ridge"), "a RandomForestRegressor where the model is ridge (Ridge)"),
    ("network", _set_extra_model("mlp"), "a dmpnn network in a mlp model"),
    ("network", lambda card: card.update(feature_groups=["morgan"]),
     "it reads desc_"),
]


@pytest.mark.parametrize(("which", "change", "named"), MIXED_UP)
def test_a_member_of_another_model_is_refused(models, library, tmp_path, which, change, named):
    """Bug fixed: a classifier's member copied into a regression model predicted class indices
    as values, and a member of another kind or feature set loaded and predicted wrong numbers."""
    model_dir = tmp_path / "model"
    shutil.copytree(getattr(models, which), model_dir)
    if isinstance(change, tuple):  # another model's member files
        other, member = change
        for file in (getattr(models, other) / member).iterdir():
            shutil.copy(file, model_dir / "member_0" / file.name)
    else:
        _edit_json(model_dir / "model.json", change)
    with pytest.raises(ValueError, match=r"(?s)does not belong to this model \(" + re.escape(named) + ".*dvc checkout"):
        predict_file(model_dir, library, tmp_path / "out.csv", PredictOptions(id_column="name"), n_jobs=1,
                     progress=False)


def test_a_column_the_features_lack_is_named(models, library, tmp_path):
    """A model column that its featurize settings do not make (a preprocess.json from another model)
    raised pandas' KeyError from the middle of predicting."""
    model_dir = tmp_path / "model"
    shutil.copytree(models.baseline, model_dir)
    _edit_json(model_dir / "member_0/preprocess.json", lambda d: d["columns"].__setitem__(0, "fp_9999"))
    with pytest.raises(ValueError, match=re.escape("the model reads feature column(s) ['fp_9999'] (1 in all)")):
        predict_file(model_dir, library, tmp_path / "out.csv", PredictOptions(id_column="name"), n_jobs=1,
                     progress=False)


def test_the_model_digest_covers_the_model_files_only(models, tmp_path):
    """Bug fixed: an output written into the model directory changed its digest, so a killed
    run could not resume there ('a part-finished run with another model')."""
    from molprop.predict.parts import model_md5

    model_dir = tmp_path / "model"
    shutil.copytree(models.baseline, model_dir)
    before = model_md5(model_dir)
    (model_dir / "preds.parquet.parts").mkdir()
    (model_dir / "preds.parquet.parts" / "part-00000.parquet").write_bytes(b"x")
    (model_dir / "notes.txt").write_text("mine")
    assert model_md5(model_dir) == before
    (model_dir / "member_1" / "preprocess.json").write_text("{}")
    assert model_md5(model_dir) != before



@pytest.mark.parametrize(("change", "named"), [
    ({"members": ["../elsewhere/member_0"]}, "member '../elsewhere/member_0' is not a folder directly inside"),
    ({"members": ["/tmp/member_0"]}, "member '/tmp/member_0' is not a folder directly inside"),
    ({"members": ["member_0", "member_0", "member_1"]}, "a member is listed twice"),
    ({"members": []}, "not a list of member folder names"),
    ({"members": 3}, "not a list of member folder names"),
    ({"kind": ["sklearn"]}, "kind ['sklearn']"),
    ({"task": "regresion"}, "task 'regresion'"),
    ({"feature_groups": ["morganx"]}, "feature_groups ['morganx']"),
    ({"extra": {"uncertainty_scale": "7.4"}}, "numeric uncertainty_scale"),
])
def test_a_model_card_naming_paths_outside_or_wrong_values_is_refused(models, library, tmp_path, change, named):
    """Bug fixed: members like '../x' were read (and, under Ray, written) outside the model
    directory; wrong types gave tracebacks; a member listed twice counted twice."""
    model_dir = tmp_path / "model"
    shutil.copytree(models.baseline, model_dir)
    card = json.loads((model_dir / "model.json").read_text()) | change
    (model_dir / "model.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match=r"model.json is not a valid model card .*" + named.replace("[", r"\[")):
        predict_file(model_dir, library, tmp_path / "out.csv", PredictOptions(id_column="name"), n_jobs=1,
                     progress=False)


@pytest.mark.parametrize("change", [{"domain": None}, {"n_train": "many"}, {"validate": []},
                                    {"domain": {"radius": 3, "n_bits": 1024, "elements": "CNO"}},
                                    {"domain": {"radius": 3, "n_bits": 1024, "net_charges": [0, "+1"]}},
                                    {"domain": {"radius": 3, "n_bits": 1024, "elements": [], "net_charges": []}},
                                    {"domain": {"radius": 3, "n_bits": 1024, "elements": ["C"]}},
                                    {"validate": {"standardize": "yes", "rules": {}}}])
def test_a_damaged_predict_context_is_named(models, library, tmp_path, change):
    model_dir = tmp_path / "model"
    shutil.copytree(models.baseline, model_dir)
    context = json.loads((model_dir / "predict_context.json").read_text()) | change
    (model_dir / "predict_context.json").write_text(json.dumps(context))
    with pytest.raises(ValueError, match=r"predict_context.json.*damaged.*dvc checkout"):
        predict_file(model_dir, library, tmp_path / "out.csv", PredictOptions(id_column="name"), n_jobs=1,
                     progress=False)


def test_an_element_or_net_charge_no_training_molecule_has_is_outside_the_domain(models, tmp_path):
    """Selenoanisole and a quaternary ammonium were 'in domain' beside FreeSolv's neutral C, N, O,
    S, P and halogen molecules (their carbon frameworks alike), and the descriptors RDKit cannot
    compute for selenium were read as training medians without a word."""
    source = tmp_path / "new.csv"
    source.write_text("name,smiles\nse,C[Se]c1ccccc1\nquat,C[N+](C)(C)Cc1ccccc1\ntoluene,Cc1ccccc1\n"
                      "imine,[H]/N=C(/C)c1ccccc1\n")  # an explicit H fixing the geometry: no new element
    predict_file(models.baseline, source, tmp_path / "out.csv", PredictOptions(id_column="name"), n_jobs=1,
                 progress=False)
    out = pd.read_csv(tmp_path / "out.csv").set_index("id")
    assert out["in_domain"].tolist()[:3] == [False, False, True] and (out["status"] == "ok").all()
    assert "outside" not in str(out.loc["imine", "message"]) and "[H]" in out.loc["imine", "smiles"]
    assert "outside the applicability domain: element Se in no training molecule" in out.loc["se", "message"]
    assert "descriptor(s) without a finite value for it, read as the training median" in out.loc["se", "message"]
    assert "net charge +1, the training molecules' 0" in out.loc["quat", "message"]
    assert pd.isna(out.loc["toluene", "message"]) and out.loc["toluene", "ad_similarity"] >= 0.3
    # a model saved before the limits were recorded: the similarity alone, as then
    legacy = tmp_path / "legacy"
    shutil.copytree(models.baseline, legacy)
    context = json.loads((legacy / "predict_context.json").read_text())
    for key in ("elements", "net_charges"):
        del context["domain"][key]
    (legacy / "predict_context.json").write_text(json.dumps(context))
    predict_file(legacy, source, tmp_path / "legacy.csv", PredictOptions(id_column="name"), n_jobs=1, progress=False)
    old = pd.read_csv(tmp_path / "legacy.csv").set_index("id")
    assert "elements and net charges not recorded (a model saved before 2026-12-08): the similarity alone" in \
        _cli("info", "--model", legacy).stdout
    assert (old["in_domain"] == (old["ad_similarity"] >= 0.3)).all()
    assert "outside" not in str(old.loc["se", "message"]) and old["prediction"].tolist() == out["prediction"].tolist()
