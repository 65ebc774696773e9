"""Parallel runner and the featurize stage end to end (small real slice, temp dir)."""

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from rdkit import Chem

from molprop.data.builtin import load_builtin
from molprop.features.config import DescriptorConfig, FeaturizeConfig, MorganConfig
from molprop.features import runner
from molprop.features.parallel import WorkerPool, ordered_map
from molprop.features.runner import featurize_table

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "mlflow", "great_expectations"}


@pytest.fixture(scope="module")
def slice_smiles():
    """60 FreeSolv molecules plus a salt whose charge descriptors are NaN."""
    smiles = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in load_builtin(
        REPO / "data/builtin/freesolv.yaml").smiles[:60]] + ["[Cl-].[Na+]"]  # fmt: skip
    return [f"mol{i:04d}" for i in range(len(smiles))], smiles


def run(tmp_path, ids, smiles, name, **kw):
    out = tmp_path / name
    kw.setdefault("descriptors", DescriptorConfig(set="fast"))
    metrics = featurize_table(ids, smiles, FeaturizeConfig(**kw), out / "f.parquet", out / "g.parquet",
                              progress=False)  # fmt: skip
    return out, metrics


@pytest.mark.parametrize("start", ["fork", "forkserver"])  # fork on Linux, forkserver elsewhere
def test_parallel_output_is_byte_identical_to_serial(tmp_path, slice_smiles, monkeypatch, start):
    ids, smiles = slice_smiles
    serial, m1 = run(tmp_path, ids, smiles, "serial", n_jobs=1, chunk_size=7, row_group_size=20)
    monkeypatch.setattr(runner, "start_method", lambda: start)
    monkeypatch.setattr(runner, "WorkerPool", _UpBeforeStart)  # the workers featurize all but the probe
    parallel, m2 = run(tmp_path, ids, smiles, "parallel", n_jobs=2, chunk_size=7, row_group_size=20,
                       serial_below_seconds=0.0)  # fmt: skip
    again, _ = run(tmp_path, ids, smiles, "again", n_jobs=2, chunk_size=7, row_group_size=20,
                   serial_below_seconds=0.0)  # fmt: skip
    for name in ("f.parquet", "g.parquet"):
        assert (serial / name).read_bytes() == (parallel / name).read_bytes() == (again / name).read_bytes()
    assert m1 == m2


def test_stereo_perception_does_not_follow_the_environment(tmp_path, monkeypatch):
    """RDKit reads its stereo algorithm from RDK_USE_LEGACY_STEREO_PERCEPTION, which its SPS
    descriptor sets to 0 for a moment: a worker started then inherited 0 and counted the ring
    stereocentres of CC1CCC(C)CC1. Featurizing must give the same bytes whatever it says."""
    smiles = ["CC1CCC(C)CC1", "Cl/C=C/Cl", "C/C=C1/CC[C@H](C)CC1", "CCO"]
    ids = [f"m{i}" for i in range(len(smiles))]
    monkeypatch.setenv("RDK_USE_LEGACY_STEREO_PERCEPTION", "1")
    usual, _ = run(tmp_path, ids, smiles, "usual", n_jobs=1)
    monkeypatch.setenv("RDK_USE_LEGACY_STEREO_PERCEPTION", "0")
    flipped, _ = run(tmp_path, ids, smiles, "flipped", n_jobs=2, chunk_size=2, serial_below_seconds=0.0)
    for name in ("f.parquet", "g.parquet"):
        assert (usual / name).read_bytes() == (flipped / name).read_bytes()
    table = pd.read_parquet(usual / "f.parquet")
    assert table["desc_NumAtomStereoCenters"].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("chunk_size", [3, 40, 100])  # probe = whole first chunk / part of it / all
