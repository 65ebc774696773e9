"""Unit tests of molprop.predict: applicability domain, chunked reading, part files, context."""

import gzip
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from rdkit import Chem
from rdkit.DataStructs import BulkTanimotoSimilarity
from rdkit.Chem import rdFingerprintGenerator

from molprop.predict.context import load_predict_context, save_predict_context
from molprop.predict.domain import TrainingSet, bit_fingerprints
from molprop.predict.parts import PartStore, output_kind, repeated_ids
from molprop.predict.stream import InputError, check_columns, count_rows, iter_chunks, resolve_id_column

SMILES = ["CCO", "CCCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "CCN(CC)CC", "ClC(Cl)Cl", "C", "O=C=O"]
FEATURIZE = {"morgan": {"enabled": True, "radius": 2, "n_bits": 2048, "counts": True},
             "descriptors": {"enabled": False}, "graph": False}


def test_max_similarity_matches_rdkit_bulk_tanimoto():
    train = [Chem.MolFromSmiles(s) for s in SMILES[:5]]
    query = [Chem.MolFromSmiles(s) for s in ["CCO", "CCCCO", "c1ccccc1N", "C1CCCCC1", "O=C=O"]]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    expected = [max(BulkTanimotoSimilarity(gen.GetFingerprint(q), [gen.GetFingerprint(t) for t in train]))
                for q in query]
    domain = TrainingSet(bit_fingerprints(train, 2, 2048), 2048, block=2)  # several blocks
    got = domain.max_similarity(bit_fingerprints(query, 2, 2048))
    assert got[0] == 1.0
    assert got.tolist() == expected  # exactly RDKit's ratio: a threshold it meets is met here too


def test_count_fingerprint_positions_are_the_bit_fingerprint():
    """prepare() takes the domain bits from Morgan counts when radius and size match."""
    from molprop.features.config import MorganConfig
    from molprop.features.fingerprints import morgan_fingerprints

    mols = [Chem.MolFromSmiles(s) for s in SMILES + ["C(F)(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F"]]
    counts, _ = morgan_fingerprints(mols, MorganConfig(radius=2, n_bits=2048, counts=True))
    assert np.array_equal(np.packbits(counts > 0, axis=1), bit_fingerprints(mols, 2, 2048))


def test_large_training_set_is_not_held_unpacked(monkeypatch):
    import molprop.predict.domain as domain_module

    monkeypatch.setattr(domain_module, "_UNPACKED_CACHE_BYTES", 0)
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    small = TrainingSet(bit_fingerprints(mols, 2, 2048), 2048, block=3)
    assert small._unpacked is None
    query = bit_fingerprints(mols[::-1], 2, 2048)
    assert np.array_equal(small.max_similarity(query), np.ones(len(mols), np.float32))


def _write_inputs(tmp_path, n):
    frame = pd.DataFrame({"smiles": [SMILES[i % len(SMILES)] for i in range(n)],
                          "name": [f"m{i}" for i in range(n)]})
    frame.loc[3, "smiles"] = None
    frame.to_csv(tmp_path / "in.csv", index=False)
    frame.to_csv(tmp_path / "in.tsv", sep="\t", index=False)
    (tmp_path / "shards").mkdir()
    frame.iloc[:7].to_parquet(tmp_path / "shards" / "a.parquet")
    frame.iloc[7:].to_parquet(tmp_path / "shards" / "b.parquet", row_group_size=4)
    lines = ["smiles name", *[f"{s or ''} {n}".strip() for s, n in zip(frame.smiles, frame.name)]]
    lines.insert(5, "")  # a blank line is skipped
    (tmp_path / "in.smi").write_text("\n".join(lines) + "\n")
    return frame


@pytest.mark.parametrize("name", ["in.csv", "in.tsv", "shards"])
def test_every_format_gives_the_same_chunks(tmp_path, name):
    frame = _write_inputs(tmp_path, 23)
    chunks = list(iter_chunks(tmp_path / name, 5, "smiles", "name"))
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["row"].tolist() == list(range(23))
    assert whole["id"].tolist() == frame["name"].tolist()
    assert pd.isna(whole["smiles_input"][3])
    assert whole["smiles_input"].drop(3).tolist() == frame["smiles"].drop(3).tolist()


def test_a_shard_directory_skips_hidden_and_underscore_files_as_pyarrow_does(tmp_path):
    """Bug fixed: a failed Spark job's _temporary/ copy and a hidden .tmp file were read as well:
    4 rows predicted where pandas reads 2."""
    frame = _write_inputs(tmp_path, 10)
    shards = tmp_path / "shards"
    (shards / "_temporary" / "0").mkdir(parents=True)
    (shards / "sub").mkdir()
    frame.to_parquet(shards / "_temporary" / "0" / "a.parquet")
    frame.to_parquet(shards / ".tmp-1.parquet")
    frame.to_parquet(shards / "_old.parquet")
    frame.iloc[:2].to_parquet(shards / "sub" / "c.parquet")  # a subfolder is read
    (tmp_path / "elsewhere").mkdir()
    frame.iloc[2:3].to_parquet(tmp_path / "elsewhere" / "d.parquet")
    (shards / "zlink").symlink_to(tmp_path / "elsewhere", target_is_directory=True)  # followed, as by pyarrow
    (shards / "sub" / "loop").symlink_to(shards, target_is_directory=True)  # a loop ends
    assert count_rows(shards) == 13
    whole = pd.concat(iter_chunks(shards, 5, "smiles", "name"), ignore_index=True)
    assert whole["id"].tolist() == frame["name"].tolist() + ["m0", "m1", "m2"]


def test_parquet_text_stored_as_bytes_is_read_as_text(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"smiles": pa.array([b"CCO", b"C\x91C"], pa.binary()),
                             "name": pa.array([b"e", b"x"], pa.binary())}), tmp_path / "b.parquet")
    whole = pd.concat(iter_chunks(tmp_path / "b.parquet", 5, "smiles", "name"), ignore_index=True)
    assert whole["smiles_input"].tolist() == ["CCO", "C\ufffdC"]  # not "b'CCO'"; U+FFFD is refused later
    assert whole["id"].tolist() == ["e", "x"]


