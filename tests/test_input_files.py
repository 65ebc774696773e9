"""Users' own input files read by validate: the ways a spreadsheet export goes wrong, each read
correctly or refused with a message that names the place; no row vanishes unreported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molprop.data.io import InputFileError, read_source, require_columns, short_rows_warning
from molprop.errors import UserInputError
from molprop.validation.config import TargetRules, ValidationConfig, config_from_params
from molprop.validation.curate import curate
from molprop.validation.targets import read_number

ROWS = [("CCO", "1.5", "ethanol"), ("CCCO", "2.0", "propanol"), ("c1ccccc1", "3.25", "benzene"),
        ("CCN", "0.5", "ethylamine"), ("CC(=O)O", "1.0", "acetic acid")]


def _write(path, text: str) -> str:
    path.write_bytes(text.encode())
    return str(path)


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_an_unmatched_quote_that_would_swallow_rows_is_refused(tmp_path, suffix, sep):
    lines = [sep.join(("smiles", "y", "name"))] + [sep.join(row) for row in ROWS]
    lines[2] = sep.join(("CCCO", "2.0", '"propanol (technical'))  # opens a quote it never closes
    lines[4] = sep.join(("CCN", "0.5", 'pipe 5" wide'))  # the next quote, two rows later
    with pytest.raises(InputFileError, match=r"the row that starts on line 3 is not well-formed \(.* expected "
                                             r"after '\"', on line 5\): an unmatched quote"):
        read_source(_write(tmp_path / f"in{suffix}", "\n".join(lines) + "\n"))


def test_a_quoted_field_over_several_lines_is_still_read(tmp_path):
    # its quotes close, whatever the later lines hold (an address with commas)
    text = 'smiles,y,note\nCCO,1.5,"Acme Inc.,\n12 Main St, Boston, MA"\nCCCO,2.0,"5"" pipe"\n'
    table = read_source(_write(tmp_path / "in.csv", text))
    assert table["note"].tolist() == ["Acme Inc.,\n12 Main St, Boston, MA", '5" pipe']


def test_a_trailing_separator_does_not_shift_the_columns(tmp_path):
    first_only = read_source(_write(tmp_path / "a.csv", "smiles,y\nCCO,1.0,\nCCC,2.0\nCCCC,3.5\n"))
    every_row = read_source(_write(tmp_path / "b.csv", "smiles,y\nCCO,1.0,\nCCC,2.0,\nCCCC,3.5,\n"))
    for table in (first_only, every_row):
        assert table["smiles"].tolist() == ["CCO", "CCC", "CCCC"] and table["y"].tolist() == ["1.0", "2.0", "3.5"]
    with pytest.raises(InputFileError, match=r"the first data row has 3 fields, the header 2 \(\['x'\]"):
        read_source(_write(tmp_path / "c.csv", "smiles,y\nCCO,1.0,x\nCCC,2.0\n"))
    # a comment above the header is taken for it: the message shows what was read and says so
    with pytest.raises(InputFileError, match=r"the header read: \['# exported from ELN'\].*delete any line above"):
        read_source(_write(tmp_path / "d.csv", "# exported from ELN\nsmiles,y\nCCO,1.0\n"))
    with pytest.raises(InputFileError) as refused:  # a real header: no line above it to delete
        read_source(_write(tmp_path / "e.csv", "name,smiles,y\nethanol, absolute,CCO,1.0\n"))
    assert "delete any line above" not in str(refused.value)


@pytest.mark.parametrize("quoted", [False, True])
def test_rows_with_fewer_fields_than_the_header_are_named(tmp_path, quoted):
    """A name left out by hand moves the calc value into expt: read, but warned about by line."""
    name = '"ethanol, abs."' if quoted else "ethanol"
    text = f"sep=;\nsmiles;name;expt;calc\nCCO;{name};-5.0;-4.8\n\nCCCO;-4.9;-4.7\nCCCCO;butanol;-4.7\n"
    table = read_source(_write(tmp_path / "in.csv", text))
    assert table["expt"].tolist() == ["-5.0", "-4.7", "-4.7"]  # pandas pads the short rows at their end
    warning = short_rows_warning(table)
    assert warning.startswith("2 row(s) have fewer fields than the header (line(s) 5, 6): ")
    assert short_rows_warning(read_source(_write(tmp_path / "ok.csv", "smiles,y\nCCO,1.0\n\nCCC,2.0\n"))) is None
    # a header ending in a separator names no field there; a form feed in a name breaks no line
    quote = '"' if quoted else ""
    trailing = f"smiles,y,\nCCO,{quote}1.0{quote}\nCCC,2.0\nCCN,\x0c3.0\n"
    assert short_rows_warning(read_source(_write(tmp_path / "trailing.csv", trailing))) is None
    blank_first = "\n\nsmiles,y\nCCO,1\nCCCC\nCCN,2\n"  # pandas skips the blank lines above the header
    assert short_rows_warning(read_source(_write(tmp_path / "blank.csv", blank_first))).startswith(
        "1 row(s) have fewer fields than the header (line(s) 5): ")
    broken = "smiles,name,y\nCCO,eth\x0canol,1.0\nCCC,2.0\nCCN,amine\u2028x,3\n"
    assert short_rows_warning(read_source(_write(tmp_path / "ff.csv", broken))).startswith(
        "1 row(s) have fewer fields than the header (line(s) 3): ")


def test_columns_that_may_be_the_one_meant_are_suggested():
    from molprop.data.io import similar_columns

    assert similar_columns("smiles", ["canonical_smiles", "name", "SMILES std"]) == ["SMILES std", "canonical_smiles"]
    assert similar_columns("y", ["activity", "toxicity", "y_pred"]) == ["y_pred"]  # a word, not a letter
    assert similar_columns("logS", ["LogS", "logs (mol/L)"]) == ["LogS", "logs (mol/L)"]
    assert similar_columns("smiles", ["CID", "CanonicalSMILES", "IsomericSMILES"]) == ["IsomericSMILES",
                                                                                      "CanonicalSMILES"]
    assert similar_columns("expt", ["smiles", "expt[kcal/mol]"]) == ["expt[kcal/mol]"]
    assert "y (kcal/mol)" in similar_columns("y", ["y1", "y2", "y3", "y (kcal/mol)"])  # a place kept for a word


def test_a_repeated_column_name_is_refused(tmp_path):
    with pytest.raises(InputFileError, match=r"names the column\(s\) \['logS'\] more than once"):
        read_source(_write(tmp_path / "in.csv", "smiles,logS,logS\nCCO,,1.0\nCCC,,2.0\n"))


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_excel_semicolon_files_with_a_comma_in_a_quoted_header(tmp_path, newline):
    text = newline.join(['\ufeffsmiles;"log S (mol/L, 25 °C)"', "CCO;1,5", "CCCO;-0,25", ""])
    table = read_source(_write(tmp_path / "in.csv", text))
    assert list(table.columns) == ["smiles", "log S (mol/L, 25 °C)"]
    assert table["log S (mol/L, 25 °C)"].tolist() == ["1,5", "-0,25"]


def test_missing_values_of_nullable_parquet_columns_are_missing(tmp_path):
    frame = pd.DataFrame({"smiles": pd.array(["CCO", None, "CCCO", "CCN", "c1ccccc1", "CCCl"], dtype="string"),
                          "y": pd.array([1.5, 2.0, None, 0.5, 3.0, 1.0], dtype="Float64"),
                          "label": pd.array([1, 0, 1, None, 0, 1], dtype="Int64"),
                          "flag": pd.array([True, False, True, None, False, True], dtype="boolean")})
    frame.to_parquet(tmp_path / "in.parquet")
    table = read_source(tmp_path / "in.parquet")
    regression = curate(table, "smiles", "y", ValidationConfig(n_jobs=1))
    assert dict(zip(regression.rejected["row"], regression.rejected["reason"])) == {1: "missing_smiles",
                                                                                  2: "missing_target"}
    for column, classes in (("label", ["0", "1"]), ("flag", ["False", "True"])):
        result = curate(table, "smiles", column, ValidationConfig(target=TargetRules(task="classification"), n_jobs=1))
        assert result.classes == classes and result.metrics["n_classes"] == 2
        assert result.rejected.set_index("row").loc[3, "reason"] == "missing_target"


def test_single_precision_parquet_targets_are_read_as_the_decimals_they_show(tmp_path):
    # a float32 1.23 was validated as 1.2300000190734863, and that noise went into the models,
    # the metrics and the replicate tolerance (a spread of exactly 0.5 on either side of it)
    frame = pd.DataFrame({"smiles": ["CCO", "CCCO", "CCN", "CCCN"],
                          "y": np.array([1.23, 3.01, np.nan, -0.1], dtype=np.float32),
                          "half": np.array([1.23, 2.0, 0.5, 3.0], dtype=np.float16),
                          "nullable": pd.array([0.1, None, 2.5, 1.0], dtype="Float32")})
    frame.to_parquet(tmp_path / "in.parquet")
    table = read_source(tmp_path / "in.parquet")
    assert table["y"].tolist()[:2] + table["y"].tolist()[3:] == [1.23, 3.01, -0.1] and np.isnan(table["y"][2])
    assert table["half"].tolist() == [1.23, 2.0, 0.5, 3.0] and table["nullable"].tolist()[::2] == [0.1, 2.5]
    result = curate(table, "smiles", "y", ValidationConfig(n_jobs=1))
    assert sorted(result.validated["y"]) == [-0.1, 1.23, 3.01]


def test_a_number_with_an_underscore_is_not_a_number():
    assert read_number("1_000", TargetRules()).reason == "non_numeric_target"


def test_a_continuous_column_read_as_classes_is_refused():
    smiles = ["C" * n for n in range(1, 13)]
    decimals = pd.DataFrame({"smiles": smiles, "y": [f"{-4.5 + n / 7:.3f}" for n in range(12)]}, dtype=object)
    classification = ValidationConfig(target=TargetRules(task="classification"), n_jobs=1)
    with pytest.raises(InputFileError, match=r"12 distinct labels for 12 molecules such as -4.500 \(0-based data "
                                             r"row 0\): is it a continuous"):
        curate(decimals, "smiles", "y", classification)
    one_half = pd.DataFrame({"smiles": smiles, "y": ["0", "1"] * 5 + ["0.5", "1"]}, dtype=object)
    with pytest.raises(InputFileError, match=r"such as 0.5 \(0-based data row 10\)"):
        curate(one_half, "smiles", "y", classification)
    whole = pd.DataFrame({"smiles": smiles, "y": [str(n) for n in range(12)]}, dtype=object)
    with pytest.raises(InputFileError, match="12 of them with one molecule each: is it a continuous"):
        curate(whole, "smiles", "y", classification)
    three = pd.DataFrame({"smiles": smiles, "y": ["a", "b", "c"] * 4}, dtype=object)
    assert curate(three, "smiles", "y", classification).classes == ["a", "b", "c"]


def test_when_every_row_is_rejected_the_message_gives_a_row_and_its_reason():
    rows = pd.DataFrame({"smiles": ["CCO", "CCCO", "CCN"], "y": ["1,5", "2,25", "0,5"]}, dtype=object)
    with pytest.raises(InputFileError, match=r"The first non_numeric_target row \(0, .*data.decimal: ','"):
        curate(rows, "smiles", "y", ValidationConfig(n_jobs=1))


def test_a_target_range_written_max_first_is_refused():
    with pytest.raises(UserInputError, match=r"validate.target_range.y is \[5, -15\]: the minimum is above"):
        config_from_params({"target_range": {"y": [5, -15]}}, "regression", "y")


def test_a_positive_class_yaml_reads_as_a_boolean_names_the_label_so_spelled():
    rows = pd.DataFrame({"smiles": ["CCO", "CCCO", "CCN", "CCCN"], "y": ["TRUE", "FALSE", "TRUE", "FALSE"]},
                        dtype=object)
    config = ValidationConfig(target=TargetRules(task="classification", positive_class=True), n_jobs=1)
    assert curate(rows, "smiles", "y", config).classes == ["FALSE", "TRUE"]
    config = ValidationConfig(target=TargetRules(task="classification", positive_class=False), n_jobs=1)
    assert curate(rows, "smiles", "y", config).classes == ["TRUE", "FALSE"]


def test_the_suffixes_molprop_predict_reads_are_read_by_validate_too(tmp_path):
    from rdkit import Chem

    frame = pd.DataFrame({"smiles": ["CCO", "CCCO"], "y": ["1.5", "2.0"]})
    frame.to_parquet(tmp_path / "in.pq")
    frame.to_csv(tmp_path / "in.txt", sep="\t", index=False)
    with Chem.SDWriter(str(tmp_path / "in.sd")) as writer:
        for smiles, y in zip(frame["smiles"], frame["y"]):
            mol = Chem.MolFromSmiles(smiles)
            mol.SetProp("y", y)
            writer.write(mol)
    for name in ("in.pq", "in.txt", "in.sd"):
        table = read_source(tmp_path / name)
        assert table["smiles"].tolist() == ["CCO", "CCCO"], name


def test_parquet_index_and_byte_columns_are_read_as_data(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from molprop.data.io import as_text

    # set_index("smiles") before to_parquet: the SMILES were dropped with the index
    pd.DataFrame({"smiles": ["CCO", "CCCO"], "y": [1.5, 2.0]}).set_index("smiles").to_parquet(tmp_path / "a.parquet")
    assert read_source(tmp_path / "a.parquet")[["smiles", "y"]].values.tolist() == [["CCO", 1.5], ["CCCO", 2.0]]
    # text stored as bytes (no UTF-8 mark) is text; bytes that are not text stay bytes, and
    # data/raw.parquet keeps them as hex (casting them to text raised UnicodeDecodeError)
    pq.write_table(pa.table({"smiles": pa.array([b"CCO", b"CCCO"], pa.binary()), "y": [1.5, 2.0],
                             "fp": pa.array([b"\x91\x00", None], pa.binary())}), tmp_path / "b.parquet")
    table = read_source(tmp_path / "b.parquet")
    assert table["smiles"].tolist() == ["CCO", "CCCO"] and table["fp"].tolist() == [b"\x91\x00", None]
    raw = as_text(table)
    assert raw["fp"].tolist() == ["9100", pd.NA] and raw["y"].tolist() == ["1.5", "2.0"]
    # one value that is not UTF-8 keeps the column bytes: each cell is still read as text, the
    # bad byte as U+FFFD (refused for it, as predict does), not as "b'CCO'"
    pq.write_table(pa.table({"smiles": pa.array([b"CCO", b"C\x91C"], pa.binary()), "y": [b"1.5", b"2.0"]}),
                   tmp_path / "c.parquet")
    result = curate(read_source(tmp_path / "c.parquet"), "smiles", "y", ValidationConfig(n_jobs=1))
    assert result.validated["smiles"].tolist() == ["CCO"] and result.validated["y"].tolist() == [1.5]
    assert result.rejected["reason"].tolist() == ["non_ascii_smiles"]


def test_a_damaged_gzipped_sd_file_is_named(tmp_path):
    import gzip

    from rdkit import Chem

    block = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")) + "$$$$\n"
    (tmp_path / "cut.sdf.gz").write_bytes(gzip.compress(block.encode() * 200)[:300])
    (tmp_path / "plain.sdf.gz").write_text(block)
    for name in ("cut.sdf.gz", "plain.sdf.gz"):
        with pytest.raises(InputFileError, match=rf"{name}: not a readable gzip file .*; gzip it again"):
            read_source(tmp_path / name)


def test_an_sd_file_saved_as_utf16_is_named_so(tmp_path):
    from rdkit import Chem

    block = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")) + ">  <y>\n1.5\n\n$$$$\n"
    (tmp_path / "wide.sdf").write_bytes(block.encode("utf-16"))
    with pytest.raises(InputFileError, match=r"wide.sdf: record 1 \(from line 1\) holds NUL bytes.*saved as "
                                             r"UTF-16\?\). Save it as UTF-8"):
        read_source(tmp_path / "wide.sdf")


def test_smi_rows_must_have_the_header_s_fields(tmp_path):
    text = "# from vendor X\nsmiles name y\nCCO ethanol 1.0\nC[C@H](N)C(=O)O |&1:1| alanine 2\n"
    table = read_source(_write(tmp_path / "ok.smi", text))  # a comment line before the header is no row
    assert table.values.tolist() == [["CCO", "ethanol", "1.0"], ["C[C@H](N)C(=O)O |&1:1|", "alanine", "2"]]
    # after the header a '#' line is a row (a name such as #7 was dropped without a word)
    table = read_source(_write(tmp_path / "hash.smi", "name smiles y\nethanol CCO 1.0\n#7 CCCO -4.8\n"))
    assert table["name"].tolist() == ["ethanol", "#7"]
    # tabs (Open Babel's SMILES<tab>title): titles with spaces, an empty last field is missing
    table = read_source(_write(tmp_path / "tab.smi", "smiles\tname\ty\nCCO\tethyl alcohol\t1.0\nCCCl\t\t\n"))
    assert table.values.tolist() == [["CCO", "ethyl alcohol", "1.0"], ["CCCl", None, None]]
    # RDKit's SmilesWriter(delimiter="\t") ends the header and each line with a tab
    table = read_source(_write(tmp_path / "rd.smi", "SMILES\tName\ty\t\nCCO\tethanol\t1.0\t\n"))
    assert list(table.columns) == ["SMILES", "Name", "y"] and table.values.tolist() == [["CCO", "ethanol", "1.0"]]
    # a value too many was dropped, a missing one shifted the target into the name column
    for name, row, fields in (("more.smi", "CCN ethylamine 3.5 x", 4), ("fewer.smi", "CCCCC 6", 2)):
        with pytest.raises(InputFileError, match=rf"{name}: line 4 has {fields} whitespace-separated fields, the "
                                                 r"header 3 \(smiles name y\);.* save the table as \.csv or \.tsv"):
            read_source(_write(tmp_path / name, "smiles name y\nCCO e 1\n\n" + row + "\n"))
    # no header at all: the first molecule was called "the header"
    with pytest.raises(InputFileError, match=r"line 3 has 4 whitespace-separated fields, the header 3 \(CCO ethanol "
                                             r"-5.0\); the first line \(CCO ethanol -5.0\) reads as a molecule, not "
                                             r"column names: start the file with a header line"):
        read_source(_write(tmp_path / "bare.smi", "CCO ethanol -5.0\nCCN ethylamine -4.5\nCCCC n butane -2\n"))


SULFOXIDE_V3000 = """{name}
     hand-written   2D

  0  0  0  0  0  0  0  0  0  0999 V3000
