"""SD files read one record at a time (validate's input and molprop predict's).

Each record is read as RDKit's ``SDMolSupplier`` reads it (sanitized, hydrogens removed,
stereo from the mol block). A record RDKit parses but cannot sanitize (e.g. a five-bonded
carbon) is read again unsanitized, so that its SMILES reaches the molecule checks and the
row is rejected with RDKit's reason, like any bad SMILES; a record that is not a mol block
at all stops the reading with its number and first line. A name ending in ``.gz`` is read
gunzipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rdkit import Chem, rdBase

from molprop.data.io import open_text

END_OF_RECORD = "$$$$"


class SDRecordError(ValueError):
    """A record of an SD file that RDKit cannot parse as a mol block."""


def _blocks(path: Path) -> Iterator[tuple[int, str]]:
    """(line number of its first line, counting from 1; text) of every record."""
    lines: list[str] = []
    start = 1
    with open_text(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            lines.append(line)
            if line.startswith(END_OF_RECORD):
                yield start, "".join(lines)
                lines, start = [], number + 1
    if "".join(lines).strip():
        yield start, "".join(lines)


def _first(supplier: Chem.SDMolSupplier, block: str, sanitize: bool) -> Chem.Mol | None:
    supplier.SetData(block, sanitize=sanitize, removeHs=sanitize)
    try:
        return supplier[0]
    except (IndexError, RuntimeError):  # not even a record's structure
        return None


def _datives_as_charges(supplier: Chem.SDMolSupplier, block: str) -> Chem.Mol | None:
    """A record with dative bonds, those between non-metals made charges before it is
    sanitized and its stereo read from the wedges (sanitized first, the stereocentre on such a
    bond was lost: both enantiomers of a sulfoxide became one molecule); None where that fails."""
    from molprop.validation.standardize import charge_separated_datives

    raw = _first(supplier, block, sanitize=False)
    try:
        mol = Chem.RemoveHs(charge_separated_datives(raw, sanitize=True))
        Chem.AssignChiralTypesFromBondDirs(mol)
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    except (ValueError, RuntimeError):  # RDKit's sanitization errors: the record as RDKit read it
        return None
    return mol


def sd_molecules(path: str | Path) -> Iterator[Chem.Mol]:
    """The molecule of every record, in file order, with its SD properties and title
    (``_Name``); unsanitized where sanitizing fails. Raises ``SDRecordError`` naming the
    first record that is not a mol block."""
    path = Path(path)
    supplier = Chem.SDMolSupplier()
    for index, (line, block) in enumerate(_blocks(path)):
        with rdBase.BlockLogs():  # RDKit's complaints: the row is rejected with its reason later
            mol = _first(supplier, block, sanitize=True)
        if mol is None:  # not blocked: where this fails too, RDKit's line says why before the error below
            mol = _first(supplier, block, sanitize=False)
        elif any(bond.GetBondType() == Chem.BondType.DATIVE for bond in mol.GetBonds()):
            mol = _datives_as_charges(supplier, block) or mol
        if mol is None and "\x00" in block:
            raise SDRecordError(f"{path}: record {index + 1} (from line {line}) holds NUL bytes: not a text "
                                "SD file (a binary file, or text saved as UTF-16?). Save it as UTF-8.")
        if mol is None:
            raise SDRecordError(f"{path}: record {index + 1} (counting from 1; from line {line}, "
                                f"{block.splitlines()[0][:40]!r}) is not a readable mol block; fix or "
                                "delete that record.")
        yield mol


def record_smiles(mol: Chem.Mol) -> str:
    """The SMILES of a record; where its mol block marks racemic or relative stereo groups
    (V3000 ``STERAC`` / ``STEREL``: the drawn configuration is not the sample's), followed by
    the CXSMILES block that says so, which the SMILES checks refuse as they do in a CSV cell
    (plain SMILES would state one absolute configuration)."""
    if any(group.GetGroupType() != Chem.StereoGroupType.STEREO_ABSOLUTE for group in mol.GetStereoGroups()):
        return Chem.MolToCXSmiles(mol, Chem.SmilesWriteParams(), Chem.CXSmilesFields.CX_ENHANCEDSTEREO)
    return Chem.MolToSmiles(mol)


def sd_properties(mol: Chem.Mol) -> dict[str, str]:
    """The SD properties of a record as the file writes them (text: an id 0007 stays 0007, as
    the target reader and data.decimal see a CSV cell; RDKit's own conversion made it 7)."""
    return {name: mol.GetProp(name) for name in mol.GetPropNames(includePrivate=False, includeComputed=False)}
