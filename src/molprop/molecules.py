"""RDKit molecules from the validated SMILES that every stage after validate reads."""

from __future__ import annotations

from collections.abc import Sequence

from rdkit import Chem


def parse_validated(smiles: Sequence[str], names: Sequence[object], kind: str,
                    where: str) -> list[Chem.Mol]:
    """One RDKit molecule per SMILES; a SMILES RDKit cannot read (which validate should have
    rejected) raises ``ValueError`` naming that molecule as ``<kind> <name> of <where>``."""
    mols = []
    for name, text in zip(names, smiles, strict=True):
        mol = Chem.MolFromSmiles(text) if isinstance(text, str) else None
        if mol is None:
            raise ValueError(
                f"{kind} {name!r} of {where}: SMILES {text!r} could not be parsed by RDKit. "
                "data/validated.parquet should hold only valid molecules: re-run the validate stage."
            )
        mols.append(mol)
    return mols
