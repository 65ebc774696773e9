"""The yardstick of the featurize benchmark: raw RDKit on one core, on the same molecules.

What "single-core RDKit speed" means per featurizer (each a per-molecule time, summed for
a mode that runs several):

- parse: ``Chem.MolFromSmiles``;
- morgan: ``GetCountFingerprintAsNumPy`` of a radius-2, 2048-bit Morgan generator (RDKit's
  call that gives the count fingerprint as numbers); ``morgan (bare)`` is the C++ count
  vector alone (``GetCountFingerprint``, nothing read out of it), printed for reference;
- graph: RDKit has no graph featurizer, so the minimal reads: every atom and bond object
  (``GetAtomWithIdx`` / ``GetBondWithIdx``) and each getter the features use, mapped over
  them (8 per atom: element, total degree, formal charge, chiral tag, total Hs,
  hybridization, aromatic, mass; 6 per bond: begin, end, type, stereo, conjugated, ring),
  plus the per-atom physicochemical calls (``_CalcCrippenContribs``, ``_CalcTPSAContribs``,
  ``_CalcLabuteASAContribs``, ``ComputeGasteigerCharges`` and each atom's charge read);
- fast / full descriptors: every function of the set from ``Descriptors.descList``.

Times are CPU times of the single process (on an idle core the same as wall time; on a
shared machine they still say what one core does, so the yardstick stays put).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

ATOM_GETTERS = ("GetAtomicNum", "GetTotalDegree", "GetFormalCharge", "GetChiralTag", "GetTotalNumHs",
                "GetHybridization", "GetIsAromatic", "GetMass")  # fmt: skip
BOND_GETTERS = ("GetBeginAtomIdx", "GetEndAtomIdx", "GetBondType", "GetStereo", "GetIsConjugated", "IsInRing")


def _graph_reads(mols: Sequence) -> None:
    from rdkit.Chem import rdMolDescriptors, rdPartialCharges
    from rdkit.Chem.rdchem import Atom, Bond

    atom_getters = [getattr(Atom, name) for name in ATOM_GETTERS]
    bond_getters = [getattr(Bond, name) for name in BOND_GETTERS]
    for mol in mols:
        atoms = list(map(mol.GetAtomWithIdx, range(mol.GetNumAtoms())))
        bonds = list(map(mol.GetBondWithIdx, range(mol.GetNumBonds())))
        [list(map(get, atoms)) for get in atom_getters]
        [list(map(get, bonds)) for get in bond_getters]
        rdMolDescriptors._CalcCrippenContribs(mol, force=True)
        rdMolDescriptors._CalcTPSAContribs(mol, force=True)
        rdMolDescriptors._CalcLabuteASAContribs(mol, force=True)
        rdPartialCharges.ComputeGasteigerCharges(mol, throwOnParamFailure=False)
        [a.GetDoubleProp("_GasteigerCharge") for a in atoms]


def _descriptors(funcs: list, mols: Sequence) -> None:
    for mol in mols:
        for func in funcs:
            try:
                func(mol)
            except Exception:  # noqa: BLE001 - as molprop does: a failing descriptor is NaN
                pass


def _per_molecule(fn: Callable[[], object], n: int, repeats: int) -> float:
    """Median CPU seconds per molecule (CPU time: what one core does, even on a busy machine)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times) / n


def rdkit_seconds(smiles: Sequence[str], steps: Sequence[str], n_desc: int, repeats: int = 3) -> dict[str, float]:
    """Median CPU seconds per molecule of parse and of each raw RDKit step (``morgan``,
    ``morgan (bare)``, ``graph``, ``fast``, ``full``) on ``smiles``; descriptors on every
    k-th molecule (``n_desc`` of them)."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from molprop.features.descriptors import descriptor_functions

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    sample = mols[:: max(1, len(mols) // n_desc)]
    runs = {
        "parse": (lambda: [Chem.MolFromSmiles(s) for s in smiles], len(mols)),
        "morgan": (lambda: [gen.GetCountFingerprintAsNumPy(m) for m in mols], len(mols)),
        "morgan (bare)": (lambda: [gen.GetCountFingerprint(m) for m in mols], len(mols)),
        "graph": (lambda: _graph_reads(mols), len(mols)),
    }
    for which in ("fast", "full"):
        funcs = [f for _, f in descriptor_functions(which)]
        runs[which] = (lambda funcs=funcs: _descriptors(funcs, sample), len(sample))
    return {step: _per_molecule(*runs[step], repeats=1 if step in ("fast", "full") else repeats)
            for step in ("parse", *steps)}  # fmt: skip


def mode_rate(seconds: dict[str, float], steps: Sequence[str]) -> float:
    """Yardstick molecules/s of a mode: parse plus its steps, one core."""
    return 1.0 / (seconds["parse"] + sum(seconds[s] for s in steps))
