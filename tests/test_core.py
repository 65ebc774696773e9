"""Small shared modules: aligned table reading, class names, seeding, stable JSON."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest
import torch

from molprop.data.tables import class_names, read_aligned
from molprop.seeding import seed_everything
from molprop.serialization import undefined_as_null, write_json


def _write(tmp_path, name, ids, **columns):
    path = tmp_path / name
    pd.DataFrame({"mol_id": ids, **columns}).to_parquet(path)
    return path


def test_read_aligned_returns_frames_and_refuses_misaligned_tables(tmp_path):
    a = _write(tmp_path, "a.parquet", ["m1", "m2"], y=[1.0, 2.0])
    b = _write(tmp_path, "b.parquet", ["m1", "m2"], f=[3, 4])
    first, second = read_aligned(a, b)
    assert first["y"].tolist() == [1.0, 2.0] and second["f"].tolist() == [3, 4]
    c = _write(tmp_path, "c.parquet", ["m2", "m1"], f=[3, 4])
    with pytest.raises(ValueError, match="c.parquet is not row-aligned"):
        read_aligned(a, c)
    d = _write(tmp_path, "d.parquet", ["m1"], f=[3])
    with pytest.raises(ValueError, match="not row-aligned"):
        read_aligned(a, d)


def test_class_names_in_index_order_and_checked():
    table = pd.DataFrame({"y": [1, 0, 1, 2], "label": ["b", "a", "b", "c"]})
    assert class_names(table, "classification") == ["a", "b", "c"]
    assert class_names(table, "regression") == []
    with pytest.raises(ValueError, match="not 0..K-1"):
        class_names(pd.DataFrame({"y": [0, 2], "label": ["a", "c"]}), "classification")


def test_seed_everything_repeats_python_numpy_and_torch_draws():
    draws = []
    for _ in range(2):
        seed_everything(123)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]
    seed_everything(124)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) != draws[0]


def test_seed_everything_asks_for_deterministic_kernels_only_on_a_gpu():
    # On the CPU the switch only costs start-up (it imports torch's compiler stack).
    code = ("import sys, torch; from molprop.seeding import seed_everything; seed_everything(0); "
            "print(torch.are_deterministic_algorithms_enabled(), 'torch._inductor' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    expected = torch.cuda.is_available() or torch.backends.mps.is_available()
    assert out == [str(expected), str(expected)]


def test_seed_everything_fixes_the_cublas_workspace_on_cuda_unless_set(monkeypatch):
    calls = []
    fake_torch = types.SimpleNamespace(
        manual_seed=lambda seed: None, use_deterministic_algorithms=lambda *a, **k: calls.append((a, k)),
        cuda=types.SimpleNamespace(is_available=lambda: True),
        backends=types.SimpleNamespace(mps=types.SimpleNamespace(is_available=lambda: False)))
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seed_everything(0)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8" and calls == [((True,), {"warn_only": True})]
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    seed_everything(0)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


@pytest.mark.parametrize(("asked", "deterministic"), [("cpu", False), ("cuda", True), ("mps", True)])
def test_a_network_predicts_with_deterministic_kernels_on_a_gpu(monkeypatch, asked, deterministic):
    """Evaluate and `molprop predict` never call seed_everything: choosing the device does."""
    from molprop.models import predictor
    from molprop.nn import device

    calls = []
    monkeypatch.setattr(device, "pick_device", lambda name: torch.device(name))
    monkeypatch.setattr(torch, "use_deterministic_algorithms", lambda *a, **k: calls.append((a, k)))
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    card = types.SimpleNamespace(kind="torch")
    assert predictor.member_device(card, asked) == torch.device(asked)
    assert calls == ([((True,), {"warn_only": True})] if deterministic else [])
    assert ("CUBLAS_WORKSPACE_CONFIG" in os.environ) == deterministic


def test_write_json_is_sorted_stable_and_creates_folders(tmp_path):
    path = tmp_path / "deep" / "m.json"
    write_json(path, {"b": 1, "a": {"d": 2, "c": 3}})
    text = path.read_text()
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": {"c": 3, "d": 2}, "b": 1}
    first = path.read_bytes()
    write_json(path, {"a": {"c": 3, "d": 2}, "b": 1})
    assert path.read_bytes() == first


@pytest.mark.parametrize("for_fingerprints", [False, True])
def test_parse_validated_names_the_molecule_rdkit_cannot_read(for_fingerprints):
    from molprop.molecules import parse_validated

    mols = parse_validated(["CCO", "c1ccccc1"], ["a", "b"], "mol_id", "t", for_fingerprints)
    assert [m.GetNumAtoms() for m in mols] == [3, 6]
    with pytest.raises(ValueError, match=r"mol_id 'b' of t: SMILES 'C1CC' could not be parsed.*validate"):
        parse_validated(["CCO", "C1CC"], ["a", "b"], "mol_id", "t", for_fingerprints)
    with pytest.raises(ValueError, match="row 0 of t: SMILES None"):
        parse_validated([None], range(1), "row", "t", for_fingerprints)


def test_undefined_metrics_are_written_as_null_for_strict_json(tmp_path):
    from molprop.models.store import ModelCard, load_card, save_card

    assert undefined_as_null({"a": [float("nan"), 1.0], "b": (np.float64("nan"),), "c": float("inf")}) == \
        {"a": [None, 1.0], "b": [None], "c": float("inf")}
    save_card(tmp_path, ModelCard("torch", "classification", [], ["m"], ["0", "1"], {"val_roc_auc": float("nan")}))
    text = (tmp_path / "model.json").read_text()
    strict = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in model.json"))
    assert strict["extra"] == {"val_roc_auc": None} and load_card(tmp_path).extra == {"val_roc_auc": None}