def test_integer_ids_of_a_parquet_column_with_a_gap_stay_integers(tmp_path):
    # pandas writes [1, 2, NaN, 4] as floats: the ids came out 1.0, 2.0, 2 (the row), 4.0
    pd.DataFrame({"smiles": ["CCO", "CCN", "CCC", "CCCl"], "id": [1, 2, np.nan, 4],
                  "code": [1.5, 2.0, 3.25, 1e3]}).to_parquet(tmp_path / "ids.parquet")
    whole = pd.concat(iter_chunks(tmp_path / "ids.parquet", 3, "smiles", "id"), ignore_index=True)
    assert whole["id"].tolist() == ["1", "2", "2", "4"]
    whole = pd.concat(iter_chunks(tmp_path / "ids.parquet", 3, "smiles", "code"), ignore_index=True)
    assert whole["id"].tolist() == ["1.5", "2", "3.25", "1000"]
    # single precision: 0.1 came out 0.10000000149011612
    pd.DataFrame({"smiles": ["CCO", "CCN", "CCC"], "id": np.array([0.1, np.nan, 7.0], np.float32)}).to_parquet(
        tmp_path / "f32.parquet")
    whole = pd.concat(iter_chunks(tmp_path / "f32.parquet", 3, "smiles", "id"), ignore_index=True)
    assert whole["id"].tolist() == ["0.1", "1", "7"]
    # whole values as stored (and shown by pandas), not rounded to float32's shortest decimals
    pd.DataFrame({"smiles": ["CCO", "CCN", "CCC"], "id": np.array([123456789, 65504, 3.4e38], np.float32)}).to_parquet(
        tmp_path / "whole.parquet")
    whole = pd.concat(iter_chunks(tmp_path / "whole.parquet", 3, "smiles", "id"), ignore_index=True)
    assert whole["id"].tolist()[:2] == ["123456792", "65504"] and float(whole["id"][2]) == float(np.float32(3.4e38))


def test_semicolon_csv_is_read_like_a_comma_csv(tmp_path):
    frame = _write_inputs(tmp_path, 9)
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    expected = pd.concat(iter_chunks(tmp_path / "in.csv", 4, "smiles", "name"), ignore_index=True)
    found = pd.concat(iter_chunks(tmp_path / "semi.csv", 4, "smiles", "name"), ignore_index=True)
    pd.testing.assert_frame_equal(found, expected)


def test_sd_file_records_titles_properties_and_unsanitizable_records(tmp_path):
    records = [("CCO", "ethanol", "E1"), ("C(C)(C)(C)(C)C", "", "E2"), ("c1ccccc1", "benzene", "E3")]
    blocks = []
    for smiles, title, code in records:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        mol.SetProp("_Name", title)
        blocks.append(Chem.MolToMolBlock(mol) + f"> <code>\n{code}\n\n$$$$\n")
    path = tmp_path / "lib.sdf"
    path.write_text("".join(blocks))
    assert resolve_id_column(path, None) == (None, "sdf")
    chunks = list(iter_chunks(path, 2))
    assert [len(c) for c in chunks] == [2, 1]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["id"].tolist() == ["ethanol", "1", "benzene"]  # no title: the row number
    assert whole["smiles_input"].tolist() == ["CCO", "CC(C)(C)(C)C", "c1ccccc1"]  # left for validation
    by_code = pd.concat(iter_chunks(path, 5, id_column="code"), ignore_index=True)
    assert by_code["id"].tolist() == ["E1", "E2", "E3"]
    with pytest.raises(InputError, match="no id column 'cod'. Did you mean 'code'"):
        resolve_id_column(path, "cod")
    (tmp_path / "lib.sdf.gz").write_bytes(gzip.compress(path.read_bytes()))
    pd.testing.assert_frame_equal(pd.concat(iter_chunks(tmp_path / "lib.sdf.gz", 5), ignore_index=True), whole)
    path.write_text(blocks[0] + "not a mol block\n$$$$\n")
    with pytest.raises(InputError, match=r"record 2 \(counting from 1; from line \d+, .*\) is not a readable mol"):
        list(iter_chunks(path, 5))


@pytest.mark.parametrize("name", ["in.csv", "in.tsv", "in.smi"])
def test_gzipped_text_inputs_read_like_the_plain_ones(tmp_path, name):
    _write_inputs(tmp_path, 11)
    (tmp_path / f"{name}.gz").write_bytes(gzip.compress((tmp_path / name).read_bytes()))
    id_column = None if name.endswith(".smi") else "name"
    plain = pd.concat(iter_chunks(tmp_path / name, 4, "smiles", id_column), ignore_index=True)
    gzipped = pd.concat(iter_chunks(tmp_path / f"{name}.gz", 4, "smiles", id_column), ignore_index=True)
    pd.testing.assert_frame_equal(gzipped, plain)
    (tmp_path / "x.parquet.gz").write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(InputError, match="unknown input type '.parquet.gz'"):
        iter_chunks(tmp_path / "x.parquet.gz", 4)
    (tmp_path / f"cut_{name}.gz").write_bytes((tmp_path / f"{name}.gz").read_bytes()[:-12])
    with pytest.raises(InputError, match="could not be read to the end .* damaged .gz"):
        list(iter_chunks(tmp_path / f"cut_{name}.gz", 4, "smiles", id_column))


