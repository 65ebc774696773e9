"""The organic counter-ions and solvents that salt stripping removes beside RDKit's default list.

RDKit's default fragment list knows the inorganic ions and a few organic acids (acetate,
TFA, mesylate, formate), not the usual pharmaceutical counter-ions: tartrate, tosylate,
fumarate, citrate, lactate, besylate, camsylate, meglumine, tromethamine... A drug salt such
as quetiapine fumarate then read as a two-component mixture. ``counter_ions.txt`` beside this
module lists them (and crystallization solvents), leaving out molecules that are also active
ingredients of combination products.
"""

from __future__ import annotations

from pathlib import Path

from rdkit.Chem.MolStandardize import rdMolStandardize

LIST = Path(__file__).with_name("counter_ions.txt")


def counter_ion_remover() -> rdMolStandardize.FragmentRemover:
    """A FragmentRemover (removing every fragment a pattern matches whole) for ``counter_ions.txt``."""
    return rdMolStandardize.FragmentRemoverFromData(LIST.read_text(), False)