def test_probe_then_parallel_or_serial_gives_the_serial_bytes(tmp_path, slice_smiles, caplog, chunk_size,
                                                              monkeypatch):
    ids, smiles = slice_smiles
    monkeypatch.setattr(runner, "MIN_CHUNKS", 1)  # chunks of chunk_size, as the cases above say
    kw = dict(chunk_size=chunk_size, row_group_size=20, morgan=MorganConfig(counts=True),
              descriptors=DescriptorConfig(set="fast"))  # fmt: skip
    serial, m1 = run(tmp_path, ids, smiles, "serial", n_jobs=1, **kw)
    with caplog.at_level(logging.INFO, logger="molprop.features.runner"):
        forced, m2 = run(tmp_path, ids, smiles, "forced", n_jobs=2, serial_below_seconds=0.0, **kw)
        stayed, m3 = run(tmp_path, ids, smiles, "stayed", n_jobs=2, serial_below_seconds=1e9, **kw)
    processes = [r.getMessage().rsplit(": ", 1)[1] for r in caplog.records if "process(es)" in r.getMessage()]
    assert processes == (["2 process(es)", "1 process(es)"] if chunk_size < len(ids) else [])
    for name in ("f.parquet", "g.parquet"):
        assert (serial / name).read_bytes() == (forced / name).read_bytes() == (stayed / name).read_bytes()
    assert m1 == m2 == m3


def test_cut_small_input_gives_the_serial_bytes(tmp_path, slice_smiles):
    ids, smiles = slice_smiles  # 61 molecules in chunks of 32 rather than chunk_size 500
    assert runner.chunk_step(len(ids), 500) < 500
    serial, m1 = run(tmp_path, ids, smiles, "serial", n_jobs=1, chunk_size=500, row_group_size=20)
    parallel, m2 = run(tmp_path, ids, smiles, "parallel", n_jobs=2, chunk_size=500, row_group_size=20,
                       serial_below_seconds=0.0)  # fmt: skip
    for name in ("f.parquet", "g.parquet"):
        assert (serial / name).read_bytes() == (parallel / name).read_bytes()
    assert m1 == m2