def test_smi_lines_and_missing_ids(tmp_path):
    (tmp_path / "x.smi").write_text("# comment\nCCO ethanol\n\nc1ccccc1\nCCN\tZINC01  -0.5\n")
    chunk = next(iter_chunks(tmp_path / "x.smi", 10))
    assert chunk["smiles_input"].tolist() == ["CCO", "c1ccccc1", "CCN"]
    assert chunk["id"].tolist() == ["ethanol", "1", "ZINC01"]  # no id: the row number; 2nd field
    assert resolve_id_column(tmp_path / "x.smi", None) == (None, "smi")
    with pytest.raises(InputError, match="does not name the column 'smiles', so it is no header"):
        resolve_id_column(tmp_path / "x.smi", "name")


def test_smi_with_a_header_is_read_by_column_names_as_validate_reads_it(tmp_path):
    # by position, the header was a molecule, the target an id, a SMILES in field 2 unread
    (tmp_path / "a.smi").write_text("canonical_smiles\tchembl_id\tpIC50\nCCO\tCHEMBL545\t5.1\n#x\tC2\t4\n")
    chunk = next(iter_chunks(tmp_path / "a.smi", 10, "canonical_smiles"))
    assert chunk["smiles_input"].tolist() == ["CCO", "#x"] and chunk["id"].tolist() == ["CHEMBL545", "C2"]
    (tmp_path / "b.smi").write_text("smiles expt compound\nCCO -5.0 ethanol\n")  # no id column: row numbers
    assert next(iter_chunks(tmp_path / "b.smi", 10))["id"].tolist() == ["0"]
    assert next(iter_chunks(tmp_path / "b.smi", 10, "smiles", "compound"))["id"].tolist() == ["ethanol"]
    (tmp_path / "c.smi").write_text("CCO\tCompound 1\nCCCO\tCompound 2\n")  # Open Babel: titles with spaces
    assert next(iter_chunks(tmp_path / "c.smi", 10))["id"].tolist() == ["Compound 1", "Compound 2"]
    with pytest.raises(InputError, match="the header line has no column 'nme'"):
        iter_chunks(tmp_path / "b.smi", 10, "smiles", "nme")
    # the id column a run uses (given, detected, row numbers), and another name for the SMILES
    (tmp_path / "d.smi").write_text("structure cid name y\nCCO A1 eth 1\nCCN A2 am 2\n")
    assert resolve_id_column(tmp_path / "d.smi", "cid", "structure") == ("cid", "given")
    assert resolve_id_column(tmp_path / "d.smi", None, "structure") == ("name", "detected")
    assert resolve_id_column(tmp_path / "b.smi", None) == (None, "row")
    assert resolve_id_column(tmp_path / "c.smi", None) == (None, "smi")
    assert next(iter_chunks(tmp_path / "d.smi", 10, "structure", "cid"))["id"].tolist() == ["A1", "A2"]
    # under a header, a line with more or fewer fields stops the run as validate stops: a name
    # with a space took its first word as the SMILES ("vitamin C" became methane) or the id
    (tmp_path / "f.smi").write_text("name smiles\naspirin CC(=O)Oc1ccccc1C(=O)O\nvitamin C OCC1OC(=O)C(O)=C1O\n")
    with pytest.raises(InputError, match=r"f.smi: line 3 has 3 whitespace-separated fields, the header 2 "
                                         r"\(name smiles\);.* a name with a space splits in two"):
        list(iter_chunks(tmp_path / "f.smi", 10))
    (tmp_path / "g.smi").write_text("smiles\tname\t\nCCO\teth\t\nCCN\t\t\n")  # SmilesWriter's trailing tabs
    assert next(iter_chunks(tmp_path / "g.smi", 10, "smiles", "name"))["id"].tolist() == ["eth", "1"]  # no id: the row number
    # a headerless file whose first line has a tab: a line without one is split on whitespace
    (tmp_path / "e.smi").write_text("CCO\tethanol\nCCN ethylamine\n")
    chunk = next(iter_chunks(tmp_path / "e.smi", 10))
    assert chunk["smiles_input"].tolist() == ["CCO", "CCN"] and chunk["id"].tolist() == ["ethanol", "ethylamine"]


def test_a_list_of_smiles_without_a_header_is_explained(tmp_path):
    """A .txt or .csv of SMILES alone had "no SMILES column 'smiles'. Columns: ['CCO']"."""
    for name in ("plain.txt", "plain.csv"):
        (tmp_path / name).write_text("CCO\nc1ccccc1\nCCN\n")
        with pytest.raises(InputError, match=r"no SMILES column 'smiles'. The first line holds the molecule 'CCO', "
                                             r"not column names: .* or name it .smi"):
            check_columns(tmp_path / name, "smiles", None)
    (tmp_path / "pair.csv").write_text("c1ccccc1O,phenol\nCCO,ethanol\n")
    with pytest.raises(InputError, match=r"The first line holds the molecule 'c1ccccc1O'"):
        check_columns(tmp_path / "pair.csv", "smiles", None)
    (tmp_path / "cn.csv").write_text("structure,CN\nCCO,4\n")  # a column CN beside others: no molecule
    with pytest.raises(InputError, match=r"no SMILES column 'smiles'. Columns"):
        check_columns(tmp_path / "cn.csv", "smiles", None)
    (tmp_path / "bare.csv").write_text("CCO,-0.77\nCCN,1.2\n")  # letters alone, but beside a number
    with pytest.raises(InputError, match=r"The first line holds the molecule 'CCO'"):
        check_columns(tmp_path / "bare.csv", "smiles", None)
    (tmp_path / "atoms.csv").write_text("ID,Smiles,N atoms,logS\n1,CCO,3,0.5\n")  # 'N atoms' reads as N
    with pytest.raises(InputError, match=r"Did you mean 'Smiles'\? Columns") as err:
        check_columns(tmp_path / "atoms.csv", "smiles", None)
    assert "molecule" not in str(err.value)
    (tmp_path / "named.csv").write_text("SMILES,y\nCCO,1\n")  # a word, not a molecule
    with pytest.raises(InputError, match=r"Did you mean 'SMILES'\?"):
        check_columns(tmp_path / "named.csv", "smiles", None)


