"""Resumable output: one Parquet part file per input chunk plus a manifest.

Parts go to ``<output>.parts/`` (or into the output itself when it is a directory). Each part
is written to a temporary name and renamed, then recorded in ``_manifest.json`` (also replaced
atomically), so an interrupted run leaves only whole parts that the manifest lists. The
manifest also records what the run is: the input (file sizes and MD5), the model (MD5 of its
files) and the settings; a restart continues only when all three match. When every chunk is
done the parts are merged into the output file (Parquet or CSV) and the part folder removed.
A run holds ``<output>.lock`` while it works: a second run on the same output stops at once.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

import pyarrow as pa
import pyarrow.parquet as pq

from molprop.errors import UserInputError
from molprop.predict.stream import input_files

MANIFEST = "_manifest.json"  # "_" and "." names are skipped by Parquet dataset readers
OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def output_kind(output: str | Path) -> str:
    """``parquet`` / ``csv`` for a file output, ``directory`` for a folder of parts."""
    if str(output) == "-":  # not a directory named '-'
        raise UserInputError("--output -: predict writes files, not standard output; name a .csv or .parquet "
                             "file, or a directory (no suffix) to keep the part files.")
    output = Path(output)
    if output.is_dir():
        return "directory"
    if not output.suffix:
        if output.exists():  # a device or a file without a suffix: parts cannot go into it
            raise UserInputError(f"{output} exists and is not a directory; an output without a suffix is a "
                                 "directory of part files. Name a .csv or .parquet file, or a new directory.")
        return "directory"
    kind = OUTPUT_FORMATS.get(output.suffix.lower())
    if kind is None:
        raise UserInputError(f"{output}: unknown output type '{output.suffix}'; use .parquet, .csv "
                         "or a directory (no suffix) to keep the part files.")
    return kind


def _md5_files(files: list[Path], root: Path | None = None) -> str:
    digest = hashlib.md5()
    for file in files:
        if root is not None:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")  # one digest on every OS
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def saved_model_files(model_dir: str | Path) -> list[Path]:
    """The files that make up a saved model: its card, predict context, training fingerprints
    and every member's files (not whatever else the directory holds, such as an output written
    into it)."""
    from molprop.models.predictor import MEMBER_FILES, check_members
    from molprop.models.store import load_card
    from molprop.predict.context import CONTEXT_FILE, TRAIN_FPS_FILE

    model_dir = Path(model_dir)
    card = load_card(model_dir)
    check_members(model_dir, card)
    members = [model_dir / m / name for m in card.members for name in MEMBER_FILES[card.kind]]
    return [model_dir / "model.json", model_dir / CONTEXT_FILE, model_dir / TRAIN_FPS_FILE, *members]


def model_md5(model_dir: str | Path) -> str:
    """MD5 of the files of a saved model (:func:`saved_model_files`), with their paths inside it."""
    return _md5_files(saved_model_files(model_dir), Path(model_dir))


def run_identity(input_path: str | Path, model_digest: str, settings: dict[str, Any]) -> dict:
    """What a resumed run must share with the interrupted one: input, model (its
    :func:`model_md5`) and settings."""
    files = input_files(input_path)
    return {
        "input": {"files": len(files), "bytes": sum(f.stat().st_size for f in files),
                  "md5": _md5_files(files)},
        "model": {"md5": model_digest, "files": "saved_model_files"},  # what the digest covers
        "settings": settings,
    }


def refuse_output_on_input(output: str | Path, input_path: str | Path) -> None:
    """Raise ``UserInputError`` when writing ``output`` (the file, or its part folder) would
    replace or delete the input, or write into an input directory of Parquet shards."""
    output = Path(output)
    kind = output_kind(output)
    folder = output if kind == "directory" else output.with_name(output.name + ".parts")
    written = [p.resolve() for p in (output, folder)]
    inputs = [Path(input_path).resolve(), *(f.resolve() for f in input_files(input_path))]
    for place in written:
        for source in inputs:
            same = _same(place, source)
            if same or any(_same(place, p) for p in source.parents) or any(_same(source, p) for p in place.parents):
                raise UserInputError(f"the output {output} would {'be' if same else 'overlap'} the "
                                     f"input {source}; write it elsewhere (the input is never replaced).")


def _same(a: Path, b: Path) -> bool:
    """One file or folder, also where the names differ in letter case on a file system that
    ignores it (macOS, Windows): compared by what they are when both exist."""
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


@contextmanager
def output_lock(output: str | Path) -> Iterator[None]:
    """Held while a run writes ``output`` (an exclusive lock on ``<output>.lock``, which the
    kernel drops however the run ends): a second run on the same output would write the same
    part files at once and delete the first's; it stops with a message instead."""
    output = Path(output)
    if fcntl is None:
        yield
        return
    lock = output.with_name(output.name + ".lock")
    made = missing_folders(lock.parent)  # removed again if the run leaves them empty
    if made:  # (a file there: open() below says "Not a directory")
        lock.parent.mkdir(parents=True)
    while True:
        handle = open(lock, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise UserInputError(f"another molprop predict is writing {output} (it holds {lock}); wait for "
                                 "it to end (a rerun then resumes or reuses its work), or choose another "
                                 "output.") from None
        try:  # the file locked must still be the one at that name: a run that ended removed it
            if os.path.samestat(os.fstat(handle.fileno()), os.stat(lock)):
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # before the lock is released: a run waiting on this file starts over
        handle.close()
        remove_empty(made)


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty: those a run made and left so."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # holds something, or is gone
            break


class PartStore:
    """The part folder of one output: which chunks are done, writing new ones, merging."""

    def __init__(self, output: str | Path, identity: dict, overwrite: bool = False) -> None:
        self.output, self.kind = Path(output), output_kind(output)
        self.folder = self.output if self.kind == "directory" else self.output.with_name(self.output.name + ".parts")
        ours = self._read() is not None  # a predict output's folder (its manifest says what it holds)
        if overwrite:
            if self.folder.is_dir() and any(self.folder.iterdir()) and not ours:
                raise FileExistsError(f"{self.folder} is not a molprop predict output{self._orphans()}; not "
                                      "deleting it. Choose another output.")
            if ours:  # its parts and manifest; what else the user keeps in the folder stays
                self._remove_unlisted({})
                (self.folder / MANIFEST).unlink()
            # an output file stays until the new one replaces it (finish): a run that fails keeps it
        elif self.kind != "directory" and self.output.exists():
            raise FileExistsError(f"{self.output} exists; pass --overwrite (overwrite=True in Python) to replace it.")
        manifest = self._read()
        lost = [k for k, v in (manifest or {}).get("parts", {}).items() if not (self.folder / v["file"]).is_file()]
        if lost:  # part files deleted since (even of a finished run): predicted again
            manifest["parts"] = {k: v for k, v in manifest["parts"].items() if k not in lost}
            manifest = {k: v for k, v in manifest.items() if k not in ("n_rows", "repeated_ids")} | {"complete": False}
        if manifest is not None and not manifest["parts"] and not manifest.get("complete"):
            manifest = None  # a run that stopped before its first part: nothing to keep (discard_if_empty)
        if manifest is not None and {k: manifest.get(k) for k in identity} != identity:
            what = [("other " if k == "settings" else "another ") + k
                    for k in identity if manifest.get(k) != identity[k]]
            before, now = manifest.get("settings") or {}, identity["settings"]
            changed = [f"{key} {before.get(key)!r} -> {now.get(key)!r}" for key in sorted(set(before) | set(now))
                       if before.get(key) != now.get(key)]
            if changed:
                what[what.index("other settings")] = f"other settings ({', '.join(changed)})"
            if "another model" in what and "files" not in (manifest.get("model") or {}):
                # digested before 2026-12-07 over every file of the model's folder
                what[what.index("another model")] = "a model digest of an earlier molprop version"
            state = "a finished" if manifest.get("complete") else "a part-finished"
            raise UserInputError(f"{self.folder} holds {state} run with {' and '.join(what)}; "
                                 "pass --overwrite (overwrite=True in Python) to start afresh, or choose "
                                 "another output.")
        if ours:
            self._remove_unlisted((manifest or {}).get("parts", {}))
        if not ours and self.folder.exists() and any(p.name != MANIFEST for p in self.folder.iterdir()):
            raise FileExistsError(f"{self.folder} exists and is not a molprop predict output{self._orphans()}; "
                                  "remove it or choose another output.")
        self.manifest = manifest or {"version": 1, **identity, "parts": {}, "complete": False}
        # the folders this run makes (the part folder, and parents that are missing): a run that
        # fails before its first part removes them again, and nothing it did not make
        self._made = missing_folders(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_manifest()

    def _remove_unlisted(self, parts: dict) -> None:
        """Delete the part files of this output's folder that its manifest does not list, and
        unfinished writes: a run killed between writing a part and recording it (or while
        writing it) left them, and their chunks are predicted again."""
        listed = {v["file"] for v in parts.values()}
        for path in self.folder.iterdir():
            name = path.name
            if (name.startswith("part-") and name.endswith(".parquet") and name not in listed) or \
                    (name.startswith(".") and name.endswith(".tmp")):
                path.unlink(missing_ok=True)

    def _orphans(self) -> str:
        """Why a folder with part files but no manifest is not taken for an output."""
        if not self.folder.is_dir() or not any(self.folder.glob("part-*.parquet")):
            return ""
        return (f" (it holds part files but no {MANIFEST}, which records what they were predicted from: "
                "without it they cannot be resumed or trusted; delete the folder to start afresh)")

    def discard_if_empty(self) -> None:
        """When the run wrote no part (it failed before its first chunk: a wrong column,
        option or device), remove its manifest and the folders it made, so that nothing it
        made is left behind (and nothing else is removed)."""
        if self.manifest["parts"] or self.complete:
            return
        (self.folder / MANIFEST).unlink(missing_ok=True)
        remove_empty(self._made)

    def _read(self) -> dict | None:
        path = self.folder / MANIFEST
        return json.loads(path.read_text()) if path.is_file() else None

    def _write_manifest(self) -> None:
        tmp = self.folder / ("." + MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.folder / MANIFEST)

    def done(self) -> set[int]:
        """Chunk indices already written (listed in the manifest and present on disk)."""
        return {int(k) for k, v in self.manifest["parts"].items() if (self.folder / v["file"]).is_file()}

    @property
    def complete(self) -> bool:
        return bool(self.manifest["complete"])

    def write(self, index: int, table: pa.Table, summary: dict[str, int]) -> None:
        """Store chunk ``index`` (atomically) and record it in the manifest."""
        name = f"part-{index:06d}.parquet"
        tmp = self.folder / ("." + name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, self.folder / name)
        self.manifest["parts"][str(index)] = {"file": name, **summary}
        self._write_manifest()

    def part_files(self) -> list[Path]:
        return [self.folder / self.manifest["parts"][k]["file"]
                for k in sorted(self.manifest["parts"], key=int)]

    def finish(self, n_chunks: int, schema: pa.Schema, count_repeats: bool = False) -> Path:
        """Check that chunks 0..n_chunks-1 are all there, merge them into the output (file
        outputs) and return the path of the result. ``count_repeats``: record in the manifest
        how many rows repeat an earlier row's id (``repeated_ids``)."""
        missing = sorted(set(range(n_chunks)) - self.done())
        if missing:
            raise RuntimeError(f"{self.folder}: chunks {missing[:10]} are missing; run again to resume.")
        self.manifest["complete"] = True
        self.manifest["n_rows"] = sum(int(v["rows"]) for v in self.manifest["parts"].values())
        if count_repeats:
            count, examples = repeated_ids(self.part_files(), self.manifest["n_rows"])
            self.manifest["repeated_ids"] = {"rows": count, "examples": examples}
        self._write_manifest()
        if self.kind == "directory":
            return self.folder
        tmp = self.output.with_name(self.output.name + ".tmp")
        if self.kind == "parquet":
            with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                for part in self.part_files():
                    writer.write_table(pq.read_table(part, schema=schema))
        else:
            with open(tmp, "w", newline="") as handle:
                # quoted like the rows: a class name may hold a comma ('p_(A) polar, small')
                csv.writer(handle, lineterminator="\n").writerow(schema.names)
                for part in self.part_files():
                    pq.read_table(part).to_pandas().to_csv(handle, header=False, index=False)
        os.replace(tmp, self.output)
        # out of the way in one step: a kill while deleting leaves no half part folder behind
        # that would block the next run (it had, and even --overwrite refused it)
        done = self.folder.with_name(self.folder.name + ".done")
        shutil.rmtree(done, ignore_errors=True)
        os.replace(self.folder, done)
        shutil.rmtree(done)
        return self.output


def _ids(file: Path):
    return pq.read_table(file, columns=["id"]).column("id").to_numpy(zero_copy_only=False).astype(object)


def repeated_ids(files: list[Path], n_rows: int, per_pass: int = 50_000_000) -> tuple[int, list[str]]:
    """How many rows of the part ``files`` repeat an id of an earlier row, and up to three
    such ids. Ids are compared by 64-bit hash (8 bytes of memory per id), at most about
    ``per_pass`` of them at a time: a larger output is counted in several passes over the
    files, one hash bucket each, so memory stays bounded."""
    import numpy as np
    from pandas.util import hash_array

    passes = max(1, -(-n_rows // per_pass))
    count, repeated = 0, np.zeros(0, np.uint64)
    for bucket in range(passes):
        hashes = [h[h % passes == bucket] for h in (hash_array(_ids(f)) for f in files)]
        values, counts = np.unique(np.concatenate(hashes or [np.zeros(0, np.uint64)]), return_counts=True)
        count += int((counts - 1).sum())
        repeated = np.concatenate([repeated, values[counts > 1]])[:3]
    examples: dict[str, None] = {}
    for file in files if count else []:
        ids = _ids(file)
        examples |= dict.fromkeys(ids[np.isin(hash_array(ids), repeated)])
        if len(examples) >= len(repeated):
            break
    return count, list(examples)[:3]
