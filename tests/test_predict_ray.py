"""executor="ray" on a local 2-CPU Ray cluster started here: the same output as local, resumable.

Skipped when Ray is not installed (it is the optional extra ``molprop[ray]``)."""

import json

import pandas as pd
import pytest
from predict_models import build_models, library_csv

ray = pytest.importorskip("ray")

import molprop.predict.ray_executor as ray_executor  # noqa: E402
from molprop.predict import PredictOptions, predict_file  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return build_models(tmp_path_factory.mktemp("models"), n=120)


def test_ray_gives_the_local_output_and_resumes(models, cluster, tmp_path, monkeypatch):
    library = library_csv(models, tmp_path / "library.csv")
    # chunks not a multiple of the batches: Ray used to re-cut the batches across chunks, and
    # the network saw other batches than local workers do (last-digit differences)
    options = PredictOptions(id_column="name", chunk_size=30, batch_size=7)
    local = tmp_path / "local.parquet"
    predict_file(models.network, library, local, options, n_jobs=1, device="cpu", progress=False)

    # First run: stop after the first window of chunks (as if the driver were killed).
    real = ray_executor._execute
    windows = []

    def first_window_only(*args, **kwargs):
        if windows:
            raise KeyboardInterrupt
        windows.append(1)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(ray_executor, "_execute", first_window_only)
    out = tmp_path / "ray.parquet"
    ray_options = {"n_actors": 2, "window_chunks": 2}
    with pytest.raises(KeyboardInterrupt):
        predict_file(models.network, library, out, options, executor="ray", device="cpu",
                     progress=False, ray_options=ray_options)
    done = json.loads((tmp_path / "ray.parquet.parts" / "_manifest.json").read_text())["parts"]
    assert sorted(done, key=int) == ["0", "1"]

    monkeypatch.setattr(ray_executor, "_execute", real)
    summary = predict_file(models.network, library, out, options, executor="ray", device="cpu",
                           progress=False, ray_options=ray_options)
    assert ray.is_initialized()  # a cluster the caller started is left running
    ray_out, local_out = pd.read_parquet(out), pd.read_parquet(local)
    assert summary["rows"] == len(local_out) == len(ray_out)
    pd.testing.assert_frame_equal(ray_out, local_out, check_exact=True)
    assert (ray_out["status"] == "invalid").sum() > 0


def test_model_files_travel_with_the_actor(models):
    files = ray_executor.model_files(models.baseline)
    assert {"model.json", "predict_context.json", "train_fingerprints.npy",
            "member_0/estimator.skops", "member_1/preprocess.json"} <= set(files)


def test_a_damaged_member_is_named_before_ray_starts(models, tmp_path):
    """Bug fixed: it killed the actors, and Ray printed a long traceback naming the actor's
    temporary copy of the model."""
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(models.baseline, model_dir)
    skops = model_dir / "member_0" / "estimator.skops"
    skops.write_bytes(skops.read_bytes()[:3000])
    library = library_csv(models, tmp_path / "library.csv")
    with pytest.raises(ValueError, match=f"{model_dir}/member_0 cannot be loaded"):
        predict_file(model_dir, library, tmp_path / "out.csv", PredictOptions(id_column="name"),
                     executor="ray", progress=False)


def test_an_actor_s_user_error_is_one_line(models, cluster, tmp_path):
    """Bug fixed: a model column its featurize settings do not make, found by an actor, came
    back as ~70 lines of Ray traceback with molprop's message in the middle."""
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(models.baseline, model_dir)
    prep = model_dir / "member_1" / "preprocess.json"
    data = json.loads(prep.read_text())
    data["columns"][-1] = "desc_NotADescriptor"
    prep.write_text(json.dumps(data))
    library = library_csv(models, tmp_path / "library.csv")
    with pytest.raises(ValueError, match=r"^the model reads feature column\(s\) \['desc_NotADescriptor'\]"):
        predict_file(model_dir, library, tmp_path / "out.csv", PredictOptions(id_column="name"),
                     executor="ray", progress=False)
    remote = RuntimeError("ray::MapWorker()\nTraceback...\nmolprop.errors.UserInputError: no such column\nmore")
    assert ray_executor._user_error(remote) == "no such column"
    assert ray_executor._user_error(RuntimeError("the actor died")) is None


def test_a_negative_actor_count_is_refused_before_anything_is_touched(models, tmp_path):
    """With --overwrite, the refusal came after the earlier output had been deleted, and new
    folders made for the output were left behind."""
    library = library_csv(models, tmp_path / "library.csv")
    out = tmp_path / "out.csv"
    predict_file(models.baseline, library, out, PredictOptions(id_column="name"), n_jobs=1, progress=False)
    before = out.read_bytes()
    for target in (out, tmp_path / "new" / "deeper" / "out.csv"):
        with pytest.raises(ValueError, match=r"--ray-actors -3: give 1 or more actors"):
            predict_file(models.baseline, library, target, PredictOptions(id_column="name"), executor="ray",
                         progress=False, overwrite=True, ray_options={"n_actors": -3})
    assert out.read_bytes() == before and not (tmp_path / "new").exists()


def test_starting_ray_keeps_the_caller_s_sigterm_handler():
    """Ray's own handler made SIGTERM end `molprop predict --executor ray` with exit code 15 and a
    native stack dump instead of 143 and the hint to resume."""
    import signal

    ray.shutdown()  # the module's cluster, started by the tests above
    handler = lambda signum, frame: None  # noqa: E731
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        _, started = ray_executor._connect(None)
        assert started and signal.getsignal(signal.SIGTERM) is handler
    finally:
        ray.shutdown()
        signal.signal(signal.SIGTERM, previous)