def test_input_errors_name_the_problem(tmp_path):
    _write_inputs(tmp_path, 10)
    with pytest.raises(InputError, match="Did you mean 'smiles'"):
        iter_chunks(tmp_path / "in.csv", 5, "SMILE")
    with pytest.raises(InputError, match="no id column 'nme'"):
        iter_chunks(tmp_path / "shards", 5, "smiles", "nme")
    (tmp_path / "in.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match="unknown input type"):
        iter_chunks(tmp_path / "in.xlsx", 5)
    with pytest.raises(InputError, match="missing.csv: input not found.$"):
        iter_chunks(tmp_path / "missing.csv", 5)
    # Bug fixed: a SMILES given as --input (or '-') was "unknown input type ''"
    with pytest.raises(InputError, match=r"CCO: input not found \(--input names a file: write SMILES to a \.smi"):
        iter_chunks("CCO", 5)
    assert count_rows(tmp_path / "shards") == 10 and count_rows(tmp_path / "in.csv") is None


@pytest.mark.parametrize("columns, found", [
    (["smiles", "id"], "id"),
    (["Compound ID", "SMILES", "Name"], "Compound ID"),  # case, spaces; id names before name
    (["smiles", "_Name"], "_Name"),  # the title of an SDF export
    (["name", "smiles", "MOL_ID"], "MOL_ID"),  # order of preference, not of the columns
    (["smiles", "value"], None),
])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_id_column_is_detected(tmp_path, columns, found, suffix):
    frame = pd.DataFrame({c: [f"{c}{i}" for i in range(3)] for c in columns})
    path = tmp_path / f"in{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    assert resolve_id_column(path, None) == (found, "detected" if found else "row")
    smiles = next(c for c in columns if c.lower() == "smiles")
    chunk = next(iter_chunks(path, 10, smiles, found))
    assert chunk["id"].tolist() == (frame[found].tolist() if found else ["0", "1", "2"])
    assert resolve_id_column(path, "value" if "value" in columns else smiles)[1] == "given"


def test_a_blank_line_of_a_one_column_csv_is_an_empty_row(tmp_path):
    """(bug fixed: pandas skipped it, the row vanished and later rows' numbers shifted)."""
    (tmp_path / "one.csv").write_text("smiles\nCCO\n\nc1ccccc1\n   \nCCN\n")
    chunks = list(iter_chunks(tmp_path / "one.csv", 2, "smiles", None))
    rows = pd.concat(chunks)
    assert rows["row"].tolist() == [0, 1, 2, 3, 4] and rows["smiles_input"].tolist()[3:] == ["   ", "CCN"]
    assert pd.isna(rows["smiles_input"].iloc[1])
    (tmp_path / "above.csv").write_text("\n \nsmiles\nCCO\n\nCCN\n")  # blank lines above the header: no rows
    assert pd.concat(iter_chunks(tmp_path / "above.csv", 2, "smiles", None))["row"].tolist() == [0, 1, 2]
    with gzip.open(tmp_path / "mac.csv.gz", "wb") as handle:  # old Mac line ends (a lone \r), gzipped
        handle.write(b"\rsmiles\rCCO\r\rc1ccccc1\r")
    (tmp_path / "mac.csv").write_bytes(b"\xef\xbb\xbf\rsmiles\rCCO\r\rc1ccccc1\r")  # and a BOM
    for name in ("mac.csv.gz", "mac.csv"):
        rows = pd.concat(iter_chunks(tmp_path / name, 2, "smiles", None))
        assert rows["smiles_input"].tolist()[::2] == ["CCO", "c1ccccc1"] and pd.isna(rows["smiles_input"].iloc[1])
    (tmp_path / "two.csv").write_text("id,smiles\na,CCO\n\nb,CCN\n")  # a wider table: no fields, no row
    assert pd.concat(iter_chunks(tmp_path / "two.csv", 2, "smiles", "id"))["id"].tolist() == ["a", "b"]


def test_a_missing_id_column_lists_the_columns(tmp_path):
    pd.DataFrame({"smiles": ["C"], "Compound ID": ["a"], "pIC50": [5.0]}).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(InputError, match=r"no id column 'compound_id'.*'Compound ID'.*Columns: \['smiles', "
                                         r"'Compound ID', 'pIC50'\]"):
        resolve_id_column(tmp_path / "in.csv", "compound_id")


def test_repeated_ids_are_counted_in_one_or_several_passes(tmp_path):
    ids = [["a", "b", "c", "a"], ["d", "b", "a", None], [str(i) for i in range(50)]]
    files = []
    for k, part in enumerate(ids):
        files.append(tmp_path / f"p{k}.parquet")
        pd.DataFrame({"id": part}).to_parquet(files[-1])
    for per_pass in (1000, 7):  # 58 ids: one pass, or nine hash buckets
        count, examples = repeated_ids(files, 58, per_pass)
        assert count == 3 and sorted(examples) == ["a", "b"]  # "a" x3, "b" x2
    assert repeated_ids(files[2:], 50) == (0, [])


def _table(rows):
    return pa.table({"row": pa.array(rows, pa.int64()), "status": pa.array(["ok"] * len(rows), pa.string())})


def test_csv_output_header_is_quoted_like_its_rows(tmp_path):
    """A class name with a comma or a quote is one column (bug fixed: the header was joined
    with commas unquoted, so every column after it was shifted by one)."""
    table = pa.table({"row": [0, 1], 'p_(A) polar, "small"': [0.25, 0.5], "status": ["ok", "ok"]})
    store = PartStore(tmp_path / "out.csv", {"input": {"md5": "a"}})
    store.write(0, table, {"rows": 2})
    read = pd.read_csv(store.finish(1, table.schema))
    assert read.columns.tolist() == table.column_names
    assert read['p_(A) polar, "small"'].tolist() == [0.25, 0.5] and read["status"].tolist() == ["ok", "ok"]


def test_a_run_killed_between_writing_a_part_and_recording_it_resumes(tmp_path):
    """(bug fixed: a manifest listing no part beside a part file or an unfinished write was
    refused as 'not a molprop predict output ... no _manifest.json', though the manifest was there)."""
    identity = {"input": {"md5": "a"}, "model": {"md5": "b"}, "settings": {"chunk_size": 2}}
    out = tmp_path / "out.parquet"
    store = PartStore(out, identity)
    store.write(0, _table([0, 1]), {"rows": 2})
    folder = tmp_path / "out.parquet.parts"
    (folder / "part-000001.parquet").write_bytes((folder / "part-000000.parquet").read_bytes())  # unrecorded
    (folder / ".part-000002.parquet.tmp").write_bytes(b"half")
    again = PartStore(out, identity)
    assert again.done() == {0} and sorted(p.name for p in folder.iterdir()) == ["_manifest.json", "part-000000.parquet"]
    # a kill before the first part was recorded: an empty manifest beside the part
    (folder / "part-000000.parquet").rename(folder / "part-000003.parquet")
    (folder / "_manifest.json").write_text(json.dumps(again.manifest | {"parts": {}}))
    assert PartStore(out, identity).done() == set() and not (folder / "part-000003.parquet").exists()
    (tmp_path / "mine").mkdir()  # without a manifest nothing is deleted
    (tmp_path / "mine" / "part-000000.parquet").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not a molprop predict output"):
        PartStore(tmp_path / "mine", identity)
    assert (tmp_path / "mine" / "part-000000.parquet").exists()


def test_parts_resume_merge_and_refuse_another_run(tmp_path):
    identity = {"input": {"md5": "a"}, "model": {"md5": "b", "files": "saved_model_files"},
                "settings": {"chunk_size": 2}}
    out = tmp_path / "out.parquet"
    store = PartStore(out, identity)
    store.write(0, _table([0, 1]), {"rows": 2})
    store.write(2, _table([4]), {"rows": 1})
    again = PartStore(out, identity)  # a restart sees what is done
    assert again.done() == {0, 2}
    with pytest.raises(RuntimeError, match=r"chunks \[1\] are missing"):
        again.finish(3, _table([]).schema)
    with pytest.raises(ValueError, match="holds a part-finished run with another model"):
        PartStore(out, identity | {"model": {"md5": "c", "files": "saved_model_files"}})
    again.write(1, _table([2, 3]), {"rows": 2})
    assert again.finish(3, _table([]).schema) == out
    assert pd.read_parquet(out)["row"].tolist() == [0, 1, 2, 3, 4]
    assert not (tmp_path / "out.parquet.parts").exists()
    with pytest.raises(FileExistsError, match="overwrite"):
        PartStore(out, identity)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    for overwrite in (False, True):  # a folder that is not a predict output is never used or deleted
        with pytest.raises(FileExistsError, match="not a molprop predict output"):
            PartStore(tmp_path / "mine", identity, overwrite=overwrite)
    assert (tmp_path / "mine" / "notes.txt").exists()
    assert output_kind(tmp_path / "dir") == "directory" and output_kind("x.csv") == "csv"
    with pytest.raises(ValueError, match="unknown output type"):
        output_kind("x.xlsx")
    with pytest.raises(ValueError, match="not standard output"):  # it made a directory named '-'
        output_kind("-")


def test_a_run_that_wrote_no_part_leaves_nothing_and_blocks_nothing(tmp_path):
    identity = {"input": {"md5": "a"}, "model": {"md5": "b"}, "settings": {"smiles_column": "smiles"}}
    out = tmp_path / "out.csv"
    store = PartStore(out, identity)  # then, say, a wrong column stops the run
    store.discard_if_empty()
    assert list(tmp_path.iterdir()) == []
    PartStore(out, identity)  # a folder left by a killed run, before its first part
    again = PartStore(out, identity | {"settings": {"smiles_column": "SMILES"}})  # the corrected command
    assert again.manifest["settings"] == {"smiles_column": "SMILES"}
    again.write(0, _table([0]), {"rows": 1})
    again.discard_if_empty()  # a part is kept
    assert again.done() == {0}
    # the folders it made go, the ones that were there stay (an empty one was deleted)
    (tmp_path / "empty").mkdir()
    PartStore(tmp_path / "empty", identity).discard_if_empty()
    PartStore(tmp_path / "new" / "deeper" / "x.csv", identity).discard_if_empty()
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())
    assert not (tmp_path / "new").exists()