M  V30 BEGIN CTAB
M  V30 COUNTS 9 9 0 0 0
M  V30 BEGIN ATOM
M  V30 1 C -1.3 0.75 0 0
M  V30 2 S 0.0 0.0 0 0
M  V30 3 O 0.0 -1.5 0 0
M  V30 4 C 1.3 0.75 0 0
M  V30 5 C 2.6 0.0 0 0
M  V30 6 C 3.9 0.75 0 0
M  V30 7 C 3.9 2.25 0 0
M  V30 8 C 2.6 3.0 0 0
M  V30 9 C 1.3 2.25 0 0
M  V30 END ATOM
M  V30 BEGIN BOND
M  V30 1 1 2 1 CFG={cfg}
M  V30 2 9 2 3
M  V30 3 1 2 4
M  V30 4 2 4 5
M  V30 5 1 5 6
M  V30 6 2 6 7
M  V30 7 1 7 8
M  V30 8 2 8 9
M  V30 9 1 9 4
M  V30 END BOND
M  V30 END CTAB
M  END
$$$$
"""


def test_a_dative_bond_in_a_mol_block_keeps_the_stereocentre_on_it(tmp_path):
    """Third round: the SD reader sanitized the record with its S->O bond (V3000 type 9), which
    dropped the stereo of the S: both enantiomers of methyl phenyl sulfoxide became one."""
    from molprop.data.sdf import record_smiles, sd_molecules

    (tmp_path / "in.sdf").write_text(SULFOXIDE_V3000.format(name="wedge", cfg=1)
                                     + SULFOXIDE_V3000.format(name="hash", cfg=3))
    assert [record_smiles(m) for m in sd_molecules(tmp_path / "in.sdf")] == ["C[S@+]([O-])c1ccccc1",
                                                                             "C[S@@+]([O-])c1ccccc1"]


def test_sd_records_with_racemic_or_relative_stereo_groups_say_so(tmp_path):
    from rdkit import Chem

    with Chem.SDWriter(str(tmp_path / "in.sdf")) as writer:
        writer.SetForceV3000(True)
        for smiles in ("C[C@H](N)C(=O)O |&1:1|", "C[C@H](N)C(=O)O |o1:1|", "C[C@H](N)C(=O)O |a:1|",
                       "C[C@H](N)C(=O)O"):
            writer.write(Chem.MolFromSmiles(smiles))
    table = read_source(tmp_path / "in.sdf")
    assert table["smiles"].tolist() == ["C[C@H](N)C(=O)O |&1:1|", "C[C@H](N)C(=O)O |o1:1|", "C[C@H](N)C(=O)O",
                                        "C[C@H](N)C(=O)O"]  # the racemate was read as one enantiomer
    result = curate(table.assign(y=["1", "2", "3", "3"]), "smiles", "y", ValidationConfig(n_jobs=1))
    assert result.rejected["reason"].tolist() == ["trailing_text", "trailing_text"]
    assert "or set validate.standardize.remove_stereo: true" in result.rejected["message"].iloc[0]
    # the stereo is dropped anyway with remove_stereo: the rows are read (one molecule, merged)
    config = config_from_params({"standardize": {"remove_stereo": True}}, "regression", "y")[0]
    kept = curate(table.assign(y=["1", "1", "1", "1"]), "smiles", "y", config)
    assert kept.rejected.empty and kept.validated["smiles"].tolist() == ["CC(N)C(=O)O"]
    # absolute centres alone say nothing plain SMILES does not
    plain = curate(pd.DataFrame({"smiles": ["C[C@H](N)C(=O)O |a:1|"], "y": ["1"]}), "smiles", "y",
                   ValidationConfig(n_jobs=1))
    assert plain.validated["smiles"].tolist() == ["C[C@H](N)C(=O)O"]


def test_a_header_read_as_one_column_names_the_separator_the_suffix_means(tmp_path):
    # with a quoted field it was "an unmatched quote (\") in it?", without one "Did you mean 'smiles,y'?"
    for text in ("smiles,y\nCCO,1.5\n", 'name,smiles,y\n"ethanol, abs",CCO,1.5\n'):
        with pytest.raises(InputFileError, match=r"was read as one column\. A \.txt file is read as tab-separated\. "
                                                 r"Name the file for its separator: \.csv"):
            read_source(_write(tmp_path / "in.txt", text))


def test_reading_an_sd_file_keeps_rdkit_s_complaints_off_the_terminal(tmp_path):
    import subprocess
    import sys

    from rdkit import Chem

    five_bonds = Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False)
    (tmp_path / "in.sdf").write_text(Chem.MolToMolBlock(five_bonds) + "$$$$\n")
    # a fresh process: importing molprop.validation silences RDKit for the whole test session
    code = f"from molprop.data.sdf import sd_molecules; print(len(list(sd_molecules({str(tmp_path / 'in.sdf')!r}))))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "1"  # read unsanitized: rejected later with a reason
    assert "valence" not in run.stderr


def test_typed_numbers_ignore_the_decimal_mark_of_text_and_sd_properties_stay_text(tmp_path):
    from rdkit import Chem

    from molprop.validation.targets import decimal_mark_mistake

    # data.decimal ',' is for text files: a float Parquet column was read as "1.5" with ',' and refused
    values = [1.5, 2.25, 3.0]
    assert decimal_mark_mistake(values, ",") is None
    config = config_from_params({}, "regression", "y", decimal=",")[0]
    table = pd.DataFrame({"smiles": ["CCO", "CCCO", "CCCCO"], "y": values})
    assert curate(table, "smiles", "y", config).validated["y"].tolist() == values
    # an SD id 0007 was read by RDKit as the number 7 (raw.parquet said 7, predict's id 0007)
    mol = Chem.MolFromSmiles("CCO")
    mol.SetProp("cmpd_id", "0007")
    mol.SetProp("y", "1,5")
    with Chem.SDWriter(str(tmp_path / "in.sdf")) as writer:
        writer.write(mol)
    read = read_source(tmp_path / "in.sdf")
    assert read["cmpd_id"].tolist() == ["0007"] and curate(read, "smiles", "y", config).validated["y"].tolist() == [1.5]


@pytest.mark.parametrize(("name", "content", "named"), [
    ("data.csv", b"\x1f\x8b\x08\x00rest", "gzip-compressed: name it with .gz at the end (data.csv.gz)"),
    ("data.csv", b"PAR1\x15\x04\n\n\x8c\x01rest", "a Parquet file: name it .parquet"),
    ("data.tsv", b"PK\x03\x04\n\xa0rest", "a ZIP archive (an Excel .xlsx workbook is one)"),
    ("data.csv", b"\xd0\xcf\x11\xe0\xa1\xb1", "an Excel .xls workbook"),
    ("data.csv", "smiles,y\nCCO,1\n".encode("utf-16"), "UTF-16 text"),
])
def test_a_binary_file_under_a_text_name_is_named_for_what_it_is(tmp_path, name, content, named):
    """Bug fixed: a gzip or Parquet file named .csv was 'line 1 is not valid UTF-8 (byte 0x8b)'
    with the advice to save it as UTF-8."""
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputFileError, match=r"not a text table but " + named.replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.")):
        read_source(tmp_path / name)


@pytest.mark.parametrize("name, text", [("data.csv", "smiles,y\nCCO,1\n"), ("data.tsv", "smiles\ty\nCCO\t1\n"),
                                        ("data.smi", "CCO ethanol\nCCC propane\n")])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_refused_as_such(tmp_path, name, text, encoding):
    """Bug fixed: UTF-16 without a BOM is valid UTF-8 (every other byte NUL), so it was read
    with column names 's\\x00m\\x00i...' ('no column smiles, did you mean ...'), and a .smi file
    gave rows of garbage SMILES."""
    (tmp_path / name).write_bytes(text.encode(encoding))
    with pytest.raises(InputFileError, match=r"line 1 holds NUL bytes: not UTF-8 text but, most likely, UTF-16 "
                                             r"without a byte-order mark"):
        read_source(tmp_path / name)


def test_a_nul_further_down_is_a_damaged_line_not_utf16(tmp_path):
    """Bug fixed: a NUL deep in a UTF-8 file was called UTF-16, and after Excel's sep=; line the
    line number was one short."""
    path = tmp_path / "late.csv"
    path.write_text("smiles,y\n" + "CCO,1\n" * 20 + "CCC,bad\x00name\n")
    with pytest.raises(InputFileError, match=r"late.csv: line 22 holds a NUL character \(a byte 0, which no text"):
        read_source(path)
    path = tmp_path / "sep.csv"
    path.write_text("sep=;\nsmiles;y\nCCO;1\nCC\x00O;2\n")
    with pytest.raises(InputFileError, match=r"sep.csv: line 4 holds a NUL character"):
        read_source(path)


def test_a_latin1_file_is_still_told_to_save_as_utf8(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes("smiles,y,name\nCCO,1,\xe9thanol\n".encode("latin-1"))
    with pytest.raises(InputFileError, match=r"line 2 is not valid UTF-8 \(byte 0xe9"):
        read_source(path)


def test_parquet_columns_named_twice_are_refused_as_in_a_text_header(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.table([["CCO"], [1.0], [2.0]], names=["smiles", "expt", "expt"]), path)
    with pytest.raises(InputFileError, match=r"names the column\(s\) \['expt'\] more than once; rename"):
        read_source(path)


@pytest.mark.parametrize(("suffix", "header"), [(".csv", "smiles expt"), (".tsv", "smiles expt"),
                                               (".txt", "smiles expt"), (".csv", "SMILES expt")])
def test_a_space_separated_header_is_named_as_such(tmp_path, suffix, header):
    """Bug fixed: 'smiles expt' read as one column gave 'Did you mean 'smiles expt'?'."""
    table = read_source(_write(tmp_path / f"in{suffix}", f"{header}\nCCO -5\nCCCO -4\n"))
    with pytest.raises(InputFileError, match=rf"no column 'smiles' \(data.smiles_column in params.yaml\). The header "
                                             rf"'{header}' was read as one column: are its fields "
                                             r"separated by spaces\? Name such a file \.smi"):
        require_columns(table, {"data.smiles_column": "smiles", "data.target_column": "expt"}, tmp_path / f"in{suffix}")


def test_comment_lines_above_the_header_are_named_whichever_check_finds_them(tmp_path):
    """Bug fixed: with two '#' lines above the header the hint to delete them was missing."""
    for text in ("# data from the lab\n# units kcal/mol\nsmiles,expt\nCCO,-5\n", "My data set\nsmiles,expt\nCCO,-5\n"):
        with pytest.raises(InputFileError, match=r"delete any line above it \(a comment, a title\)"):
            read_source(_write(tmp_path / "in.csv", text))
    path = _write(tmp_path / "in.csv", "# FreeSolv subset, kcal/mol\n# exported 2026\nsmiles,expt\nCCO,-5\n")
    with pytest.raises(InputFileError, match=r"no column 'smiles' .* delete any line above it"):  # read without error
        require_columns(read_source(path), {"data.smiles_column": "smiles", "data.target_column": "expt"}, path)


def test_a_smi_header_behind_a_hash_is_explained(tmp_path):
    path = _write(tmp_path / "in.smi", "#smiles expt\nCCO -5\nCCCO -4\n")
    with pytest.raises(InputFileError, match=r"without a leading '#' \(a line starting with '#' is a comment\)"):
        require_columns(read_source(path), {"data.smiles_column": "smiles", "data.target_column": "expt"}, path)


def test_a_target_range_key_in_another_letter_case_is_warned_about_not_ignored():
    """Bug fixed: target_range {Expt: [-1, 0]} for the column expt checked nothing, silently
    (refusing it, as first fixed, would have put Huuskonen's SOL range on a user's sol in mg/mL)."""
    from molprop.validation.config import target_range_note

    note = target_range_note({"target_range": {"Expt": [-1, 0]}}, "regression", "expt")
    assert note.startswith("validate.target_range has an entry 'Expt' but none for the target column 'expt'")
    assert target_range_note({"target_range": {"Expt": [-1, 0], "expt": [-2, 1]}}, "regression", "expt") is None
    assert target_range_note({"target_range": {"Expt": [-1, 0]}}, "classification", "expt") is None
    assert target_range_note({"target_range": {"SOL": [-15, 5]}}, "regression", "y") is None
    config, _ = config_from_params({"target_range": {"Expt": [-1, 0]}}, "regression", "expt")
    assert config.target.min_value is None  # not checked: warned about


def test_a_gzipped_sd_file_under_a_plain_name_is_named_for_what_it_is(tmp_path):
    import gzip

    path = tmp_path / "library.sdf"
    path.write_bytes(gzip.compress(b"CCO\n  RDKit\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n"))
    with pytest.raises(InputFileError, match=r"not an SD file but gzip-compressed: name it with \.gz at the end "
                                             r"\(library\.sdf\.gz\)"):
        read_source(path)


def test_csv_separator_tie_goes_to_the_semicolon():
    """Catches the slip (io.py csv_separator: ',' tried first, so it wins ties): an Excel CSV with ';'
    and decimal commas splits into 2 fields either way; the docstring says ';' wins."""
    from molprop.data.io import csv_separator

    assert csv_separator("smiles;logS (mol/L, 25 C)", ["CCO;-0,77", "c1ccccc1;-1,64"]) == ";"


def test_csv_separator_needs_every_sample_line_to_fit():
    """Catches the slip (io.py csv_separator: the sample-line check dropped): ',' splits this header
    into more fields, but not the data lines."""
    from molprop.data.io import csv_separator

    assert csv_separator("smiles;logS (mol/L, 25 C, pH 7)", ["CCO;-0.77", "c1ccccc1;-1.64"]) == ";"


def test_csv_separator_prefers_the_one_giving_the_most_fields():
    """Catches the slip (io.py csv_separator: min instead of max over the fitting separators)."""
    from molprop.data.io import csv_separator

    assert csv_separator("smiles;logS (mol/L, 25 C);source", ["CCO;-0,77;lit", "CCN;1,5;lit"]) == ";"


def test_missing_value_words_in_a_csv_stay_text_for_molprop_to_judge(tmp_path):
    """Catches the slip (io.py _read_text_table: keep_default_na=True): pandas' NA words ('NA',
    'None', 'null') became empty cells, so rejected.csv showed '' instead of the cell."""
    from molprop.data.io import read_source

    path = tmp_path / "in.csv"
    path.write_text("smiles,y\nCCO,NA\nCCN,None\nCCC,1.0\n")
    table = read_source(path)
    assert table["y"].tolist() == ["NA", "None", "1.0"]
