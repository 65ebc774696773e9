"""Shared by the benchmarks: a pool of real molecules of any size, and process-tree memory.

Molecules are FreeSolv + Huuskonen parents grown by substituent enumeration with RDKit
(breadth-first: attach F, Cl, Br, C, O, N, C#N, CF3, OMe, COOH, Et, iPr to every H-bearing
atom), interleaved over parents so that any prefix is a mix of all parents. Pools are cached
as Parquet (mol_id, smiles) in a directory of the caller's choice.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FRAGMENTS = ("F", "Cl", "Br", "C", "O", "N", "C#N", "C(F)(F)F", "OC", "C(=O)O", "CC", "C(C)C")


def variants(parent_smiles: str, limit: int) -> list[str]:
    """Up to ``limit`` distinct canonical SMILES grown from one parent, breadth first."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # impossible valences are expected and skipped
    frags = [Chem.MolFromSmiles(f) for f in FRAGMENTS]
    seen, out, level = {parent_smiles}, [], [Chem.MolFromSmiles(parent_smiles)]
    while level and len(out) < limit:
        nxt = []
        for mol in level:
            sites = [a.GetIdx() for a in mol.GetAtoms() if a.GetTotalNumHs() > 0 and not a.GetNoImplicit()]
            for site, frag in itertools.product(sites, frags):
                combo = Chem.RWMol(Chem.CombineMols(mol, frag))
                combo.AddBond(site, mol.GetNumAtoms(), Chem.BondType.SINGLE)
                try:
                    new = combo.GetMol()
                    Chem.SanitizeMol(new)
                except Exception:  # noqa: BLE001 - an impossible valence: skip this variant
                    continue
                smi = Chem.MolToSmiles(new)
                if smi not in seen:
                    seen.add(smi)
                    out.append(smi)
                    nxt.append(new)
                    if len(out) >= limit:
                        return out
        level = nxt
    return out


def molecule_pool(n: int, cache_dir: Path) -> Path:
    """Parquet (mol_id, smiles) of ``n`` enumerated molecules, built once and cached."""
    path = cache_dir / f"pool_{n}.parquet"
    if path.exists():
        return path
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd
    from rdkit import Chem

    from molprop.data.builtin import load_builtin

    raw = pd.concat([load_builtin(REPO / f"data/builtin/{d}.yaml").smiles for d in ("freesolv", "huuskonen")])
    parents = list(dict.fromkeys(Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in raw))
    per_parent = int(1.3 * n / len(parents)) + 2
    with ProcessPoolExecutor() as pool:
        grown = list(pool.map(variants, parents, itertools.repeat(per_parent), chunksize=8))
    seen, smiles = set(), []
    columns = [[parent, *more] for parent, more in zip(parents, grown)]
    for smi in itertools.chain.from_iterable(itertools.zip_longest(*columns)):  # round robin
        if smi is not None and smi not in seen:
            seen.add(smi)
            smiles.append(smi)
            if len(smiles) == n:
                break
    if len(smiles) < n:
        raise RuntimeError(f"enumeration gave only {len(smiles)} molecules, asked for {n}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"mol_id": [f"b{i:07d}" for i in range(n)], "smiles": smiles}).to_parquet(path)
    return path


def process_tree(root: int, parent: dict[int, int]) -> set[int]:
    """``root`` and all its descendants, given each process's parent id."""
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier and p not in tree]
        tree.update(frontier)
    return tree


def _processes() -> tuple[dict[int, int], dict[int, int]]:
    """Parent id and RSS (KiB) of every process, from /proc/<pid>/status."""
    parent, rss = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as fh:
                    fields = dict(line.split(":", 1) for line in fh if ":" in line)
                parent[int(entry)] = int(fields["PPid"])
                rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
            except (OSError, KeyError, ValueError):
                continue
    return parent, rss


def tree_memory_kib(root: int) -> tuple[int, int, int]:
    """(RSS of ``root``, RSS of root + all its descendants, their PSS) in KiB, from one walk
    of /proc. PSS counts a page shared between processes (fork copy-on-write, Ray's
    shared-memory object store) once in all, where the RSS sum counts it once per process."""
    parent, rss = _processes()
    tree = process_tree(root, parent)
    pss = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                pss += next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            continue
    return rss.get(root, 0), sum(rss.get(p, 0) for p in tree), pss


def tree_rss_pss_kib(root: int) -> tuple[int, int]:
    """(RSS, PSS) of ``root`` + all its descendants in KiB (see :func:`tree_memory_kib`)."""
    return tree_memory_kib(root)[1:]
