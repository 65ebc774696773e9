"""Streaming Parquet writers of features.parquet and graphs.parquet (row groups in order)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molprop.features.config import FeaturizeConfig, settings_of
from molprop.features.descriptors import DESC_PREFIX
from molprop.features.fingerprints import FP_PREFIX, fingerprint_columns
from molprop.features.graph import GraphChunk, concat_chunks
from molprop.features.graph_store import graph_schema, graph_table
from molprop.schema import FEATURIZE_SETTINGS_KEY, MOL_ID

FEATURES_METADATA_KEY = b"molprop.features"
COMPRESSION = "zstd"


def _encoding(schema: pa.Schema) -> dict:
    """ParquetWriter options: fingerprint bits plain-encoded (zstd then packs them) and
    without min/max statistics; dictionary encoding and statistics cost most of the
    writer's CPU time on thousands of 0/1 columns and buy nothing there. (Every column of
    features.parquet is also declared non-nullable, which spares Parquet a definition level
    per value: about a third of the encoding time of the fingerprint columns.)"""
    other = [name for name in schema.names if not name.startswith(FP_PREFIX)]
    return {"compression": COMPRESSION, "use_dictionary": other, "write_statistics": other}


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _abort(writer: pq.ParquetWriter, path: Path) -> None:
    """Close ``writer`` and delete the temporary file(s) of ``path``: nothing is left behind by
    a run that ended with an error or Ctrl-C."""
    try:
        writer.close()
    except Exception:  # noqa: BLE001 - the error that ended the run is the one to report
        pass
    for tmp in (_tmp(path), _tmp(_tmp(path))):
        tmp.unlink(missing_ok=True)


class FeatureWriter:
    """features.parquet: mol_id, fp_<i> uint8, desc_<Name> float32; written to a temporary
    file and renamed on close (after dropping the descriptor columns asked for)."""

    def __init__(self, path: str | Path, config: FeaturizeConfig, descriptor_names: Sequence[str]):
        self.path, self.config = Path(path), config
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fields = [pa.field(MOL_ID, pa.string(), nullable=False)]  # non-finite descriptors are NaN, not null
        if config.morgan:
            fields += [pa.field(c, pa.uint8(), nullable=False) for c in fingerprint_columns(config.morgan)]
        fields += [pa.field(DESC_PREFIX + n, pa.float32(), nullable=False) for n in descriptor_names]
        self.schema = pa.schema(fields, metadata=self._metadata(dropped=[]))
        self.writer = pq.ParquetWriter(_tmp(self.path), self.schema, **_encoding(self.schema))
        self.ids: list[str] = []
        self.blocks: list[tuple[np.ndarray | None, np.ndarray | None]] = []

    def _metadata(self, dropped: list[str]) -> dict[bytes, str]:
        morgan = self.config.morgan
        meta = {
            "fingerprint": None if morgan is None else {"type": "morgan", "radius": morgan.radius,
                                                        "n_bits": morgan.n_bits, "counts": morgan.counts},
            "descriptor_set": None if self.config.descriptors is None else self.config.descriptors.set,
            "descriptors_dropped": dropped,
        }  # fmt: skip
        return {FEATURES_METADATA_KEY: json.dumps(meta, sort_keys=True),
                FEATURIZE_SETTINGS_KEY: json.dumps(settings_of(self.config), sort_keys=True)}

    def add(self, mol_ids: list[str], fps: np.ndarray | None, desc: np.ndarray | None) -> None:
        self.ids += mol_ids
        self.blocks.append((fps, desc))
        if len(self.ids) >= self.config.row_group_size:
            self._flush()

    def _flush(self) -> None:
        if not self.ids:
            return
        arrays = [pa.array(self.ids, pa.string())]
        for part in (0, 1):
            blocks = [b[part].T for b in self.blocks if b[part] is not None]  # (n_columns, n) each
            if blocks:  # column-major blocks (fingerprints) need no transposition here
                columns = np.ascontiguousarray(np.concatenate(blocks, axis=1))
                arrays += [pa.array(col) for col in columns]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.ids, self.blocks = [], []

    def close(self, drop: Sequence[str] = ()) -> None:
        """Finish the file; ``drop`` names descriptors (without prefix) to leave out."""
        self._flush()
        self.writer.close()
        tmp = _tmp(self.path)
        if drop:
            source = pq.ParquetFile(tmp)
            gone = {DESC_PREFIX + n for n in drop}
            keep = [f.name for f in self.schema if f.name not in gone]
            schema = pa.schema([self.schema.field(n) for n in keep], metadata=self._metadata(list(drop)))
            tmp2 = _tmp(tmp)
            with pq.ParquetWriter(tmp2, schema, **_encoding(schema)) as writer:
                for i in range(source.num_row_groups):
                    writer.write_table(source.read_row_group(i, columns=keep).replace_schema_metadata(schema.metadata))
            source.close()
            os.replace(tmp2, tmp)
        os.replace(tmp, self.path)

    def abort(self) -> None:
        """Give up the file: its temporary file is deleted."""
        _abort(self.writer, self.path)


class GraphWriter:
    """graphs.parquet (see ``graph_store``); with graphs off, a mol_id-only table."""

    def __init__(self, path: str | Path, enabled: bool, row_group_size: int):
        self.path, self.enabled, self.row_group_size = Path(path), enabled, row_group_size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = graph_schema(enabled)
        self.writer = pq.ParquetWriter(_tmp(self.path), self.schema, compression=COMPRESSION)
        self.ids: list[str] = []
        self.chunks: list[GraphChunk] = []

    def add(self, mol_ids: list[str], chunk: GraphChunk | None) -> None:
        self.ids += mol_ids
        if chunk is not None:
            self.chunks.append(chunk)
        if len(self.ids) >= self.row_group_size:
            self._flush()

    def _flush(self) -> None:
        if not self.ids:
            return
        if self.enabled:
            table = graph_table(self.ids, concat_chunks(self.chunks))
        else:
            table = pa.Table.from_arrays([pa.array(self.ids, pa.string())], schema=self.schema)
        self.writer.write_table(table)
        self.ids, self.chunks = [], []

    def close(self) -> None:
        self._flush()
        self.writer.close()
        os.replace(_tmp(self.path), self.path)

    def abort(self) -> None:
        """Give up the file: its temporary file is deleted."""
        _abort(self.writer, self.path)