def test_the_output_lock_removes_the_folders_it_made_when_the_run_left_them_empty(tmp_path):
    from molprop.predict.parts import output_lock

    with output_lock(tmp_path / "n5" / "a" / "b" / "out.csv"):
        assert (tmp_path / "n5" / "a" / "b" / "out.csv.lock").is_file()
    assert not (tmp_path / "n5").exists()
    with output_lock(tmp_path / "kept" / "out.csv"):
        (tmp_path / "kept" / "out.csv").write_text("rows")
    assert (tmp_path / "kept" / "out.csv").is_file()


def test_overwrite_replaces_the_runs_files_and_keeps_the_users_own(tmp_path):
    """--overwrite on a directory output deleted the whole folder, a notebook put there too."""
    identity = {"input": {"md5": "a"}, "model": {"md5": "b"}, "settings": {"chunk_size": 2}}
    out = tmp_path / "results"
    store = PartStore(out, identity)
    store.write(0, _table([0, 1]), {"rows": 2})
    (out / "analysis.ipynb").write_text("notes")
    (out / "figs").mkdir()
    again = PartStore(out, identity | {"settings": {"chunk_size": 3}}, overwrite=True)
    assert again.done() == set() and again.manifest["settings"] == {"chunk_size": 3}
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json", "analysis.ipynb", "figs"]
    again.write(0, _table([0, 1, 2]), {"rows": 3})
    assert PartStore(out, identity | {"settings": {"chunk_size": 3}}).done() == {0}  # resumed beside them
    again.discard_if_empty()  # a part is there: nothing removed
    assert (out / "analysis.ipynb").is_file()


