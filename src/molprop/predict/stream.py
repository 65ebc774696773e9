"""Reading a molecule library in fixed-size chunks, never the whole file at once.

Formats: CSV / TSV (``pandas.read_csv(chunksize=...)``), Parquet (one file or a directory of
shards, read in file-name order with ``ParquetFile.iter_batches``) and ``.smi`` (one
``SMILES [name ...]`` per line, fields separated by tabs where the first line holds one,
else by whitespace: the second field is the id, further fields are ignored; a first line
naming the SMILES column is a header, and its columns are read by name as validate reads
them; blank lines, and lines starting with ``#`` before the first one, are skipped) and SD
files (one record at a time, as ``molprop.data.sdf`` reads them; the SMILES is written from
the mol block, the id is the record's title or the SD property named as id column). Every chunk but
the last holds exactly ``chunk_size`` molecules, so chunk ``k`` is always the same rows of the
same input: the unit of resumption. The text formats may be gzipped (``.csv.gz``, ``.smi.gz``,
``.sdf.gz``, ...).

A chunk is a DataFrame with ``row`` (0-based data row of the input), ``id`` (the id column,
or the row number as text without one or where the id cell is empty) and ``smiles_input``
(the SMILES cell as text, None when empty). ``resolve_id_column`` picks the id column of a
table: the one named, else the first of ``ID_COLUMNS`` present.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from molprop.data.io import (InputFileError, binary_format, check_header, check_records, file_suffix,
                             first_invalid_utf8, is_smi_comment, not_gzip, nul_message, one_column_hint, open_text,
                             read_as_one_column, reads_as_molecule, refuse_nul_bytes, similar_columns, smi_fields,
                             smi_row, table_layout, without_trailing_empty)
from molprop.errors import UserInputError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".parquet": "parquet",
           ".pq": "parquet", ".smi": "smi", ".smiles": "smi", ".sdf": "sdf", ".sd": "sdf"}  # fmt: skip
# Id columns recognized without --id-column, in order of preference. Names are compared
# case-insensitively, with spaces and hyphens read as underscores ("Compound ID" is
# compound_id; "_Name" is the molecule title of an SDF export).
ID_COLUMNS = ("id", "mol_id", "molecule_id", "compound_id", "cmpd_id", "molecule_chembl_id",
              "chembl_id", "zinc_id", "name", "_name", "title")  # fmt: skip


class InputError(ValueError):
    """A problem with the input as a whole (missing file, unknown format, missing column)."""


def input_format(path: str | Path) -> str:
    """``csv``, ``tsv``, ``parquet``, ``smi`` or ``sdf`` from the file suffix, before a ``.gz``
    of a gzipped text file (a directory: Parquet shards)."""
    path = Path(path)
    if path.is_dir():
        return "parquet"
    if not path.exists():  # before its suffix: --input CCO is a SMILES, not a file of an unknown type
        hint = "" if path.suffix else " (--input names a file: write SMILES to a .smi file, one per line)"
        raise InputError(f"{path}: input not found{hint}.")
    suffix, gzipped = file_suffix(path)
    fmt = FORMATS.get(suffix)
    if fmt == "parquet" and gzipped:  # Parquet compresses inside the file
        fmt = None
    if fmt is None:
        shown = "".join(path.suffixes[-2:]) if gzipped else path.suffix
        raise InputError(f"{path}: unknown input type '{shown}'; use .csv, .tsv, .parquet, "
                         ".smi, .sdf (text formats also gzipped, e.g. .sdf.gz) or a directory of Parquet shards.")
    return fmt


def input_files(path: str | Path) -> list[Path]:
    """The file(s) of an input: itself, or the ``*.parquet`` shards of a directory and its
    subfolders, sorted, without those whose name or folder starts with '.' or '_' (a Spark
    job's _temporary/, hidden files), which pyarrow's and Spark's dataset readers skip too."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: input not found.")
    if path.is_dir():
        files = _shards(path)
        if not files:
            raise InputError(f"{path}: a directory without *.parquet files.")
        return files
    return [path]


def _shards(directory: Path) -> list[Path]:
    """The ``*.parquet`` files under ``directory``, sorted, following symlinked folders (once
    each: a link loop ends), skipping names that start with '.' or '_'."""
    found, visited = [], set()
    for root, folders, names in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            folders[:] = []
            continue
        visited.add(real)
        folders[:] = [f for f in folders if not f.startswith((".", "_"))]
        found += [Path(root) / n for n in names
                  if n.endswith(".parquet") and not n.startswith((".", "_")) and (Path(root) / n).is_file()]
    return sorted(found)


def _first_line_molecule(columns: list[str]) -> str | None:
    """The column name that is a molecule, when the names look like a first row of data (a
    file without a header): a SMILES beside a number, or one that is no word of letters alone
    ('CN', 'CO' may name real columns); never a name with a space ('N atoms')."""
    numbers = any(_is_number(c) for c in columns)
    return next((c for c in columns if not any(ch.isspace() for ch in c)
                 and (len(columns) == 1 or numbers or not c.isalpha()) and reads_as_molecule(c)), None)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _require(columns: list[str], name: str | None, what: str, path: Path) -> None:
    if name is None or name in columns:
        return
    close = similar_columns(name, [str(c) for c in columns])
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    if read_as_one_column(columns) and input_format(path) != "parquet":
        hint = " The header was read as one column:" + one_column_hint(path)
    text_table = FORMATS.get(file_suffix(path)[0]) in ("csv", "tsv")  # (path may name a part of the input)
    molecule = _first_line_molecule([str(c) for c in columns]) if text_table else None
    if molecule is not None:
        hint += (f" The first line holds the molecule '{molecule}', not column names: give the file a header "
                 f"line that names the column ('{name}'), or name it .smi (one SMILES per line, no header needed).")
    more = f" and {len(columns) - 50} more" if len(columns) > 50 else ""
    raise InputError(f"{path}: no {what} column '{name}'.{hint} Columns: {columns[:50]}{more}.")


def column_names(path: str | Path) -> list[str] | None:
    """The column names of a table input (of its first Parquet shard); None for ``.smi`` and
    SD files."""
    path = Path(path)
    fmt = input_format(path)
    if fmt in ("smi", "sdf"):
        return None
    file = input_files(path)[0]
    if fmt == "parquet":
        try:
            return pq.read_schema(file).names
        except (pa.ArrowInvalid, OSError) as err:
            raise InputError(f"{file}: not a readable Parquet file ({err}).") from err
    _refuse_non_text(file)
    try:
        sep, skip = _separator(file, fmt)
        return pd.read_csv(file, sep=sep, skiprows=skip, nrows=0, encoding="utf-8-sig").columns.tolist()
    except pd.errors.EmptyDataError as err:
        raise InputError(f"{file}: the file is empty (no header, no rows).") from err
    except pd.errors.ParserError as err:  # a quote left open to the end of a small file, say
        raise InputError(_not_well_formed(file, err)) from err
    except UnicodeDecodeError as err:
        raise InputError(first_invalid_utf8(file) or f"{file}: not a readable table ({err}).") from err
    except (OSError, EOFError) as err:
        raise InputError(_damaged(file, err)) from err


def _refuse_non_text(path: Path) -> None:
    """InputError for a text input whose start is no UTF-8 but, by its first bytes, another
    format (UTF-16 with its byte-order mark, gzip, Parquet, an Excel workbook), or holds NUL
    bytes (UTF-16 without the mark, read as UTF-8); other unreadable starts are left to the
    reader's own messages. (NULs further down: :func:`molprop.data.io.check_records`.)"""
    try:
        with open_text(path) as handle:
            start = handle.read(1 << 16)
    except UnicodeDecodeError:
        what = binary_format(path)
        if what:
            raise InputError(f"{path}: not a text table but {what}.") from None
        return
    except (OSError, EOFError):
        return
    try:
        refuse_nul_bytes(path, start)
    except InputFileError as err:
        raise InputError(str(err)) from err


def check_columns(path: str | Path, smiles_column: str, id_column: str | None) -> None:
    """Raise ``InputError`` when the input (every Parquet shard) lacks a named column."""
    path = Path(path)
    fmt = input_format(path)
    if fmt == "smi":  # columns only where the first line is a header naming the SMILES column
        header = smi_positions(smi_header(path)[1], smiles_column, id_column)
        if (smiles_column != "smiles" or id_column is not None) and not header[0]:
            raise InputError(f"{path}: the first line does not name the column '{smiles_column}', so it is no "
                             "header: the SMILES are the first field of each line and the ids the second. Add a "
                             "header line, or leave out --smiles-column / --id-column.")
        if id_column is not None and header[2] is None:
            raise InputError(f"{path}: the header line has no column '{id_column}' (--id-column).")
        return
    if fmt == "sdf":
        if id_column is not None:
            _require(sorted(_first_record_properties(path)), id_column, "id",
                     Path(f"{path} (the SD properties of its first record)"))
        return
    for file in input_files(path) if fmt == "parquet" else [path]:
        names = column_names(file)
        _require(names, smiles_column, "SMILES", file)
        _require(names, id_column, "id", file)


def _normal(name: str) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def resolve_id_column(path: str | Path, id_column: str | None,
                      smiles_column: str = "smiles") -> tuple[str | None, str]:
    """The id column of an input and how it was chosen: ``(id_column, "given")``;
    ``(column, "detected")``, the first of ``ID_COLUMNS`` the table (or a .smi file's header
    line) has; ``(None, "row")`` (no id column: the row number); ``(None, "smi")`` (a .smi file
    without a header: the names on its lines); ``(None, "sdf")`` (an SD file: the record titles)."""
    if input_format(path) == "sdf":
        check_columns(path, smiles_column, id_column)
        return (id_column, "given") if id_column is not None else (None, "sdf")
    if input_format(path) == "smi":
        check_columns(path, smiles_column, id_column)  # refuses columns a headerless file lacks
        first = smi_header(Path(path))[1]
        header, _, id_at = smi_positions(first, smiles_column, id_column)
        if not header:
            return None, "smi"
        if id_column is not None:
            return id_column, "given"
        return (first[id_at], "detected") if id_at is not None else (None, "row")
    names = column_names(path)
    if id_column is not None:
        _require(names, id_column, "id", Path(path))
        return id_column, "given"
    for wanted in ID_COLUMNS:
        found = [n for n in names if _normal(n) == wanted]
        if found:
            return found[0], "detected"
    return None, "row"


def count_rows(path: str | Path) -> int | None:
    """Number of molecules when cheap to know (Parquet metadata), else None."""
    if input_format(path) != "parquet":
        return None
    return sum(pq.ParquetFile(f).metadata.num_rows for f in input_files(path))


def _text(value: object) -> object:
    """Bytes (Parquet text written without its UTF-8 mark) as text; a non-UTF-8 byte becomes
    U+FFFD, which the SMILES checks refuse."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _frame(start: int, ids: list | None, smiles: list) -> pd.DataFrame:
    rows = range(start, start + len(smiles))
    smiles, ids = [_text(s) for s in smiles], ids and [_text(i) for i in ids]
    # i != i: NaN; a whole float is an integer id of a Parquet column that has a missing value
    # (pandas stores such a column as floats): 7, not 7.0
    id_text = [str(r) if i is None or i == "" or i != i else
               str(int(i)) if isinstance(i, float) and i.is_integer() and abs(i) < 2**53 else str(i)
               for r, i in zip(rows, ids or [None] * len(smiles))]
    text = [None if s is None or (isinstance(s, float) and s != s) else str(s) for s in smiles]
    return pd.DataFrame({"row": pd.array(rows, dtype="int64"), "id": id_text, "smiles_input": text})


def _id_values(column: pa.Array) -> list:
    """A Parquet id column's values; float32 / float16 fractions as the decimals they show (0.1,
    not the 0.10000000149011612 of their widening to Python floats); whole ones as stored
    (123456792: what pandas and pyarrow show)."""
    values = column.to_pylist()
    if pa.types.is_floating(column.type) and column.type.bit_width < 64:
        shown = column.to_numpy(zero_copy_only=False).astype(str)
        return [v if v is None or float(v).is_integer() else float(text) for v, text in zip(values, shown)]
    return values


def _parquet(path: Path, chunk_size: int, smiles_column: str, id_column: str | None) -> Iterator[pd.DataFrame]:
    columns = [smiles_column] + ([id_column] if id_column else [])
    start, ids, smiles = 0, [], []
    for file in input_files(path):
        handle = pq.ParquetFile(file)
        for batch in handle.iter_batches(batch_size=chunk_size, columns=columns):
            smiles += batch.column(smiles_column).to_pylist()
            if id_column:
                ids += _id_values(batch.column(id_column))
            while len(smiles) >= chunk_size:
                yield _frame(start, ids[:chunk_size] if id_column else None, smiles[:chunk_size])
                start, smiles, ids = start + chunk_size, smiles[chunk_size:], ids[chunk_size:]
        handle.close()
    if smiles:
        yield _frame(start, ids if id_column else None, smiles)


def _separator(path: Path, fmt: str) -> tuple[str, int]:
    """A TSV's tab, or a CSV's separator as validate finds it (:func:`table_layout`), and the
    lines before the header (Excel's ``sep=;`` line)."""
    if fmt != "csv":
        return "\t", 0
    with open_text(path, errors="replace") as handle:
        return table_layout(handle.read(1 << 16))


def check_text_table(path: Path, layout: tuple[str, int]) -> None:
    """Raise ``InputError`` for what would lose or shift rows of a CSV / TSV without a word, as
    validate refuses it: a column named twice, a row with more fields than the header, an
    unmatched quote that swallows the rows after it, text that is not UTF-8. One pass over the
    file, before any chunk is read (the chunks read only the SMILES and id columns)."""
    sep, skip = layout
    try:
        with open_text(path) as handle:
            for _ in range(skip):
                handle.readline()
            check_header(path, handle.read(1 << 16), sep)
        with open_text(path, newline="") as handle:
            for _ in range(skip):
                handle.readline()
            check_records(path, handle, sep, skip)
    except InputFileError as err:
        raise InputError(str(err)) from err
    except UnicodeDecodeError as err:
        raise InputError(first_invalid_utf8(path) or f"{path}: not UTF-8 text ({err}).") from err
    except (OSError, EOFError) as err:
        raise InputError(_damaged(path, err)) from err


def _table(path: Path, layout: tuple[str, int], chunk_size: int, smiles_column: str,
           id_column: str | None) -> Iterator[pd.DataFrame]:
    usecols = [smiles_column] + ([id_column] if id_column else [])
    sep, skip = layout
    # index_col=False, as validate reads: rows ending in a separator the header lacks would
    # otherwise make the first column the index and shift every other one
    header = pd.read_csv(path, sep=sep, skiprows=skip, nrows=0, dtype=str, encoding="utf-8-sig", index_col=False)
    # A blank line of a one-column file is an empty cell (a spreadsheet column with a gap
    # exports so): a row with its reason, not skipped (it was, and later rows' numbers shifted);
    # blank lines above the header are skipped. In a wider table a blank line holds no fields
    # at all: not a row.
    one_column = len(header.columns) == 1
    with ExitStack() as stack:
        source, skiprows, encoding = path, skip, "utf-8-sig"
        if one_column:  # read from the header on, as Python splits lines (pandas counts a lone \r apart)
            source, skiprows, encoding = stack.enter_context(_at_header(path, skip)), 0, None
        reader = stack.enter_context(pd.read_csv(
            source, sep=sep, skiprows=skiprows, usecols=usecols, dtype=str, keep_default_na=False, na_values=[""],
            chunksize=chunk_size, encoding=encoding, index_col=False, skip_blank_lines=not one_column))
        start = 0
        for part in reader:
            if part.empty:  # a header-only file reads as one empty chunk: it has no molecules
                continue
            part = part.astype(object).where(part.notna(), None)
            ids = part[id_column].tolist() if id_column else None
            yield _frame(start, ids, part[smiles_column].tolist())
            start += len(part)


@contextmanager
def _at_header(path: Path, skip: int) -> Iterator[TextIO]:
    """The text file positioned at its header line: past the first ``skip`` lines and the
    blank (or whitespace-only) lines after them."""
    with open_text(path) as handle:
        for _ in range(skip):
            handle.readline()
        while True:
            position = handle.tell()
            line = handle.readline()
            if not line or line.strip():
                break
        handle.seek(position)
        yield handle


def smi_header(path: Path) -> tuple[bool, list[str]]:
    """Whether a ``.smi`` file's fields are tab-separated (its first line of content holds a
    tab), and that line's fields."""
    _refuse_non_text(path)
    try:
        with open_text(path) as handle:
            for line in handle:
                if line.strip() and not is_smi_comment(line):
                    tab = "\t" in line
                    return tab, smi_fields(line, tab)
    except UnicodeDecodeError as err:
        raise InputError(first_invalid_utf8(path) or f"{path}: not UTF-8 text ({err}).") from err
    except (OSError, EOFError) as err:
        raise InputError(_damaged(path, err)) from err
    return False, []


def smi_positions(first: list[str], smiles_column: str, id_column: str | None) -> tuple[bool, int, int | None]:
    """(the first line is a header, position of the SMILES, position of the id or None: row
    numbers) of a ``.smi`` file. A first line naming ``smiles_column`` is a header, read as
    validate reads it: the id is ``id_column`` or the first of ``ID_COLUMNS`` it names (none:
    row numbers). Without one, the SMILES is the first field and the id the second."""
    names = [_normal(name) for name in first]
    if _normal(smiles_column) not in names:
        return False, 0, 1
    wanted = [_normal(id_column)] if id_column else list(ID_COLUMNS)
    id_at = next((names.index(name) for name in wanted if name in names), None)
    return True, names.index(_normal(smiles_column)), id_at


def _smi(path: Path, chunk_size: int, smiles_column: str, id_column: str | None) -> Iterator[pd.DataFrame]:
    tab, first = smi_header(path)
    header, smiles_at, id_at = smi_positions(first, smiles_column, id_column)
    names = without_trailing_empty(first)  # SmilesWriter ends its header with a tab
    start, ids, smiles, started = 0, [], [], False
    with open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if "\x00" in line:  # as validate refuses it
                raise InputError(nul_message(path, number))
            if not started:  # comments before the first line of content; then the header, if any
                if not line.strip() or is_smi_comment(line):
                    continue
                started = True
                if header:
                    continue
            # a CXSMILES extension stays with its SMILES (refused there); under a header a line
            # holds its fields, as validate reads it (a name with a space would shift the id)
            try:
                fields = smi_row(line, names, tab, path, number) if header else smi_fields(line, tab)
            except InputFileError as err:
                raise InputError(str(err)) from err
            if not fields:
                continue
            smiles.append(fields[smiles_at] if smiles_at < len(fields) else None)
            ids.append(fields[id_at] if id_at is not None and id_at < len(fields) else None)
            if len(smiles) == chunk_size:
                yield _frame(start, ids, smiles)
                start, ids, smiles = start + chunk_size, [], []
    if smiles:
        yield _frame(start, ids, smiles)


def _first_record_properties(path: Path) -> dict[str, object]:
    from molprop.data.sdf import SDRecordError, sd_molecules, sd_properties

    records = sd_molecules(path)
    try:
        first = next(records, None)
    except SDRecordError as err:
        raise InputError(str(err)) from err
    finally:
        records.close()
    return {} if first is None else sd_properties(first)


def _sdf(path: Path, chunk_size: int, id_column: str | None) -> Iterator[pd.DataFrame]:
    from molprop.data.sdf import SDRecordError, record_smiles, sd_molecules

    start, ids, smiles, key = 0, [], [], id_column or "_Name"
    try:
        for mol in sd_molecules(path):
            smiles.append(record_smiles(mol))
            ids.append(mol.GetProp(key).strip() if mol.HasProp(key) else None)
            if len(smiles) == chunk_size:
                yield _frame(start, ids, smiles)
                start, ids, smiles = start + chunk_size, [], []
    except SDRecordError as err:
        raise InputError(str(err)) from err
    if smiles:
        yield _frame(start, ids, smiles)


def iter_chunks(path: str | Path, chunk_size: int, smiles_column: str = "smiles",
                id_column: str | None = None) -> Iterator[pd.DataFrame]:
    """The input's molecules, ``chunk_size`` at a time, in file order (see the module doc)."""
    if chunk_size < 1:
        raise UserInputError(f"chunk_size must be >= 1, got {chunk_size}")
    path = Path(path)
    fmt = input_format(path)
    check_columns(path, smiles_column, id_column)
    if fmt == "parquet":
        return _parquet(path, chunk_size, smiles_column, id_column)
    if fmt == "smi":
        return _to_the_end(path, _smi(path, chunk_size, smiles_column, id_column))
    if fmt == "sdf":
        return _to_the_end(path, _sdf(path, chunk_size, id_column))
    layout = _separator(path, fmt)
    check_text_table(path, layout)
    return _to_the_end(path, _table(path, layout, chunk_size, smiles_column, id_column))


def _to_the_end(path: Path, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``chunks``, with a text input that cannot be read to its end (a truncated or damaged
    ``.gz``) reported as an ``InputError``."""
    try:
        yield from chunks
    except pd.errors.ParserError as err:  # a quote left open to the end of the file, say
        raise InputError(_not_well_formed(path, err)) from err
    except (OSError, EOFError) as err:
        raise InputError(_damaged(path, err)) from err


def _not_well_formed(path: Path, err: BaseException) -> str:
    return (f"{path}: not a well-formed table ({err}); an unmatched quote (\") in it? Remove that quote "
            "or close it.")


def _damaged(path: Path, err: BaseException) -> str:
    if isinstance(err, gzip.BadGzipFile):  # no gzip at all: plain text named .gz
        return not_gzip(path, err)
    return (f"{path}: could not be read to the end ({err}); a truncated download or a damaged .gz? "
            "Replace the file and run again with --overwrite (the parts written so far, if any, belong "
            "to the damaged file).")
