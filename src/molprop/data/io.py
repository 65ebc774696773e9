"""Reading the user's input table (built-in descriptor, CSV, TSV, Parquet, SDF, .smi).

Text files are read with every column as text, so a target such as ``<10`` arrives as it
was written and can be rejected with a reason instead of being coerced or dropped. A
``.csv`` file may be separated by commas, semicolons or tabs (found from its header line).
Text files and SD files may be gzipped (``.csv.gz``, ``.sdf.gz``).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import re
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from molprop.errors import UserInputError

TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": "\t", ".smi": r"\s+", ".smiles": r"\s+"}
_SEPARATED_BY = {".csv": "comma", ".tsv": "tab", ".tab": "tab", ".txt": "tab"}
SUPPORTED = (".yaml", ".yml", ".parquet", ".pq", ".sdf", ".sd", *TEXT_SEPARATORS)  # as molprop predict reads
LINE_BREAK = re.compile(r"\r\n|\n|\r")
SHORT_ROWS = "molprop_short_rows"  # DataFrame.attrs key: lines of a text table with fewer fields than its header


class InputFileError(UserInputError):
    """A problem with the input file as a whole; the validate stage stops on it."""


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if file_suffix(path)[1]:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:  # not gzip, or cut short
            raise InputFileError(not_gzip(path, err)) from err
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = bom + err.start
        raise InputFileError(_not_utf8(path, _line_breaks(data[:offset]) + 1, data[offset], offset)) from err


def _line_breaks(data: bytes) -> int:
    """Line breaks in ``data``: \n, \r\n, or a lone \r (Excel for Mac's 'CSV (Macintosh)')."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


# What a file that is no text is, by its first bytes, and what to do with it
_BINARY_FORMATS = (
    (b"\x1f\x8b", "gzip-compressed: name it with .gz at the end"),
    (b"PAR1", "a Parquet file: name it .parquet"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one): save the sheet as 'CSV UTF-8', or unzip it"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook (or another Office file): save the sheet as 'CSV UTF-8'"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text'): save it as 'CSV UTF-8'"),
    (b"\xfe\xff", "UTF-16 text: save it as UTF-8"),
)


def binary_format(path: Path) -> str | None:
    """What the file is when its first bytes say it is no UTF-8 text (gunzipped first when
    named .gz), else None."""
    try:
        with (gzip.open if file_suffix(path)[1] else open)(path, "rb") as handle:
            start = handle.read(8)
    except (OSError, EOFError):
        return None
    return next((what for magic, what in _BINARY_FORMATS if start.startswith(magic)), None)


def _not_utf8(path: Path, line: int, byte: int, offset: int) -> str:
    what = binary_format(path)
    if what:
        example = f" ({path.name}.gz)" if what.startswith("gzip") else ""
        return f"{path}: not a text table but {what}{example}."
    return (f"{path}: line {line} is not valid UTF-8 (byte 0x{byte:02x} at offset {offset}). Save the "
            "file as UTF-8 (e.g. in Excel: 'CSV UTF-8'), or fix that line.")


def first_invalid_utf8(path: str | Path) -> str | None:
    """Where a text file (gunzipped when named ``.gz``) first breaks UTF-8, as a message naming
    the line and what to do; None when it is valid throughout. Reads the file block by block."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with (gzip.open if file_suffix(path)[1] else open)(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as err:  # err.start counts from the bytes the decoder held back
                start = err.start - (len(err.object) - len(block))
                return _not_utf8(Path(path), line + _line_breaks(block[:max(start, 0)]), err.object[err.start],
                                 offset + start)
            offset, line = offset + len(block), line + _line_breaks(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:  # a character cut short at the end of the file
        return _not_utf8(Path(path), line, err.object[err.start], offset - len(err.object) + err.start)
    return None


def file_suffix(path: str | Path) -> tuple[str, bool]:
    """(lower-case suffix of the file's format, whether the name ends in ``.gz``): ``.csv``,
    True for ``My.CSV.gz``."""
    name = Path(path).name.lower()
    gzipped = name.endswith(".gz")
    return Path(name.removesuffix(".gz")).suffix, gzipped


def open_text(path: str | Path, encoding: str = "utf-8-sig", errors: str = "strict",
              newline: str | None = None) -> TextIO:
    """A text file for reading, gunzipped on the fly when its name ends in ``.gz``
    (``newline=""`` for the csv module)."""
    if file_suffix(path)[1]:
        return gzip.open(path, "rt", encoding=encoding, errors=errors, newline=newline)
    return open(path, encoding=encoding, errors=errors, newline=newline)


def csv_separator(header: str, sample: Sequence[str] = ()) -> str:
    """The field separator of a ``.csv`` file from its header line: ``,``, or ``;`` (as Excel
    writes CSV where the decimal mark is a comma) or a tab when the header has no comma
    outside quoted names (``smiles;"logS (mol/L, 25 C)"`` is separated by ``;``). A header
    with both (``smiles;logS (mol/L, 25 C)``: exporters quote only names that hold *their*
    separator) is settled by the ``sample`` lines after it: the separator that splits the
    header into the most fields, every line into two or more and none into more than the
    header (empty trailing fields aside). On a tie ';' or a tab wins: a comma inside a field
    (a decimal comma, a unit) is common, the others are not."""
    bare = re.sub(r'"[^"]*"', "", header)
    others = [separator for separator in (";", "\t") if separator in bare]
    if "," not in bare:
        return others[0] if others else ","
    fitting = {}
    for separator in [*others, ","] if sample else []:
        rows = [row for row in csv.reader([header, *sample], delimiter=separator) if row]
        fields = len(rows[0])
        if fields > 1 and all(len(row) >= 2 and len(without_trailing_empty(row)) <= fields for row in rows[1:]):
            fitting[separator] = fields
    return max(fitting, key=fitting.get) if fitting else ","  # max: the first of the best


EXCEL_SEP_LINE = re.compile(r"\ufeff?sep=(.)[ \t]*(\r\n|\n|\r)")  # Excel's optional first line "sep=;"


def table_layout(text: str) -> tuple[str, int]:
    """The field separator of a ``.csv`` from the start of its text, and how many lines come
    before the header: 1 after Excel's ``sep=;`` line (which names the separator), else 0."""
    hint = EXCEL_SEP_LINE.match(text)
    if hint:
        return hint.group(1), 1
    lines = [line for line in re.split(r"\r\n|\n|\r", text.lstrip("\ufeff")[:1 << 16]) if line.strip()]
    return (csv_separator(lines[0], lines[1:21]) if lines else ","), 0


def without_trailing_empty(row: list[str]) -> list[str]:
    """``row`` without its trailing empty (or blank) fields."""
    while row and not row[-1].strip():
        row = row[:-1]
    return row


def smi_fields(line: str, tab: bool = False) -> list[str]:
    """The fields of a ``.smi`` line: separated by tabs in a file whose first line holds one
    (Open Babel's ``SMILES<tab>title``: a title may hold spaces, a last field may be empty),
    else (and on a line without a tab, as RDKit reads it) by whitespace, where a CXSMILES
    extension (``|...|``, which may hold spaces) stays with the SMILES before it, as in a CSV
    cell. A blank line has none."""
    if tab and "\t" in line:
        fields = [field.strip() for field in line.rstrip("\r\n").split("\t")]
        return fields if any(fields) else []
    fields: list[str] = []
    in_extension = False
    for word in line.split():
        if fields and (in_extension or word.startswith("|")):
            fields[-1] += " " + word
            in_extension = not (word.endswith("|") and (in_extension or len(word) > 1))
        else:
            fields.append(word)
    return fields


def is_smi_comment(line: str) -> bool:
    """Whether a line before a ``.smi`` file's first line of content is a comment (``#``)."""
    return line.lstrip().startswith("#")


def reads_as_molecule(text: str) -> bool:
    """Whether a column name reads as a SMILES of two or more characters (the first molecule
    of a file without a header), not as a word such as 'smiles' or 'name'."""
    from rdkit import Chem, RDLogger

    if len(text) < 2 or text.isalpha() and text.islower():
        return False
    RDLogger.DisableLog("rdApp.*")
    try:
        return Chem.MolFromSmiles(text) is not None
    finally:
        RDLogger.EnableLog("rdApp.*")


def smi_row(line: str, header: list[str], tab: bool, path: Path | str, number: int) -> list[str]:
    """The fields of line ``number`` of a ``.smi`` file with the column names ``header`` (a
    trailing empty field beyond them dropped; none for a blank line). Raises
    ``InputFileError`` naming the line when it holds more or fewer fields than the header:
    whitespace cannot tell a name with a space or a missing value, and the values after it
    would shift into the wrong columns."""
    fields = smi_fields(line, tab)
    while len(fields) > len(header) and not fields[-1]:  # a trailing tab, as in the header
        fields.pop()
    if fields and len(fields) != len(header):
        why = ("give each line the header's fields, an empty one for a missing value" if tab else
               "in a .smi file a name with a space splits in two and a missing value shifts the ones after "
               "it. Fix that line")
        if reads_as_molecule(header[0]):
            why = (f"the first line ({' '.join(header)}) reads as a molecule, not column names: start the file "
                   "with a header line that names them (e.g. 'smiles name'); else " + why)
        raise InputFileError(
            f"{path}: line {number} has {len(fields)} {'tab' if tab else 'whitespace'}-separated fields, the "
            f"header {len(header)} ({' '.join(header)}); {why}, or save the table as .csv or .tsv (where "
            "fields may be empty or hold spaces).")
    return fields


def _read_smi_table(path: Path, text: str) -> pd.DataFrame:
    """A ``.smi`` table: the first line names the columns; fields are separated by tabs when
    that line holds one, else by whitespace; ``#`` lines before it are comments (after it, a
    ``#`` line is a row like any other: never dropped unseen). A row with more or fewer fields
    than the header is refused (:func:`smi_row`)."""
    header: list[str] | None = None
    tab, rows = False, []
    for number, line in enumerate(re.split(r"\r\n|\n|\r", text), 1):
        if header is None:
            if line.strip() and not is_smi_comment(line):
                tab = "\t" in line
                header = without_trailing_empty(smi_fields(line, tab))  # SmilesWriter ends it with a tab
                repeated = sorted({name for name in header if header.count(name) > 1})
                if repeated:
                    raise InputFileError(f"{path}: the header names the column(s) {repeated} more than once; "
                                         "rename or delete the copies.")
            continue
        fields = smi_row(line, header, tab, path, number)
        if fields:
            rows.append([field or None for field in fields])
    return pd.DataFrame(rows, columns=header, dtype=object)


def _read_text_table(path: Path, separator: str) -> pd.DataFrame:
    text = _decode(path)
    if not text.strip():
        raise InputFileError(f"{path}: the file is empty (no header, no rows).")
    refuse_nul_bytes(path, text)
    if separator == r"\s+":
        return _read_smi_table(path, text.lstrip("\ufeff"))
    skipped = 0  # lines before the header (pandas' line numbers below are that many short)
    if separator == ",":  # a .csv: ',', ';' or a tab; lines end in \n, \r\n or \r (Excel for Mac)
        separator, skipped = table_layout(text)
        if skipped:
            text = text[EXCEL_SEP_LINE.match(text).end():]
    header = check_header(path, text, separator)
    if read_as_one_column(header):
        raise InputFileError(f"{path}: the header {header[0][:60]!r} was read as one column.{one_column_hint(path)}")
    if '"' in text:  # only a quote can make the parser read rows into one field
        short = check_records(path, io.StringIO(text, newline=""), separator, skipped)
    else:
        short = short_lines(text, separator, skipped)
    try:
        # index_col=False: a row with a trailing separator does not turn the first column
        # into an index (which shifted every column); check_header refuses a real extra field
        table = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False,
                            na_values=[""], skipinitialspace=False, index_col=False)
    except pd.errors.ParserError as err:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if found is None:
            raise InputFileError(f"{path}: not a well-formed table: {err}") from err
        expected, line, saw = found.groups()
        line = int(line) + skipped
        raise InputFileError(f"{path}: line {line} has {saw} fields, the header {expected}; add the missing "
                             f"column name(s) to the header, or quote the field that holds the separator"
                             f"{_decimal_comma_hint(separator)}.{_above_header_hint(header)}") from err
    table.attrs[SHORT_ROWS] = short
    return table


def short_lines(text: str, separator: str, skipped: int = 0) -> list[int]:
    """Line numbers of the rows of a table without quotes that have fewer fields than its
    header (blank lines aside; ``skipped``: lines above the header)."""
    lines = LINE_BREAK.split(text.lstrip("\ufeff"))  # as pandas breaks lines (not at \f, U+2028...)
    header = next((i for i, line in enumerate(lines) if line.strip()), 0)  # pandas skips blank lines
    n_named = len(without_trailing_empty(lines[header].split(separator)))  # "smiles,y," names 2 fields
    return [number + skipped for number, line in enumerate(lines[header + 1:], start=header + 2)
            if line.strip() and line.count(separator) + 1 < n_named]


def read_as_one_column(names: Sequence[object]) -> bool:
    """Whether a header came out as one column holding another separator: a comma- or
    semicolon-separated file read with tabs (a .txt, a .tsv), or the like."""
    return len(names) == 1 and any(mark in str(names[0]) for mark in ",;\t")


def one_column_hint(path: str | Path) -> str:
    """What to do about a text table whose header was read as one column."""
    suffix = file_suffix(path)[0]
    return (f" A {suffix} file is read as {_SEPARATED_BY.get(suffix, 'whitespace')}-separated. Name the file "
            "for its separator: .csv (comma or semicolon), .tsv (tab).")


def refuse_nul_bytes(path: Path, text: str) -> None:
    """InputFileError when ``text`` (a text table, or its start) holds a NUL character: valid
    UTF-8, but no table. On the first line mostly UTF-16 saved without a byte-order mark, where
    every other byte is 0 (read as UTF-8, the column names come out as 's\\x00m\\x00i...');
    further down, a damaged line."""
    nul = text.find("\x00")
    if nul >= 0:
        raise InputFileError(nul_message(path, _line_breaks(text[:nul].encode()) + 1))


def nul_message(path: Path, line: int) -> str:
    """What a NUL character on ``line`` of a text table means and what to do."""
    if line == 1:
        return (f"{path}: line 1 holds NUL bytes: not UTF-8 text but, most likely, UTF-16 without a byte-order "
                "mark (as some Windows tools save 'Unicode' text), or a binary file. Save it as UTF-8 (in Excel: "
                "'CSV UTF-8').")
    return (f"{path}: line {line} holds a NUL character (a byte 0, which no text table holds: a damaged file or "
            "export?); remove it, or the line.")


def check_header(path: Path, text: str, separator: str) -> list[str]:
    """The header's fields. Refuses a header that names a column twice, and a first data row
    with more fields than the header (empty trailing fields, as some exports end every line
    with a separator, are fine)."""
    rows = csv.reader(io.StringIO(text[:1 << 16], newline=""), delimiter=separator)  # the first records
    header = next((row for row in rows if row), [])
    repeated = sorted({name for name in header if name.strip() and header.count(name) > 1})
    if repeated:
        raise InputFileError(f"{path}: the header names the column(s) {repeated} more than once; "
                             "rename or delete the copies, so that it is clear which one holds the data.")
    try:
        first = next((row for row in rows if row), [])
    except csv.Error:
        return header  # pandas reports a damaged first row with its own words (or it is longer than 64 KiB)
    if len(first) > len(header) and any(field.strip() for field in first[len(header):]):
        above = _above_header_hint(header)
        raise InputFileError(f"{path}: the first data row has {len(first)} fields, the header "
                             f"{len(header)} ({first[len(header):]} beyond the last column; the header read: "
                             f"{header}); add the missing column name(s) to the header, or quote the field that "
                             f"holds the separator{_decimal_comma_hint(separator)}.{above}")
    return header


def _above_header_hint(header: Sequence[str]) -> str:
    """A hint when the line read as the header may be a title or comment above it."""
    return (" The first non-empty line is the header: delete any line above it (a comment, a title)."
            if len(header) == 1 or (header and header[0].lstrip().startswith("#")) else "")


def _decimal_comma_hint(separator: str) -> str:
    return (" (a number with a decimal comma in a comma-separated file is split in two: quote it, or save "
            "the file with ';' between fields)") if separator == "," else ""


def _without_nul(path: Path, handle: TextIO, skipped: int) -> Iterator[str]:
    """The lines of ``handle``; InputFileError naming the first that holds a NUL character
    (which the csv module reads as any other, inside a field or out)."""
    for number, line in enumerate(handle, 1):
        if "\x00" in line:
            raise InputFileError(nul_message(path, number + skipped))
        yield line


def check_records(path: Path, handle: TextIO, separator: str, skipped: int = 0) -> list[int]:
    """One pass over a table's records (``handle`` after any lines before the header;
    ``skipped``: how many, for the line numbers) with the csv module in strict mode. Refuses an
    unmatched quote: a quote that opens a field must close right before a separator or the end
    of the line, and the rows after an unmatched one would vanish into its field until the next
    quote (which then stands before other text) or the end of the file. Refuses a row with more
    fields than the header, empty trailing fields aside. A quoted field over several lines is
    fine. Returns the lines where rows with fewer fields than the header start."""
    reader = csv.reader(_without_nul(path, handle, skipped), delimiter=separator, strict=True)
    header, start, short = None, 1, []
    limit = csv.field_size_limit(sys.maxsize)  # pandas reads fields of any length
    try:
        for fields in reader:
            if header is None:
                header = fields if fields else None
            elif fields and len(fields) < len(without_trailing_empty(header)) and any(f.strip() for f in fields):
                short.append(start + skipped)
            elif len(without_trailing_empty(fields)) > len(header):
                raise InputFileError(f"{path}: line {start + skipped} has {len(fields)} fields, the header "
                                     f"{len(header)}; add the missing column name(s) to the header, or quote the "
                                     f"field that holds the separator{_decimal_comma_hint(separator)}.")
            start = reader.line_num + 1
    except csv.Error as err:
        raise InputFileError(
            f"{path}: the row that starts on line {start + skipped} is not well-formed ({err}, on line "
            f"{reader.line_num + skipped}): an unmatched quote (\") in it? The rows after it would vanish into "
            "that field. Remove the quote or close it.") from err
    finally:
        csv.field_size_limit(limit)
    return short


def read_source(source: str | Path) -> pd.DataFrame:
    """The input table named by ``data.source``, all columns as read, in file order."""
    path = Path(source)
    if path.is_dir():  # before the suffix: a folder of shards usually has none
        raise InputFileError(f"{path} is a directory; data.source names one file (for Parquet shards: "
                             "combine them into one file, e.g. with pandas or pyarrow).")
    suffix, gzipped = file_suffix(path)  # gzipped: a text format or SD file (my.csv.gz, library.sdf.gz)
    if suffix not in SUPPORTED or (gzipped and suffix not in (".sdf", ".sd", *TEXT_SEPARATORS)):
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
    elif suffix in (".parquet", ".pq"):
        _refuse_repeated_parquet_names(path)
        try:
            table = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for corrupt files
            raise InputFileError(f"{path}: not a readable Parquet file: {err}") from err
        table = _floats_as_shown(_utf8_text(_index_as_columns(table)))
    elif suffix in (".sdf", ".sd"):
        from molprop.data.builtin import read_sdf

        what = binary_format(path)  # gzip under a plain .sdf name: RDKit read it as text
        if what and not what.startswith("UTF-16"):  # UTF-16: read_sdf names the record and line
            example = f" ({path.name}.gz)" if what.startswith("gzip") else ""
            raise InputFileError(f"{path}: not an SD file but {what}{example}.")
        try:
            table = read_sdf(path)
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:  # a .sdf.gz cut short, or not gzip
            raise InputFileError(not_gzip(path, err)) from err
        except (OSError, ValueError) as err:
            raise InputFileError(str(err)) from err
    else:
        table = _read_text_table(path, TEXT_SEPARATORS[suffix])
    if table.empty:
        raise InputFileError(f"{path}: the table has no data rows.")
    attrs = table.attrs
    table = table.reset_index(drop=True)
    table.attrs = attrs
    return table


def _floats_as_shown(table: pd.DataFrame) -> pd.DataFrame:
    """Single- and half-precision float columns as the decimals they show: a float32 1.23 read
    as 1.23, not as the 1.2300000190734863 of its exact widening (targets, replicate tolerances
    and the metrics would carry that noise)."""
    for position, dtype in enumerate(table.dtypes):
        if getattr(dtype, "kind", "") == "f" and dtype.itemsize < 8:
            own = getattr(dtype, "numpy_dtype", dtype)  # pandas' nullable Float32 holds float32
            shown = table.iloc[:, position].to_numpy(dtype=own, na_value=np.nan).astype(str)
            table.isetitem(position, shown.astype(np.float64))
    return table


def _refuse_repeated_parquet_names(path: Path) -> None:
    """As for a text table's header: a column name twice is refused (pyarrow's own error was a
    schema dump)."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception:  # noqa: BLE001 - not Parquet at all: read_parquet says so below
        return
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputFileError(f"{path}: the table names the column(s) {repeated} more than once; rename or "
                             "delete the copies, so that it is clear which one holds the data.")


def short_rows_warning(table: pd.DataFrame) -> str | None:
    """A warning naming the lines of a text table with fewer fields than its header (read
    with the missing fields empty at the row's end), or None."""
    lines = table.attrs.get(SHORT_ROWS) or []
    if not lines:
        return None
    shown = ", ".join(map(str, lines[:10])) + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")
    return (f"{len(lines)} row(s) have fewer fields than the header (line(s) {shown}): their missing fields "
            "were read as empty at the end of the row. If a field in the middle was left out, the values "
            "after it stand in the wrong columns (a name read as the target); check those lines.")


def _index_as_columns(table: pd.DataFrame) -> pd.DataFrame:
    """A named index (pandas' ``to_parquet`` stores ``set_index("smiles")`` so) back as columns,
    as pyarrow reads them for molprop predict; an unnamed one holds only row positions."""
    named = [name for name in table.index.names if name is not None and name not in table.columns]
    return table.reset_index(level=named) if named else table


def _with_bytes_as(table: pd.DataFrame, convert: Any) -> pd.DataFrame:
    """``table`` with ``convert`` applied to the bytes values of each column that holds any;
    a column where ``convert`` raises UnicodeDecodeError is left as it was."""
    table = table.copy()
    for position in range(table.shape[1]):
        column = table.iloc[:, position]
        if column.dtype == object and column.map(type).eq(bytes).any():
            try:
                table.isetitem(position, column.map(lambda v: convert(v) if isinstance(v, bytes) else v))
            except UnicodeDecodeError:
                pass
    return table


def _utf8_text(table: pd.DataFrame) -> pd.DataFrame:
    """Columns of bytes (Parquet text written without its UTF-8 mark, as some writers do)
    decoded where every value is UTF-8; other bytes stay bytes."""
    return _with_bytes_as(table, lambda value: value.decode("utf-8"))


def as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Every column as text (pandas "string"): the input as read, for data/raw.parquet; bytes
    that are not UTF-8 (a binary Parquet column: fingerprints, pickled molecules) as hex."""
    return _with_bytes_as(table, bytes.hex).astype("string")


def not_gzip(path: Path, err: BaseException) -> str:
    return f"{path}: not a readable gzip file ({err}); gzip it again or give the uncompressed file."


def similar_columns(name: str, present: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``present`` that may be the column meant by ``name``: close spellings
    (any letter case), then names holding it as a word (canonical_smiles, SMILES std)."""
    lower = {c.lower(): c for c in present}
    close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.6)]
    # words: split at separators and camelCase (CanonicalSMILES, expt[kcal/mol]); a name of 4+
    # letters also where it is part of a word
    words = [c for c in present if c not in close and (
        name.lower() in (w.lower() for w in re.split(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])", c))
        or (len(name) >= 4 and name.lower() in c.lower()))]
    return (close[: n - 1] + words + close[n - 1:])[:n] if words else close  # one place kept for a word