def test_context_round_trip_is_byte_reproducible(tmp_path):
    validate = {"standardize": {"cleanup": True, "fragment_parent": True, "neutralize": True,
                                "canonical_tautomer": False, "remove_stereo": True},
                "identity_key": "smiles", "rules": {"max_heavy_atoms": 50}}
    for name in ("a", "b"):
        save_predict_context(tmp_path / name, validate, FEATURIZE, SMILES, "md5hash", {"rmse": 1.0})
        (tmp_path / name / "model.json").write_text("{}")
    for file in ("predict_context.json", "train_fingerprints.npy"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    context = load_predict_context(tmp_path / "a")
    standardize, rules = context.standardization()
    assert standardize.remove_stereo and rules.max_heavy_atoms == 50
    # a step left out of params ran with its default, and the context says so
    assert standardize.isotope_parent and context.validate["standardize"]["isotope_parent"] is True
    # a context saved before isotope_parent existed: the model was trained on labelled isotopes
    saved = json.loads((tmp_path / "a" / "predict_context.json").read_text())
    del saved["validate"]["standardize"]["isotope_parent"]
    (tmp_path / "a" / "predict_context.json").write_text(json.dumps(saved))
    assert not load_predict_context(tmp_path / "a").standardization()[0].isotope_parent
    assert context.n_train == len(SMILES) and context.train_fingerprints.shape == (len(SMILES), 256)
    config = context.featurization(["morgan"], graph=False)
    assert config.morgan.counts and config.descriptors is None
    with pytest.raises(ValueError, match="inconsistent"):
        context.featurization(["descriptors"], graph=False)
    assert json.loads((tmp_path / "a" / "predict_context.json").read_text())["data_hash"] == "md5hash"


def test_context_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved molprop model"):
        load_predict_context(tmp_path)
    # Bug fixed: a fresh clone without `dvc pull` was told its models/model is "not a saved
    # molprop model; give a model directory such as models/model"
    with pytest.raises(FileNotFoundError, match=r"models/model does not exist\. The models are DVC outputs: in a "
                                                r"fresh clone, fetch them with `dvc pull`"):
        load_predict_context(tmp_path / "models" / "model")
    (tmp_path / "member_0").mkdir()  # what a train stage killed before its end leaves
    with pytest.raises(FileNotFoundError, match="is incomplete: it holds member folders but no model.json.*"
                                                "`dvc checkout --force "):  # plain checkout keeps the changed files
        load_predict_context(tmp_path)
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="Retrain it"):
        load_predict_context(tmp_path)
    with pytest.raises(ValueError, match="could not be parsed"):
        save_predict_context(tmp_path, {}, FEATURIZE, ["CCO", "C1CC"], "h")
    save_predict_context(tmp_path, {}, FEATURIZE, ["CCO", "CCN"], "h")
    (tmp_path / "train_fingerprints.npy").unlink()  # a model directory copied or pulled in part
    with pytest.raises(FileNotFoundError, match="train_fingerprints.npy is missing .* Copy the model directory whole, `dvc pull --force` it"):
        load_predict_context(tmp_path)


