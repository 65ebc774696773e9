"""RDKit molecules from the validated SMILES that every stage after validate reads."""

from __future__ import annotations

from collections.abc import Sequence

from rdkit import Chem

from molprop.errors import UserInputError


def use_legacy_stereo_perception() -> None:
    """Make this process perceive stereochemistry with RDKit's legacy algorithm (its default),
    the one molprop's outputs are defined with.

    RDKit keeps the choice in the environment variable ``RDK_USE_LEGACY_STEREO_PERCEPTION``,
    which child processes inherit and some RDKit functions set for a moment (the ``SPS``
    descriptor runs ``FindMolChiralCenters(useLegacyImplementation=False)``). A worker
    process started at that moment, or a shell that sets the variable, would otherwise count
    e.g. the ring stereocentres of ``CC1CCC(C)CC1`` (2 instead of 0) and label
    ``Cl/C=C/Cl`` trans instead of E. Every unit of work that reads molecules calls this.
    """
    Chem.SetUseLegacyStereoPerception(True)


def parse_validated(smiles: Sequence[str], names: Sequence[object], kind: str,
                    where: str, for_fingerprints: bool = False) -> list[Chem.Mol]:
    """One RDKit molecule per SMILES; a SMILES RDKit cannot read (which validate should have
    rejected) raises ``ValueError`` naming that molecule as ``<kind> <name> of <where>``.

    ``for_fingerprints``: molecules good for Morgan fingerprints only, read ~2x faster. The
    SMILES must be RDKit-canonical, as validate writes them (see :func:`_read_for_fingerprints`);
    this read refuses unreadable SMILES but does not check valences.
    """
    use_legacy_stereo_perception()
    read = _read_for_fingerprints if for_fingerprints else Chem.MolFromSmiles
    mols = []
    for name, text in zip(names, smiles, strict=True):
        mol = read(text) if isinstance(text, str) else None
        if mol is None:
            raise UserInputError(
                f"{kind} {name!r} of {where}: SMILES {text!r} could not be parsed by RDKit. "
                "data/validated.parquet should hold only valid molecules: re-run the validate stage."
            )
        mols.append(mol)
    return mols


def _read_for_fingerprints(smiles: str) -> Chem.Mol | None:
    """A molecule with exactly what Morgan fingerprints read (atoms, bond types, aromatic flags,
    hydrogen counts, ring membership) from an RDKit-canonical SMILES, without the rest of
    sanitization (kekulization, aromaticity perception, conjugation, hybridization): the SMILES
    already carries aromaticity as RDKit perceived it. RDKit's ring search ignores dative
    bonds and the quick one does not, so a SMILES with a dative bond is read in full."""
    if "->" in smiles or "<-" in smiles:
        return Chem.MolFromSmiles(smiles)
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return None
    mol.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(mol)
    return mol
