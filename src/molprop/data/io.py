"""Reading the user's input table (built-in descriptor, CSV, TSV, Parquet, SDF, .smi).

Text files are read with every column as text, so a target such as ``<10`` arrives as it
was written and can be rejected with a reason instead of being coerced or dropped. A
``.csv`` file may be separated by commas, semicolons or tabs (found from its header line).
Text files and SD files may be gzipped (``.csv.gz``, ``.sdf.gz``).
"""

from __future__ import annotations

import codecs
import difflib
import gzip
import io
from pathlib import Path
from typing import TextIO

import pandas as pd

from molprop.errors import UserInputError

TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".smi": r"\s+", ".smiles": r"\s+"}
SUPPORTED = (".yaml", ".yml", ".parquet", ".sdf", *TEXT_SEPARATORS)


class InputFileError(UserInputError):
    """A problem with the input file as a whole; the validate stage stops on it."""


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if file_suffix(path)[1]:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:  # not gzip, or cut short
            raise InputFileError(f"{path}: not a readable gzip file ({err}); gzip it again or give "
                                 "the uncompressed file.") from err
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = bom + err.start
        line = data[:offset].count(b"\n") + 1
        raise InputFileError(
            f"{path}: line {line} is not valid UTF-8 (byte 0x{data[offset]:02x} at offset "
            f"{offset}). Save the file as UTF-8 (e.g. in Excel: 'CSV UTF-8'), or fix that line."
        ) from err


def file_suffix(path: str | Path) -> tuple[str, bool]:
    """(lower-case suffix of the file's format, whether the name ends in ``.gz``): ``.csv``,
    True for ``My.CSV.gz``."""
    name = Path(path).name.lower()
    gzipped = name.endswith(".gz")
    return Path(name.removesuffix(".gz")).suffix, gzipped


def open_text(path: str | Path, encoding: str = "utf-8-sig", errors: str = "strict") -> TextIO:
    """A text file for reading, gunzipped on the fly when its name ends in ``.gz``."""
    if file_suffix(path)[1]:
        return gzip.open(path, "rt", encoding=encoding, errors=errors)
    return open(path, encoding=encoding, errors=errors)


def csv_separator(header: str) -> str:
    """The field separator of a ``.csv`` file from its header line: ``,``, or ``;`` (as Excel
    writes CSV where the decimal mark is a comma) or a tab when the header has no comma."""
    if "," not in header:
        for separator in (";", "\t"):
            if separator in header:
                return separator
    return ","


def _read_text_table(path: Path, separator: str) -> pd.DataFrame:
    text = _decode(path)
    if not text.strip():
        raise InputFileError(f"{path}: the file is empty (no header, no rows).")
    if separator == ",":
        separator = csv_separator(text.lstrip("\r\n").partition("\n")[0])
    try:
        return pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False,
                           na_values=[""], skipinitialspace=False,
                           engine="python" if separator == r"\s+" else "c")
    except pd.errors.ParserError as err:
        raise InputFileError(f"{path}: not a well-formed table: {err}") from err


def read_source(source: str | Path) -> pd.DataFrame:
    """The input table named by ``data.source``, all columns as read, in file order."""
    path = Path(source)
    suffix, gzipped = file_suffix(path)  # gzipped: a text format or SD file (my.csv.gz, library.sdf.gz)
    if suffix not in SUPPORTED or (gzipped and suffix not in (".sdf", *TEXT_SEPARATORS)):
        raise InputFileError(f"{path}: unsupported file type '{''.join(path.suffixes[-2:]) if gzipped else suffix}'; "
                             f"use one of {SUPPORTED} (the text formats and .sdf may be gzipped: .csv.gz).")
    if not path.is_file():
        raise InputFileError(f"{path}: file not found. Check data.source in params.yaml (paths "
                             "are relative to the repository root).")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the file is empty (0 bytes).")
    if suffix in (".yaml", ".yml"):
        from molprop.data.builtin import load_builtin

        table = load_builtin(path)
    elif suffix == ".parquet":
        try:
            table = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for corrupt files
            raise InputFileError(f"{path}: not a readable Parquet file: {err}") from err
    elif suffix == ".sdf":
        from molprop.data.builtin import read_sdf

        try:
            table = read_sdf(path)
        except (OSError, ValueError) as err:
            raise InputFileError(str(err)) from err
    else:
        table = _read_text_table(path, TEXT_SEPARATORS[suffix])
    if table.empty:
        raise InputFileError(f"{path}: the table has no data rows.")
    return table.reset_index(drop=True)


def require_columns(table: pd.DataFrame, columns: dict[str, str], source: str | Path) -> None:
    """Stop with a clear message when a configured column is absent, suggesting close names.

    ``columns`` maps the params key (e.g. ``data.smiles_column``) to the expected column."""
    present = [str(c) for c in table.columns]
    for key, name in columns.items():
        if name in present:
            continue
        lower = {c.lower(): c for c in present}
        close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)]
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        if not close and file_suffix(source)[0] in (".smi", ".smiles"):
            hint = (" The first line of a .smi file names its columns: start the file with a header "
                    f"line such as '{columns.get('data.smiles_column', 'smiles')} "
                    f"{columns.get('data.target_column', 'y')}'.")
        raise InputFileError(f"{source}: no column '{name}' ({key} in params.yaml).{hint} "
                             f"Columns in the file: {present}.")