def require_columns(table: pd.DataFrame, columns: dict[str, str], source: str | Path) -> None:
    """Stop with a clear message when a configured column is absent, suggesting close names.

    ``columns`` maps the params key (e.g. ``data.smiles_column``) to the expected column."""
    present = [str(c) for c in table.columns]
    problems = []
    for key, name in columns.items():
        if name in present:
            continue
        close = similar_columns(name, present)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        if key == "data.smiles_column" and file_suffix(source)[0] in (".sdf", ".sd"):
            hint = (" In an SD file the structures are each record's mol block, read into the column "
                    "'smiles' (a SMILES property is not used): set data.smiles_column: smiles.")
        elif read_as_one_column(present) and file_suffix(source)[0] in TEXT_SEPARATORS:
            hint = " The header was read as one column:" + one_column_hint(source)
        elif (len(present) == 1 and name.lower() in present[0].lower().split()
              and file_suffix(source)[0] in TEXT_SEPARATORS):
            hint = (f" The header {present[0][:60]!r} was read as one column: are its fields separated by "
                    "spaces? Name such a file .smi (whitespace-separated), or separate the fields with commas "
                    "(.csv) or tabs (.tsv).")
        elif not close and file_suffix(source)[0] in (".smi", ".smiles"):
            hint = (" The first line of a .smi file names its columns: start the file with a header "
                    f"line such as '{columns.get('data.smiles_column', 'smiles')} "
                    f"{columns.get('data.target_column', 'y')}', without a leading '#' (a line starting "
                    "with '#' is a comment).")
        if present and present[0].lstrip().startswith("#") and not hint:  # a comment above the header
            hint = _above_header_hint(present)
        problems.append(f"no column '{name}' ({key} in params.yaml)." + ("" if hint in "".join(problems) else hint))
    if problems:  # every misnamed column at once, not one per run
        raise InputFileError(f"{source}: {' Also '.join(problems)} Columns in the file: {present}.")