def test_small_inputs_are_cut_into_several_chunks_whatever_the_processes():
    step = runner.chunk_step(642, 500)  # FreeSolv: not 500 + 142 on 2 workers
    assert -(-642 // step) >= runner.MIN_CHUNKS
    assert runner.chunk_step(100_000, 500) == 500  # large inputs keep the configured size
    assert runner.chunk_step(70, 500) == runner.PROBE_MOLECULES  # never below the probe
    assert runner.chunk_step(70, 10) == 10  # nor above chunk_size


class _UpBeforeStart(WorkerPool):
    """Workers already up when featurizing starts: they get every chunk after the probe."""

    def __init__(self, *args):
        super().__init__(*args)
        self.ready.wait()


class _NeverUp(WorkerPool):
    """Workers that never report up: the parent featurizes every molecule itself."""

    def __init__(self, *args):
        super().__init__(*args)
        self.ready = threading.Event()


class _UpMidChunk(WorkerPool):
    """Workers that report up after the parent's 5th batch of molecules (in its 1st chunk)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.ready.wait()
        self.ready = self._Countdown(5)

    class _Countdown:
        def __init__(self, n):
            self.left = n

        def is_set(self):
            self.left -= 1
            return self.left < 0


@pytest.mark.parametrize("pool", [_UpBeforeStart, _NeverUp, _UpMidChunk])
def test_parent_or_workers_featurizing_gives_the_serial_bytes(tmp_path, slice_smiles, monkeypatch, pool):
    ids, smiles = slice_smiles
    kw = dict(chunk_size=40, row_group_size=20, morgan=MorganConfig(counts=True),
              descriptors=DescriptorConfig(set="fast"))  # fmt: skip
    monkeypatch.setattr(runner, "PROBE_MOLECULES", 3)  # the parent works 3 molecules at a time
    monkeypatch.setattr(runner, "MIN_CHUNKS", 1)  # chunks of chunk_size: the hand-over is mid-chunk
    serial, m1 = run(tmp_path, ids, smiles, "serial", n_jobs=1, **kw)
    monkeypatch.setattr(runner, "WorkerPool", pool)
    parallel, m2 = run(tmp_path, ids, smiles, "parallel", n_jobs=2, serial_below_seconds=0.0, **kw)
    for name in ("f.parquet", "g.parquet"):
        assert (serial / name).read_bytes() == (parallel / name).read_bytes()
    assert m1 == m2


class _UpAndCounting(_UpBeforeStart):
    """Workers up before featurizing starts; records the size of every task they get."""

    sizes: list[int] = []

    def map(self, func, items, *args):
        def counted():
            for item in items:
                self.sizes.append(len(item[0]))
                yield item

        return super().map(func, counted(), *args)


def test_the_last_chunks_go_to_the_workers_in_smaller_tasks_with_the_same_bytes(tmp_path, slice_smiles, monkeypatch):
    ids, smiles = slice_smiles  # 61 molecules
    monkeypatch.setattr(runner, "MIN_CHUNKS", 1)
    monkeypatch.setattr(runner, "PROBE_MOLECULES", 4)
    assert runner.task_ranges(40, 60, 5) == [(40, 45), (45, 50), (50, 55), (55, 60)]
    assert runner.task_ranges(40, 61, 5)[-1] == (60, 61)
    assert runner.task_ranges(3, 20, 2) == [(3, 7), (7, 11), (11, 15), (15, 19), (19, 20)]  # >= the probe
    serial, m1 = run(tmp_path, ids, smiles, "serial", n_jobs=1, chunk_size=20, row_group_size=20)
    monkeypatch.setattr(runner, "WorkerPool", _UpAndCounting)
    monkeypatch.setattr(_UpAndCounting, "sizes", [])
    parallel, m2 = run(tmp_path, ids, smiles, "parallel", n_jobs=2, chunk_size=20, row_group_size=20,
                       serial_below_seconds=0.0)  # fmt: skip
    # chunks [0, 20) (less the 4-molecule probe) and [20, 40) whole; the last 2 x 20 molecules
    # ([40, 60) and [60, 61)) in tasks of 20 / TAIL_SPLIT = 5
    assert _UpAndCounting.sizes == [16, 20, 5, 5, 5, 5, 1]
    for name in ("f.parquet", "g.parquet"):
        assert (serial / name).read_bytes() == (parallel / name).read_bytes()
    assert m1 == m2


def test_submit_returns_before_the_workers_are_up_and_passes_results_and_errors():
    with WorkerPool(1, abs) as pool:
        pool.ready.wait()
        gate = threading.Event()
        pool.ready = gate  # the workers look "still starting": submit must not wait for them
        pending = [pool.submit(abs, -3), pool.submit(int, "not a number")]
        assert not any(future.done() for future in pending)
        gate.set()
        assert pending[0].result(timeout=60) == 3
        with pytest.raises(ValueError, match="not a number"):
            pending[1].result(timeout=60)
        assert pool.submit(abs, -4).result(timeout=60) == 4  # workers up: handed over directly


def test_a_task_cancelled_in_the_workers_cancels_its_future_without_a_traceback(capsys):
    from concurrent.futures import Future

    from molprop.features.parallel import _copy_outcome

    inner, outer = Future(), Future()
    inner.add_done_callback(lambda done: _copy_outcome(done, outer))
    assert inner.cancel() and outer.cancelled()  # the pool shut down before the task ran
    assert "Traceback" not in capsys.readouterr().err


def test_ordered_map_keeps_input_order():
    assert list(ordered_map(abs, range(-40, 0), n_jobs=2, in_flight_per_worker=1)) == list(range(40, 0, -1))
    assert list(ordered_map(abs, [], n_jobs=2)) == []


def test_a_worker_that_dies_is_reported_with_what_may_have_killed_it():
    """A script without a __main__ guard had every worker run it again: BrokenProcessPool
    and another process's error, with no word of the cause."""
    import os

    from molprop.errors import UserInputError

    with pytest.raises(UserInputError, match=r"worker process ended abruptly.*__name__ == \"__main__\""):
        list(ordered_map(os._exit, [3, 4], n_jobs=2))


def test_a_forkserver_preloads_the_server_exit_module_which_changes_no_other_exit_code():
    """The server of WorkerPool's workers imports molprop.server_exit (the workers, forked
    from it, have it); imported by any other process the module leaves its exit code alone."""
    with WorkerPool(1, abs) as pool:
        assert pool.submit(eval, "__import__('sys').modules['molprop.server_exit'].ARMED").result(timeout=60)
    script = "import molprop.server_exit as m; print(m.ARMED); raise SystemExit(3)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (3, "False")


def test_feature_table_dtypes_alignment_and_nan_report(tmp_path, slice_smiles):
    ids, smiles = slice_smiles
    out, metrics = run(tmp_path, ids, smiles, "t", n_jobs=1, chunk_size=16, descriptors=DescriptorConfig(
        set="full", max_nonfinite_fraction=1.0), morgan=MorganConfig(n_bits=256, counts=False))  # fmt: skip
    df = pd.read_parquet(out / "f.parquet")
    assert df["mol_id"].tolist() == ids
    fp = df.filter(like="fp_")
    assert fp.shape[1] == 256 and (fp.dtypes == np.uint8).all() and set(np.unique(fp)) <= {0, 1}
    desc = df.filter(like="desc_")
    assert (desc.dtypes == np.float32).all() and desc.shape[1] == metrics["n_descriptors"]
    assert not np.isinf(desc.to_numpy()).any()
    report = metrics["descriptors"]["nonfinite"]
    for name, entry in report.items():  # every NaN in the table is reported, with its molecule
        nan_ids = df.loc[desc["desc_" + name].isna(), "mol_id"].tolist()
        assert entry["n_molecules"] == len(nan_ids) and entry["mol_ids"] == nan_ids[:20]
    assert desc.isna().any().sum() == len(report) >= 1
    assert report["BCUT2D_MWHI"]["mol_ids"] == ["mol0060"]  # the salt
    assert metrics["n_molecules"] == 61 and metrics["n_fp_bits"] == 256


def test_mostly_nan_descriptor_is_dropped_and_reported(tmp_path):
    ids, smiles = ["salt", "ethanol"], ["[Cl-].[Na+]", "CCO"]
    out, metrics = run(tmp_path, ids, smiles, "d", n_jobs=1, descriptors=DescriptorConfig(
        set="full", max_nonfinite_fraction=0.2))  # fmt: skip
    cols = pq.read_schema(out / "f.parquet").names
    dropped = metrics["descriptors"]["dropped"]
    assert "BCUT2D_MWHI" in dropped and "desc_BCUT2D_MWHI" not in cols
    assert metrics["descriptors"]["nonfinite"]["BCUT2D_MWHI"] == {
        "n_molecules": 1, "fraction": 0.5, "dropped": True, "mol_ids": ["salt"], "mol_ids_truncated": False}
    assert metrics["n_descriptors"] == 217 - len(dropped) == len([c for c in cols if c.startswith("desc_")])
    kept, _ = run(tmp_path, ids, smiles, "k", n_jobs=1, descriptors=DescriptorConfig(
        set="full", max_nonfinite_fraction=1.0))  # fmt: skip
    assert np.isnan(pd.read_parquet(kept / "f.parquet")["desc_BCUT2D_MWHI"][0])


def test_unparsable_smiles_names_the_molecule(tmp_path):
    with pytest.raises(ValueError, match="'bad'.*validate"):
        run(tmp_path, ["ok", "bad"], ["CCO", "C1CC"], "e", n_jobs=1)


def test_stage_on_a_real_slice_without_heavy_imports(tmp_path, slice_smiles):
    ids, smiles = slice_smiles
    (tmp_path / "data").mkdir()
    pd.DataFrame({"mol_id": ids, "row": range(len(ids)), "smiles_input": smiles, "smiles": smiles,
                  "y": np.linspace(-5, 5, len(ids)), "n_replicates": 1}).to_parquet(
        tmp_path / "data/validated.parquet")  # fmt: skip
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["featurize"].update(n_jobs=2, chunk_size=16)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"featurize": params["featurize"]}))
    code = ("import os, runpy, sys; sys.path.insert(0, os.path.dirname(sys.argv[1])); "
            "runpy.run_path(sys.argv[1])['main'](); "
            f"print(sorted({HEAVY!r} & set(sys.modules)))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, str(REPO / "stages/featurize.py")],
                          cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "featurize" in proc.stderr  # the tqdm progress bar goes to stderr
    metrics = json.loads((tmp_path / "metrics/featurize.json").read_text())
    assert metrics["n_molecules"] == len(ids) and metrics["n_fp_bits"] == 2048
    assert pd.read_parquet(tmp_path / "data/features.parquet")["mol_id"].tolist() == ids
    assert pq.read_table(tmp_path / "data/graphs.parquet").column("mol_id").to_pylist() == ids


def test_worker_module_imports_only_what_workers_use():
    # Where workers start from a forkserver (not Linux), the server imports molprop.features.chunk
    # before any worker starts: Parquet, the progress bar and the descriptor module (imported
    # when descriptors are on) stay out.
    code = ("import sys, molprop.features.chunk; "
            "print(sorted({'pyarrow', 'pandas', 'tqdm', 'rdkit.Chem.Descriptors', 'torch'} & set(sys.modules)))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_config_from_params_reads_the_params_section():
    from molprop.features.config import config_from_params

    section = yaml.safe_load((REPO / "params.yaml").read_text())["featurize"]
    config = config_from_params(section)
    assert config.morgan == MorganConfig(section["morgan"]["radius"], section["morgan"]["n_bits"],
                                         section["morgan"]["counts"])
    assert config.descriptors.set == section["descriptors"]["set"]
    assert (config.graph, config.n_jobs, config.chunk_size) == (section["graph"], section["n_jobs"],
                                                                section["chunk_size"])
    # a saved predict context: no run settings (defaulted), descriptors off
    short = {"morgan": section["morgan"], "descriptors": {"enabled": False}, "graph": False}
    assert config_from_params(short) == FeaturizeConfig(morgan=config.morgan, descriptors=None, graph=False)
    with pytest.raises(ValueError, match="no 'graph' key"):
        config_from_params({"morgan": section["morgan"]})


@pytest.mark.parametrize("max_nonfinite", [1.0, 0.2])  # 0.2: the file is rewritten without a column
def test_fingerprint_columns_plain_encoded_without_statistics(tmp_path, max_nonfinite):
    out, _ = run(tmp_path, ["salt", "ethanol", "phenol"], ["[Cl-].[Na+]", "CCO", "Oc1ccccc1"], "e", n_jobs=1,
                 morgan=MorganConfig(n_bits=64), descriptors=DescriptorConfig(
                     set="fast", max_nonfinite_fraction=max_nonfinite))  # fmt: skip
    meta = pq.ParquetFile(out / "f.parquet").metadata
    columns = {meta.schema.column(i).name: meta.row_group(0).column(i) for i in range(meta.num_columns)}
    fp = [c for name, c in columns.items() if name.startswith("fp_")]
    desc = [c for name, c in columns.items() if name.startswith("desc_")]
    assert len(fp) == 64 and desc
    assert all(not c.is_stats_set and not any("DICTIONARY" in e for e in c.encodings) for c in fp)
    assert all(c.is_stats_set for c in desc) and columns["mol_id"].is_stats_set


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_interrupted_featurize_leaves_no_temporary_files(tmp_path, slice_smiles, monkeypatch, n_jobs):
    """Bug fixed: Ctrl-C (or an error) in featurize left data/features.parquet.tmp and
    graphs.parquet.tmp beside the outputs, and DVC's run cache kept them there."""
    ids, smiles = slice_smiles
    chunks = runner._chunks

    def interrupted(*args, **kwargs):
        source = chunks(*args, **kwargs)
        yield next(source)  # one chunk written, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_chunks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, ids, smiles, "out", n_jobs=n_jobs, chunk_size=20, row_group_size=10, serial_below_seconds=0.0)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []


def test_the_recorded_settings_read_back_as_the_same_config():
    """data/features.parquet records the featurize settings (settings_of); a model saved with
    them featurizes new molecules the same way (config_from_params)."""
    from molprop.features.config import FeaturizeConfig, config_from_params, settings_of

    for config in (FeaturizeConfig(), FeaturizeConfig(morgan=None, graph=False), FeaturizeConfig(descriptors=None)):
        again = config_from_params(settings_of(config))
        assert (again.morgan, again.descriptors, again.graph) == (config.morgan, config.descriptors, config.graph)