def test_cli_and_runner_import_no_heavy_module():
    import subprocess
    import sys

    code = ("import sys, molprop.cli, molprop.predict.runner, molprop.predict.ray_executor; "
            "print(sorted(m for m in ('torch', 'ray', 'sklearn', 'mlflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_csv_is_read_as_validate_reads_it(tmp_path):
    """A ';' file whose header holds a comma in a name, and one after Excel's 'sep=;' line."""
    for name, text in (("unit.csv", "smiles;logS (mol/L, 25 C);name\nCCO;-0,77;ethanol\nc1ccccc1;-1,64;benzene\n"),
                       ("excel.csv", "sep=;\nsmiles;name\nCCO;ethanol\nc1ccccc1;benzene\n")):
        path = tmp_path / name
        path.write_text(text)
        chunk = next(iter_chunks(path, 10, id_column="name"))
        assert chunk["smiles_input"].tolist() == ["CCO", "c1ccccc1"] and chunk["id"].tolist() == ["ethanol", "benzene"]


@pytest.mark.parametrize("name, text, message", [
    ("open.csv", 'id,smiles,note\n1,CCO,"open quote\n2,CCN,x\n3,CCC,y\n4,CCCC,"closed"\n5,CO,z\n',
     r"the row that starts on line 2 is not well-formed .* on line 5\): an unmatched quote"),
    ("open_to_the_end.tsv", 'id\tsmiles\tnote\n1\tCCO\ta\n2\tCCN\t"x\n3\tCCC\ty\n',
     r"the row that starts on line 3 is not well-formed \(unexpected end of data"),
    ("later_wide_row.csv", "id,name,smiles\nm1,ethanol,CCO\nm2,Acme, Inc. sample,CCN\n",
     "line 3 has 4 fields, the header 3"),
    ("small_open_to_the_end.csv", 'id,smiles,note\n1,CCO,"x\n2,CCN,y\n', r"EOF inside string.*unmatched quote"),
    ("twice.csv", "id,smiles,smiles\n1,CCO,CCN\n", r"names the column\(s\) \['smiles'\] more than once"),
    ("wide_first_row.csv", "id,smiles\n1,CCO,-0,5\n", "the first data row has 4 fields, the header 2"),
    ("empty.csv", "", "the file is empty"),
])
def test_a_table_that_would_lose_or_shift_rows_is_refused_as_validate_refuses_it(tmp_path, name, text, message):
    # read as chunks of the SMILES and id columns alone, the rows swallowed by an open quote in
    # another column vanished without a word
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        list(iter_chunks(tmp_path / name, 2, "smiles", "id"))
    (tmp_path / "fine.csv").write_text('id,smiles,note\n1,CCO,"Acme Inc.,\n12 Main St, Boston, MA"\n2,CCN,"b, c"\n')
    assert next(iter_chunks(tmp_path / "fine.csv", 5))["smiles_input"].tolist() == ["CCO", "CCN"]
    # a separator ending each data row but not the header: no shift of the columns (validate's reading)
    (tmp_path / "trailing.csv").write_text("SMILES,Name,MW\nCCO,ethanol,46.07,\nc1ccccc1O,phenol,94.11,\n")
    chunk = next(iter_chunks(tmp_path / "trailing.csv", 5, "SMILES", "Name"))
    assert chunk["smiles_input"].tolist() == ["CCO", "c1ccccc1O"] and chunk["id"].tolist() == ["ethanol", "phenol"]


def test_a_long_field_is_read_and_a_cut_gzip_is_named_as_damaged(tmp_path):
    long_note = "x" * 200_000  # beyond the csv module's default field limit; pandas reads it
    (tmp_path / "long.csv").write_text(f"smiles,note\nCCO,{long_note}\nCCN,y\n")
    assert next(iter_chunks(tmp_path / "long.csv", 5))["smiles_input"].tolist() == ["CCO", "CCN"]
    data = gzip.compress(("smiles\n" + "CCO\n" * 300_000).encode())
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) * 4 // 5])  # the header reads; the end is gone
    with pytest.raises(InputError, match="could not be read to the end .* damaged .gz"):
        list(iter_chunks(tmp_path / "cut.csv.gz", 1000))


@pytest.mark.parametrize("where", [1, 30_000])
def test_text_that_is_not_utf8_is_reported_with_its_line(tmp_path, where):
    rows = "".join(f"{i},CCO\n" for i in range(40_000)).encode()
    lines = rows.split(b"\n")
    lines[where - 1] = b"M\xe9thanol,CO"  # the data row on file line where + 1
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"id,smiles\n" + b"\n".join(lines))
    with pytest.raises(InputError, match=rf"line {where + 1} is not valid UTF-8 \(byte 0xe9 .* 'CSV UTF-8'"):
        list(iter_chunks(path, 1000, "smiles", "id"))
    path.write_bytes(b"id,smiles\r" + b"\r".join(lines))  # Excel for Mac ends lines with \r alone
    with pytest.raises(InputError, match=rf"line {where + 1} is not valid UTF-8"):
        list(iter_chunks(path, 1000, "smiles", "id"))


def test_a_header_read_as_one_column_names_the_separator_the_suffix_means(tmp_path):
    (tmp_path / "q.txt").write_text('name,smiles,expt\n"ethanol, abs",CCO,-5.0\n')
    with pytest.raises(InputError, match=r"read as one column: A \.txt file is read as tab-separated"):
        iter_chunks(tmp_path / "q.txt", 5)


@pytest.mark.parametrize(("device", "gpus", "n_actors", "share"), [
    ("cpu", 4, 16, 0.0), ("auto", 0, 16, 0.0), ("auto", 2, 2, 1.0), ("cuda", 2, 1, 1.0),
    ("cuda", 1, 16, 0.0625), ("auto", 3, 16, 0.1666)])
def test_ray_actors_ask_for_a_share_of_the_cluster_s_gpus(device, gpus, n_actors, share):
    """Ray hides the GPUs from an actor that asks for none (auto ran on the CPU, cuda failed);
    the shares add up to no more than the GPUs, so every actor of the pool can start."""
    from molprop.predict.ray_executor import gpus_per_actor

    assert gpus_per_actor(device, gpus, n_actors) == share
    if share:
        assert share * -(-n_actors // gpus) <= 1


@pytest.mark.parametrize(("device", "gpus", "message"), [
    ("cuda", 0, "the Ray cluster has no GPU"), ("cuda:1", 4, "Ray gives each actor its GPU")])
def test_ray_refuses_a_gpu_it_cannot_give(device, gpus, message):
    from molprop.errors import UserInputError
    from molprop.predict.ray_executor import gpus_per_actor

    with pytest.raises(UserInputError, match=message):
        gpus_per_actor(device, gpus, 4)


def test_sd_file_ids_are_stripped_like_table_ids(tmp_path):
    from rdkit import Chem

    from molprop.predict.stream import iter_chunks

    block = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    path = tmp_path / "in.sdf"
    path.write_text("  ethanol  " + block[block.index("\n"):] + ">  <cid>\n  C1  \n\n$$$$\n")
    assert list(pd.concat(iter_chunks(path, 10))["id"]) == ["ethanol"]
    assert list(pd.concat(iter_chunks(path, 10, id_column="cid"))["id"]) == ["C1"]


def test_a_smiles_column_under_a_longer_name_is_suggested(tmp_path):
    (tmp_path / "in.csv").write_text("canonical_smiles,name\nCCO,ethanol\n")
    with pytest.raises(InputError, match="no SMILES column 'smiles'. Did you mean 'canonical_smiles'"):
        next(iter_chunks(tmp_path / "in.csv", 10))


def test_a_run_digested_by_an_earlier_version_is_named_so(tmp_path):
    """The model digest covered every file of the model's folder until 2026-12-07: such a run
    is not 'another model'."""
    out = tmp_path / "out.parquet"
    old = {"input": {"md5": "a"}, "model": {"md5": "b"}, "settings": {"chunk_size": 2}}
    PartStore(out, old).write(0, _table([0, 1]), {"rows": 2})
    with pytest.raises(ValueError, match="part-finished run with a model digest of an earlier molprop version"):
        PartStore(out, old | {"model": {"md5": "c", "files": "saved_model_files"}})


@pytest.mark.parametrize("name, text", [("in.csv", "smiles,name\nCCO,ethanol\n"), ("in.smi", "CCO ethanol\n")])
def test_predict_refuses_utf16_without_a_byte_order_mark(tmp_path, name, text):
    """Bug fixed: a .csv was 'no SMILES column smiles, did you mean s\\x00m\\x00i...', and a .smi
    file was predicted as two invalid molecules."""
    (tmp_path / name).write_bytes(text.encode("utf-16-le"))
    with pytest.raises(InputError, match="holds NUL bytes: not UTF-8 text but, most likely, UTF-16"):
        resolve_id_column(tmp_path / name, None, "smiles")
    # with its byte-order mark it is named as such (it was told it had none)
    (tmp_path / name).write_bytes(text.encode("utf-16"))
    with pytest.raises(InputError, match=r"not a text table but UTF-16 text \(Excel's 'Unicode Text'\)"):
        resolve_id_column(tmp_path / name, None, "smiles")


def test_predict_reads_nul_bytes_and_binary_starts_as_validate_does(tmp_path):
    """Bugs fixed: a NUL past the first 64 KiB was predicted (the id kept with a NUL in it) where
    validate refuses the file; a CSV whose first column is named PAR1 (a protease receptor) was
    'a Parquet file'; plain text named .smi.gz gave a bare 'Not a gzipped file'."""
    par1 = tmp_path / "par1.csv"
    par1.write_text("PAR1,smiles\n0,CCO\n1,CCC\n")
    assert resolve_id_column(par1, None, "smiles") == (None, "row")
    assert len(pd.concat(iter_chunks(par1, 5, "smiles"))) == 2
    deep = tmp_path / "deep.csv"
    deep.write_text("id,smiles\n" + "".join(f"M{i},CCO\n" for i in range(12000)) + "M99\x00,CCC\n")
    with pytest.raises(InputError, match="deep.csv: line 12002 holds a NUL character"):
        list(iter_chunks(deep, 5000, "smiles", "id"))
    # a NUL in the second line of a quoted field, or right after a closing quote: the NUL's own line
    # (the row's first line; 'an unmatched quote')
    for name, row in (("multi.csv", '"bad\nsecond\x00line",CCC\n'), ("quote.csv", '"badid"\x00,CCC\n')):
        (tmp_path / name).write_text("id,smiles\n" + "".join(f"M{i},CCO\n" for i in range(12000)) + row)
        line = 12003 if name == "multi.csv" else 12002
        with pytest.raises(InputError, match=f"{name}: line {line} holds a NUL character"):
            list(iter_chunks(tmp_path / name, 5000, "smiles", "id"))
    smi = tmp_path / "deep.smi"
    smi.write_text("".join(f"CCO m{i}\n" for i in range(12000)) + "CC\x00C x\n")
    with pytest.raises(InputError, match="deep.smi: line 12001 holds a NUL character"):
        list(iter_chunks(smi, 5000))
    plain = tmp_path / "plain.smi.gz"
    plain.write_text("CCO ethanol\n")
    with pytest.raises(InputError, match=r"plain.smi.gz: not a readable gzip file .*; gzip it again"):
        resolve_id_column(plain, None, "smiles")


def _prepared_batch(similarity):
    import pandas as pd

    from molprop.features.chunk import ChunkResult
    from molprop.features.config import FeaturizeConfig, MorganConfig
    from molprop.predict.chunk import OK, Prepared

    config = FeaturizeConfig(morgan=MorganConfig(), descriptors=None, graph=False)
    n = len(similarity)
    frame = pd.DataFrame({"row": np.arange(n), "id": [f"m{i}" for i in range(n)], "smiles_input": ["CCO"] * n,
                          "smiles": ["CCO"] * n, "status": [OK] * n, "reason": [None] * n, "message": [None] * n})
    n_bits = MorganConfig().n_bits
    features = ChunkResult(np.zeros((n, n_bits), np.uint8), 0, None, None)
    return Prepared(frame, features, np.asarray(similarity, float)), config


class _FakeModel:
    def __init__(self, task, classes, members):
        from types import SimpleNamespace

        self.card = SimpleNamespace(task=task, classes=classes)
        self.members = np.asarray(members, float)
        self.feature_columns = []

    def predict(self, features, graphs=None):
        from types import SimpleNamespace

        mean = self.members.mean(axis=0)
        return SimpleNamespace(mean=mean, members=self.members,
                               uncertainty=None if mean.ndim > 1 else self.members.std(axis=0))


def test_a_classifier_s_uncertainty_is_the_spread_of_the_predicted_class():
    """Catches the slip (predict/chunk.py: argmin instead of argmax picks the class whose spread is
    reported; invisible with two classes, wrong with three)."""
    from molprop.predict.chunk import predict_prepared

    batch, config = _prepared_batch([0.9])
    members = [[[0.6, 0.3, 0.1]], [[0.8, 0.1, 0.1]]]  # (members, molecules, classes)
    table = predict_prepared([batch], _FakeModel("classification", ["a", "b", "c"], members), config, 0.3)
    out = table.to_pandas()
    assert out["prediction"].tolist() == ["a"]
    assert out["uncertainty"].tolist() == pytest.approx([0.1])
