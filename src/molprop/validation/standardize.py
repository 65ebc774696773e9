"""One SMILES string in, a standardized molecule (or a reason to reject it) out.

Steps (each switchable, see ``StandardizeConfig``): isotope parent, rdMolStandardize cleanup,
fragment parent (salts and solvents stripped, largest organic fragment kept), neutralization,
canonical tautomer, stereo removal. Atom-map numbers are cleared on reading. Row rules on
the string, the parsed molecule and the standardized parent run along the way; the first
failing rule names the rejection reason.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize

from molprop.molecules import use_legacy_stereo_perception
from molprop.validation.config import MoleculeRules, StandardizeConfig
from molprop.validation.counter_ions import counter_ion_remover
from molprop.validation.targets import MISSING_MARKERS, SPREADSHEET_ERROR, cell_text, is_missing

RDLogger.DisableLog("rdApp.*")  # every failure is reported as a rejected row instead

# Non-metal elements; any other element counts as a metal (metalloids Ge, Sb... included).
NON_METALS = frozenset(
    ["H", "He", "B", "C", "N", "O", "F", "Ne", "Si", "P", "S", "Cl", "Ar", "As", "Se", "Br",
     "Kr", "Te", "I", "Xe", "At", "Rn"]
)
# ASCII whitespace only: a no-break space inside a SMILES is reported as a foreign character
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]")
_GROUP = r"(?:a|&\d+|o\d+):\d+(?:,\d+)*"  # a CXSMILES stereo group: absolute, and (racemic), or
_INCHIKEY = re.compile(r"[A-Z]{14}-[A-Z]{10}-[A-Z]")
_STEREO_GROUPS = re.compile(rf"\|{_GROUP}(?:,{_GROUP})*\|")
_ABSOLUTE_ONLY = re.compile(r"\|a:\d+(?:,\d+)*(?:,a:\d+(?:,\d+)*)*\|")
_CHARGED = Chem.MolFromSmarts("[+,-]")
# Charges neutralize keeps: a carbocation, and a tetracoordinate boron anion (borohydride,
# cyanoborohydride, an amine-borane's BH3-: the Uncharger took a hydride off its H, and
# [BH3-]C#N became the borane BC#N, another compound).
_KEPT_CHARGE = Chem.MolFromSmarts("[#6+,#5-]")
# One drawing per compound where RDKit's default normalizations leave two (each pair has one
# InChI; kept apart, they were two molecules with contradicting targets, one in train and one
# in test): the forms RDKit's own rules write for their relatives (P=O as phosphates are
# written, -Se+(O-)- as sulfoxides, S(=O)(=O) as sulfones, N=N+=N- for azides and diazo), and
# neutral double bonds for ylides, imides and sulfoximines.
_RESONANCE_RULES = """\
P, As oxide / sulfide / selenide to P=X\t[P+,As+;X4:1]-[O-,S-,Se-;X1:2]>>[*+0:1]=[*+0:2]
P, As ylide, imide to P=C, P=N\t[P+,As+;X4:1]-[C-,N-;!X4:2]>>[*+0:1]=[*+0:2]
P, As imide with the charges one pair on (phosphazene rings)\t[P+,As+;X4:1]-[N+0:2]=[P+0,As+0;X4:3]-[N-,C-;!X4:4]>>[*+0:1]=[*:2]-[*:3]=[*+0:4]
S ylide, imide to S=C, S=N\t[S+;X3:1]-[C-,N-;!X4:2]>>[*+0:1]=[*+0:2]
Sulfone, selenone to S(=O)(=O)\t[S+,Se+;X4:1](=[O:3])-[O-;X1:2]>>[*+0:1](=[*:3])=[*+0:2]
Sulfoximine, sulfoxonium ylide to S(=O)=X\t[S+;X4:1](=[O:3])-[N-,C-;!X4:2]>>[*+0:1](=[*:3])=[*+0:2]
Sulfoximine, sulfoxonium ylide drawn with O- to S(=O)=X\t[S+;X4:1](=[N,C:3])-[O-;X1:2]>>[*+0:1](=[*:3])=[*+0:2]
S, Se drawn doubly charged to S(=O)=X\t[S+2,Se+2;X4:1](-[O-;X1:2])-[O-,N-,C-;!X4:3]>>[*+0:1](=[*+0:2])=[*+0:3]
Selenoxide to -Se+(O-)- (not seleninic acids or their esters)\t[!O:3][Se+0;X3:1](=[O+0;X1:2])[!O:4]>>[*:3][*+1:1](-[*-1:2])[*:4]
Sulfinic, seleninic acid or ester, sulfite drawn charged to S=O\t[O:3][S+,Se+;X3:1]-[O-;X1:2]>>[*:3][*+0:1]=[*+0:2]
Azide, diazo to N=N+=N-\t[N-,C-:1]-[N+;X2:2]#[N;X1:3]>>[*+0:1]=[*+1:2]=[*-1:3]
"""
_RESONANCE_SITE = Chem.MolFromSmarts("[+,-,#34]")
_METAL_ATOM = (
    "[" + ";".join(f"!#{Chem.GetPeriodicTable().GetAtomicNumber(s)}" for s in NON_METALS) + ";!#0]"
)
_METAL = Chem.MolFromSmarts(_METAL_ATOM)
_CARBON = Chem.MolFromSmarts("[#6]")
# A metal bonded to carbon: an organometallic (cleanup's MetalDisconnector would cut the bond).
_METAL_CARBON = Chem.MolFromSmarts(_METAL_ATOM + "~[#6]")
# Any negatively charged carbon (neutralize protonates those in Kekulé form).
_ANY_CARBANION = Chem.MolFromSmarts("[#6-]")
# A carbanion other than cyanide's or an isocyanide's carbon and other than the anion of a
# carbon acid (next to C=O, C=N, C#N, S=O, P=O or a nitro group: the sodium salt of
# phenylbutazone or of acetylacetone). Beside a metal it is an organometallic written
# ionically: PubChem's ferrocene '[CH-]1C=CC=C1.[CH-]1C=CC=C1.[Fe+2]', butyllithium
# '[Li+].[CH2-]CCC'.
_CARBANION = Chem.MolFromSmarts(
    "[#6-;!$([#6-]#[#7]);!$([#6-]~[#6,#7,#15,#16]=[#7,#8,#16]);!$([#6-]~[#6]#[#7])]")
# The carbon of a cyanide or isocyanide ('[C-]#N', '[C-]#[N+]R'): a ligand beside a metal
# cation other than an alkali or alkaline-earth one (technetium sestamibi written as [Tc+]
# and six isocyanides; hexacyanoferrate), the anion of a plain salt beside those (KCN).
_CYANO_CARBON = Chem.MolFromSmarts("[#6-]#[#7]")
# The metals whose cations are counter-ions of salts (NaCl: an inorganic salt, not a metal complex)
SALT_METALS = frozenset(["Li", "Na", "K", "Rb", "Cs", "Mg", "Ca", "Sr", "Ba"])
# An atom that a default rdMolStandardize step could act on: a charged atom, an element other
# than H, C, N, O, S and the halogens F, Cl, Br, I, or a three-connected S (sulfoxide-like).
# Every transform of RDKit's default Normalizer needs a charged atom, a sulfoxide S, or P, As,
# Sb, Se or Te (neutral nitro/azide/diazo/N-oxide forms are refused by RDKit's sanitization);
# reionization, neutralization and metal disconnection need a charge or a metal. A
# single-component molecule without such an atom (and without explicit H atoms) is therefore
# its own standardized parent. tests/test_validation_fast_path.py checks this on real data.
_NOT_PLAIN = Chem.MolFromSmarts("[!#1!#6!#7!#8!#9!#16!#17!#35!#53,!+0,#16X3]")
_PROBLEM_REASONS = {
    "AtomValenceException": "valence_error",
    "AtomKekulizeException": "kekulization_error",
    "KekulizeException": "kekulization_error",
}


class MolOutcome(NamedTuple):
    """Result for one SMILES: ``reason`` is None when the molecule is kept."""

    smiles: str | None = None
    key: str | None = None
    steps_changed: str = ""
    reason: str | None = None
    message: str = ""


class _Rejected(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class _Tools:
    """rdMolStandardize objects, built once per process (building them is the costly part)."""

    def __init__(self) -> None:
        self.metals = rdMolStandardize.MetalDisconnector()
        self.normalizer = rdMolStandardize.Normalizer()
        self.resonance = rdMolStandardize.NormalizerFromData(_RESONANCE_RULES,
                                                             rdMolStandardize.CleanupParameters())
        self.reionizer = rdMolStandardize.Reionizer()
        self.salts = rdMolStandardize.FragmentRemover("", False)  # leave_last=False
        self.largest = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
        self.uncharger = rdMolStandardize.Uncharger()
        # Stereocentres and double-bond stereo are kept (RDKit drops those a tautomer shift
        # could touch: D- and L-alanine became one molecule); only remove_stereo removes them.
        params = rdMolStandardize.CleanupParameters()
        params.tautomerRemoveSp3Stereo = False
        params.tautomerRemoveBondStereo = False
        self.tautomers = rdMolStandardize.TautomerEnumerator(params)
        self.counter_ions = counter_ion_remover()

    def is_counter_ion(self, fragment: Chem.Mol) -> bool:
        """True for a known salt or solvent fragment: RDKit's default list or molprop's
        (``counter_ions.txt``: pharmaceutical counter-ions and solvents)."""
        return (self.salts.remove(fragment).GetNumAtoms() == 0
                or self.counter_ions.remove(fragment).GetNumAtoms() == 0)


_TOOLS: _Tools | None = None


def _tools() -> _Tools:
    global _TOOLS
    if _TOOLS is None:
        _TOOLS = _Tools()
    return _TOOLS


def _charged(mol: Chem.Mol) -> bool:
    return mol.HasSubstructMatch(_CHARGED)


def _metal_symbols(mol: Chem.Mol) -> list[str]:
    if not mol.HasSubstructMatch(_METAL):
        return []
    return sorted({atom.GetSymbol() for atom in mol.GetAtoms()} - NON_METALS)


def _has_carbon(mol: Chem.Mol) -> bool:
    return mol.HasSubstructMatch(_CARBON)


def _metal_rejection(metals: list[str], detail: str = "") -> _Rejected:
    """The 'metal' rejection naming the metal element(s) and, when given, how it was seen."""
    how = f", {detail}" if detail else ""
    return _Rejected("metal", f"Contains metal atom(s) {', '.join(metals)} (organometallic or "
                     f"metal complex{how}); set validate.rules.reject_metals: false to keep such rows as "
                     "standardization leaves them (a disconnected metal's organic ligand or anion).")


def _carbon_free_metal(metals: list[str]) -> _Rejected:
    """The 'metal' rejection of a species without carbon ([K+], [MgH2], Fe2O3, cisplatin): no
    organic molecule to keep."""
    return _Rejected("metal", f"A carbon-free metal species or complex ({', '.join(metals)}), with no "
                     "organic molecule to keep as the parent.")


def _check_metals(mol: Chem.Mol, rules: MoleculeRules) -> None:
    """Reject, in the parsed input and before cleanup runs, a metal bonded to carbon or beside
    a carbanion, and any metal other than an alkali or alkaline-earth one (their cations are
    the counter-ions of salts, stripped like chloride).

    Cleanup's MetalDisconnector cuts metal--carbon, --N and --O bonds and fragment stripping
    then keeps the organic ligand alone ('CC[Fe]' -> 'CC', 'Cl[Pt]1(Cl)NCCN1' -> 'NCCN'); a
    metal cation is stripped as a counter-ion beside its anions ('[Li+].[CH2-]CCC' -> 'CCCC',
    '[O-]c1ccccc1.[O-]c1ccccc1.[Hg+2]' -> phenol, carboplatin -> its diacid). The metal rule
    on the standardized parent could never fire for those."""
    metals = _metal_symbols(mol) if rules.reject_metals else []
    if not metals:  # the one search most molecules need
        return
    bonded = {mol.GetAtomWithIdx(match[0]).GetSymbol() for match in mol.GetSubstructMatches(_METAL_CARBON)}
    if bonded:
        raise _metal_rejection(sorted(bonded))
    if mol.HasSubstructMatch(_CARBANION):
        raise _metal_rejection(metals, "written ionically: a metal cation beside a carbanion")
    others = sorted(set(metals) - SALT_METALS)
    if others and mol.HasSubstructMatch(_CYANO_CARBON):
        raise _metal_rejection(others, "written ionically: a metal cation beside cyanide or isocyanide "
                               "ligands")
    if others and not _has_carbon(mol):
        raise _carbon_free_metal(others)
    if others:
        raise _metal_rejection(others, "or a salt of it: only alkali and alkaline-earth metals are "
                               "stripped as counter-ions")


def has_dative_bond(text: str) -> bool:
    """Whether a SMILES writes a dative bond (``CS(C)->O``, ``O<-n1ccccc1``)."""
    return "->" in text or "<-" in text


def _separated(mol: Chem.Mol) -> tuple[Chem.Mol, list[int]]:
    """``mol`` (unsanitized) with each dative bond between non-metals written as a single bond
    from the donor (+1) to the acceptor (-1), and the indices of the atoms so charged."""
    datives = [b for b in mol.GetBonds() if b.GetBondType() == Chem.BondType.DATIVE
               and b.GetBeginAtom().GetSymbol() in NON_METALS and b.GetEndAtom().GetSymbol() in NON_METALS]
    if not datives:
        return mol, []
    editable = Chem.RWMol(mol)
    for bond in datives:
        donor, acceptor = editable.GetAtomWithIdx(bond.GetBeginAtomIdx()), editable.GetAtomWithIdx(bond.GetEndAtomIdx())
        donor.SetFormalCharge(donor.GetFormalCharge() + 1)
        acceptor.SetFormalCharge(acceptor.GetFormalCharge() - 1)
        editable.GetBondWithIdx(bond.GetIdx()).SetBondType(Chem.BondType.SINGLE)
    return editable.GetMol(), sorted({i for b in datives for i in (b.GetBeginAtomIdx(), b.GetEndAtomIdx())})


def charge_separated_datives(mol: Chem.Mol, sanitize: bool = False) -> Chem.Mol:
    """``mol`` with each dative bond between non-metals written as a single bond from the
    donor (+1) to the acceptor (-1), the form the normalizer knows: ``CS(C)->O`` is then DMSO as
    ``CS(C)=O`` gives it, ``CN(C)(C)->O`` trimethylamine N-oxide. Bonds to metals are left to
    the metal rules. ``sanitize``: sanitize the result even without such bonds (``mol`` is
    not yet)."""
    separated, charged = _separated(mol)
    if charged or sanitize:
        Chem.SanitizeMol(separated)
    return separated


def cleanup(mol: Chem.Mol) -> Chem.Mol:
    """rdMolStandardize.Cleanup with reused tool objects: remove Hs, write dative bonds between
    non-metals as charges (:func:`charge_separated_datives`; a parsed SMILES has them so
    already), disconnect metals, normalize functional groups (RDKit's rules, then molprop's for
    the resonance forms they leave apart), reionize. Steps that cannot change ``mol`` are
    skipped."""
    tools = _tools()
    if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():  # explicit H atoms
        mol = remove_hydrogen_atoms(mol)
    mol = charge_separated_datives(mol)
    if _metal_symbols(mol):
        mol = tools.metals.Disconnect(mol)
    mol = tools.normalizer.normalize(mol)
    if mol.HasSubstructMatch(_RESONANCE_SITE):
        mol = tools.resonance.normalize(mol)
    if _charged(mol):
        mol = tools.reionizer.reionize(mol)
    Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    return mol


def neutralize(mol: Chem.Mol) -> Chem.Mol:
    """rdMolStandardize.Uncharger on charged molecules (a no-op on neutral ones).

    A molecule with a carbanion is uncharged in its Kekulé form and its aromaticity perceived
    again: the Uncharger protonates the carbon but keeps the ring's aromatic flags, so the
    anion of phenylbutazone or cyclopentadienide came out as a SMILES RDKit cannot read. A
    carbocation keeps its charge, as a quaternary N+ does: its neutral forms are other
    molecules (an alkene, an alcohol), and the Uncharger gave one that carries H a hydride (a
    methyl cation became methane, tropylium a cycloheptatriene RDKit cannot read) and
    protonated its zwitterion's anion. A boron anion keeps its charge and hydrogens the same
    way (cyanoborohydride is no borane), and so does an anion whose neutral form would exceed
    its element's valence (hexafluorophosphate, an aryl trifluorosilicate: the Uncharger gave
    them an H RDKit cannot read back); the Uncharger sees it as a boron anion, so that a
    zwitterion's cation keeps the proton that balances it."""
    if not _charged(mol):
        return mol
    work = mol
    if mol.HasSubstructMatch(_ANY_CARBANION):
        work = Chem.Mol(mol)
        Chem.Kekulize(work, clearAromaticFlags=True)
    kept = {match[0]: mol.GetAtomWithIdx(match[0]).GetTotalNumHs()
            for match in mol.GetSubstructMatches(_KEPT_CHARGE)}
    overfull = _overfull_anions(mol)
    if kept or overfull:  # their H hidden, the Uncharger sees them as it sees a quaternary N+ (or B-)
        work = _with_hydrogens(work, dict.fromkeys([*kept, *overfull], 0))
        work = _with_elements(work, dict.fromkeys(overfull, 5))
    result = _tools().uncharger.uncharge(work)
    if kept or overfull:  # the Uncharger keeps the atoms' order
        result = _with_hydrogens(result, kept | {i: hs for i, (_, _, hs) in overfull.items()})
        result = _with_elements(result, {i: element for i, (element, _, _) in overfull.items()})
        for index, (_, charge, _) in overfull.items():
            result.GetAtomWithIdx(index).SetFormalCharge(charge)
    if work is not mol:
        Chem.SanitizeMol(result)
    # an N that lost its H+ is no stereocentre any more (C[N@H+]1CCC(...)CC1 kept '@' and became
    # another molecule than its free base, and standardizing it again removed the '@')
    Chem.AssignStereochemistry(result, cleanIt=True, force=True)
    return result


def _overfull_anions(mol: Chem.Mol) -> dict[int, tuple[int, int, int]]:
    """Anions whose neutral form (one H per negative charge) would exceed the element's
    largest valence, each mapped to its (element, charge, hydrogens): PF6-, SiF6 2-, ArSiF4-."""
    table = Chem.GetPeriodicTable()
    found = {}
    for atom in mol.GetAtoms():
        charge, element = atom.GetFormalCharge(), atom.GetAtomicNum()
        if charge < 0 and element != 5:  # boron anions: _KEPT_CHARGE
            largest = max(table.GetValenceList(element))
            if 0 <= largest < atom.GetTotalValence() - charge:
                found[atom.GetIdx()] = (element, charge, atom.GetTotalNumHs())
    return found


def _with_elements(mol: Chem.Mol, elements: dict[int, int]) -> Chem.Mol:
    """A copy of ``mol`` in which atom i is element ``elements[i]`` (``mol`` itself if none)."""
    if not elements:
        return mol
    result = Chem.RWMol(mol)
    for index, element in elements.items():
        result.GetAtomWithIdx(index).SetAtomicNum(element)
    result.UpdatePropertyCache(strict=False)
    return result.GetMol()


def _with_hydrogens(mol: Chem.Mol, counts: dict[int, int]) -> Chem.Mol:
    """A copy of ``mol`` in which atom i carries ``counts[i]`` hydrogens and no radical."""
    result = Chem.RWMol(mol)
    for index, count in counts.items():
        atom = result.GetAtomWithIdx(index)
        atom.SetNumExplicitHs(count)
        atom.SetNoImplicit(True)
        atom.SetNumRadicalElectrons(0)
    result.UpdatePropertyCache(strict=False)
    return result.GetMol()


def canonical_tautomer(mol: Chem.Mol) -> Chem.Mol:
    """RDKit's canonical tautomer, keeping the stereo of atoms and bonds it leaves in place."""
    result = _tools().tautomers.Canonicalize(mol)
    Chem.AssignStereochemistry(result, cleanIt=True, force=True)
    return result


def isotope_parent(mol: Chem.Mol) -> Chem.Mol:
    """``mol`` without isotope labels: [2H] becomes an implicit hydrogen, [13C] carbon."""
    result = remove_hydrogen_atoms(rdMolStandardize.IsotopeParent(mol, skipStandardize=True))
    Chem.AssignStereochemistry(result, cleanIt=True, force=True)  # C[C@H]([2H])O is not chiral
    return result


def remove_hydrogen_atoms(mol: Chem.Mol) -> Chem.Mol:
    """``mol`` with its H atoms made implicit, except one that sets a double bond's E/Z
    ([H]/N=C/C): RemoveHs keeps such an H, and so did it on an atom with another hydrogen,
    where it sets nothing ('[H]/C=C/C', '[2H]/C=C/C'), leaving a node in the graph."""
    result = Chem.RemoveHs(mol)
    spare = [atom.GetIdx() for atom in result.GetAtoms() if atom.GetAtomicNum() == 1 and not atom.GetIsotope()
             and atom.GetDegree() == 1 and atom.GetNeighbors()[0].GetTotalNumHs() > 0]
    if not spare:
        return result
    editable = Chem.RWMol(result)
    for index in sorted(spare, reverse=True):
        heavy = editable.GetAtomWithIdx(index).GetNeighbors()[0]
        heavy.SetNumExplicitHs(heavy.GetNumExplicitHs() + 1)
        editable.RemoveAtom(index)
    result = editable.GetMol()
    Chem.SanitizeMol(result)
    return result


def _isotope_labelled(mol: Chem.Mol, text: str) -> bool:
    return "[" in text and any(atom.GetIsotope() for atom in mol.GetAtoms())


def _check_text(value: object, remove_stereo: bool = False) -> str:
    """The SMILES text, stripped of surrounding whitespace, or a string-level rejection. A
    CXSMILES block of stereo groups alone is dropped where it adds nothing the row keeps: one
    of absolute centres only (``|a:1|``: what plain SMILES states), or any groups when
    ``remove_stereo`` discards the stereo anyway."""
    if is_missing(value):
        raise _Rejected("missing_smiles", "The SMILES cell is empty. Fill it in or drop the row.")
    text = cell_text(value).strip()
    if not text:
        raise _Rejected("empty_smiles", "The SMILES is empty or only whitespace (RDKit would read "
                        "it as a molecule with 0 atoms). Fill it in or drop the row.")
    if text.lower() in MISSING_MARKERS:  # R's NA, 'n/a', '?': never a SMILES
        raise _Rejected("missing_smiles", f"The SMILES cell holds '{text}', read as a missing-value marker. "
                        "Fill it in or drop the row.")
    if SPREADSHEET_ERROR.fullmatch(text):
        raise _Rejected("missing_smiles", f"The SMILES cell holds the spreadsheet error '{text}': the "
                        "spreadsheet could not compute it. Fix the formula (or paste the values) or drop the row.")
    if text.startswith("InChI="):
        raise _Rejected("inchi_not_smiles", f"'{text[:60]}' is an InChI string, not a SMILES. "
                        "Convert it to SMILES (e.g. RDKit Chem.MolFromInchi) first.")
    if ">" in text.replace("->", ""):  # "->" is a dative bond (e.g. [NH3]->[Pt]), not a reaction arrow
        raise _Rejected("reaction_smiles", "This is reaction SMILES (reactants>agents>products), "
                        "not one molecule. Give the product (or the molecule measured) only.")
    match = _WHITESPACE.search(text)
    block = text[match.start():].strip() if match else ""
    stereo_groups = bool(match) and _STEREO_GROUPS.fullmatch(block) is not None  # no regex on the common path
    if stereo_groups and (remove_stereo or _ABSOLUTE_ONLY.fullmatch(block)):
        text, match = text[:match.start()], None
    if match and stereo_groups:
        raise _Rejected("trailing_text", f"'{block[:60]}' after the SMILES marks racemic or relative stereo "
                        "groups (CXSMILES; from an SD file: its STERAC / STEREL groups), which plain SMILES "
                        "cannot carry: it would state one absolute configuration. Write the SMILES of the "
                        "stereo the measured sample had, or set validate.standardize.remove_stereo: true.")
    if match and block.startswith("|"):
        raise _Rejected("trailing_text", f"'{block[:60]}' after the SMILES is a CXSMILES extension "
                        "(coordinates, labels...), which plain SMILES cannot carry. Export plain SMILES.")
    if match:
        raise _Rejected("trailing_text", f"Text after the SMILES: '{text[match.start():].strip()[:60]}'. "
                        "RDKit would silently ignore it; put names and notes in their own column.")
    if text.isascii() and text.isprintable():  # the common case, checked in C
        return text
    foreign = sorted({c for c in text if not " " < c < "\x7f"})
    if foreign:  # SMILES are printable ASCII; RDKit skips other characters at either end without a word
        names = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, 'control character')}" for c in foreign[:3])
        raise _Rejected("non_ascii_smiles", f"{text[:80]!r} holds character(s) outside printable ASCII "
                        f"({names}), which SMILES never contain (a dash, a symbol or a full-width letter "
                        "from a document, a control character?). Copy the SMILES as plain text, or replace "
                        "them by their ASCII form.")
    return text


def _refuse_open_aromatic_bonds(mol: Chem.Mol) -> None:
    """An aromatic bond (':') that RDKit leaves outside any aromatic ring (``CC(:O):O``, a
    carboxylate with SD bond type 4; ``C:CO``) has no bond order: the species is none (C2H3O2,
    neutral), yet RDKit reads it without a word. Between a ring and its substituent RDKit makes
    the bond single (``c1ccccc1:c1ccccc1`` is biphenyl), which stays accepted."""
    for bond in mol.GetBonds():
        if bond.GetBondType() == Chem.BondType.AROMATIC and not bond.GetIsAromatic():
            a, b = bond.GetBeginAtom(), bond.GetEndAtom()
            raise _Rejected("kekulization_error", f"The aromatic bond (':') between atoms {a.GetIdx()} "
                            f"({a.GetSymbol()}) and {b.GetIdx()} ({b.GetSymbol()}), counted from 0, lies outside "
                            "any aromatic ring, so its bond order is undefined: write it as a single or double bond (a "
                            "carboxylate as C(=O)[O-]).")


def _with_datives_as_charges(text: str) -> Chem.Mol | None:
    """The molecule of a SMILES with dative bonds, those between non-metals made charges
    before it is sanitized (sanitizing first dropped the stereo of an atom on such a bond:
    esomeprazole became omeprazole, and N->BF3 was a valence error); None when it cannot be
    read at all (the usual parse then says why). A dative bond drawn beside the charges it
    stands for is rejected, naming the atom."""
    mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    separated, charged = _separated(mol)
    twice = [separated.GetAtomWithIdx(i) for i in charged if abs(separated.GetAtomWithIdx(i).GetFormalCharge()) > 1]
    problems = [] if twice else list(Chem.DetectChemistryProblems(separated))
    if twice or problems:
        where = (f"atom {twice[0].GetIdx()} ({twice[0].GetSymbol()}, counted from 0) would carry a charge of "
                 f"{twice[0].GetFormalCharge():+d}" if twice else f"RDKit: {problems[0].Message()}")
        reason = "valence_error" if twice else _PROBLEM_REASONS.get(problems[0].GetType(), "sanitization_error")
        raise _Rejected(reason, f"The dative bond(s) ('->'), read as charges: {where}. A dative bond "
                        "stands for the charges it leaves (CS(C)->O is C[S+](C)[O-]): write one or the other, "
                        "not both.")
    Chem.SanitizeMol(separated)
    return separated


def _parse(text: str) -> Chem.Mol:
    if "~" in text:  # a ring closure's '~' is read as a single / aromatic bond: the text decides
        raise _Rejected("query_bond", "An 'any' bond ('~', a SMARTS query bond that RDKit's SMILES "
                        "reader accepts): the bond order, and so the molecule, is undefined. Give "
                        "the bond order (-, =, #, or aromatic atoms).")
    mol = _with_datives_as_charges(text) if has_dative_bond(text) else None
    mol = mol if mol is not None else Chem.MolFromSmiles(text)
    if mol is not None and mol.GetNumAtoms() > 0:
        if ("*" in text or "#0" in text) and any(atom.GetAtomicNum() == 0 for atom in mol.GetAtoms()):
            raise _Rejected("dummy_atom", "Dummy / wildcard atom(s) ('*' or '[#0]'): this is a "
                            "fragment or a Markush structure, not a complete molecule.")
        if ":" in text:  # atom-map numbers ([CH3:1]) label atoms; they are not the molecule
            for atom in mol.GetAtoms():
                atom.SetAtomMapNum(0)
            _refuse_open_aromatic_bonds(mol)
        return mol
    mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None and _INCHIKEY.fullmatch(text):
        raise _Rejected("inchi_not_smiles", f"'{text}' is an InChIKey (a hash of the InChI), not a "
                        "SMILES: no structure can be read from it. Give the SMILES (e.g. looked up by "
                        "the key in PubChem) instead.")
    if mol is None:
        raise _Rejected("unparsable_smiles", f"RDKit cannot parse '{text[:80]}' (SMILES syntax "
                        "error: unbalanced brackets or ring closures, unknown element...).")
    if mol.GetNumAtoms() == 0:
        raise _Rejected("no_atoms", "The SMILES parses to a molecule with 0 atoms.")
    problems = Chem.DetectChemistryProblems(mol)
    if problems:
        problem = problems[0]
        reason = _PROBLEM_REASONS.get(problem.GetType(), "sanitization_error")
        hint = {"valence_error": "Check charges and bond orders of that atom.",
                "kekulization_error": "Check the aromatic ring: a pyrrole-type N needs [nH], or "
                "write the ring in Kekulé form."}.get(reason, "")
        raise _Rejected(reason, f"RDKit: {problem.Message()}. {hint}".strip())
    raise _Rejected("sanitization_error", f"RDKit could not sanitize '{text[:80]}'.")


def _fragment_parent(mol: Chem.Mol, rules: MoleculeRules, strip: bool, text: str) -> Chem.Mol:
    """The single component left after stripping salts and solvents (or a mixture rejection).

    A SMILES without '.' is one component unless cleanup disconnected a metal from it."""
    if "." not in text and not _metal_symbols(mol):
        return mol
    fragments = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if len(fragments) == 1:
        return mol
    if strip:
        tools = _tools()
        organic = [frag for frag in fragments if _has_carbon(frag)]
        # Known organic counter-ions and solvents (acetate, tartrate, tosylate, meglumine,
        # ethanol...) matter only when they would compete with another organic fragment for
        # the parent.
        kept = [f for f in organic if not tools.is_counter_ion(f)] if len(organic) >= 2 else organic
        candidates = kept or organic  # all of them known counter-ions (methylamine mesylate): all
    else:
        candidates = kept = list(fragments)
    unique = {Chem.MolToSmiles(frag): frag for frag in candidates}
    if len(unique) > 1 and rules.reject_mixtures:
        names = ", ".join(sorted(unique)[:5])
        remain = ("are in it (validate.standardize.fragment_parent is false: no salt or solvent is stripped)"
                  if not strip else "remain after salt / solvent stripping" if kept else
                  "are left, each of them a known salt or solvent fragment, so none stands out as the parent")
        raise _Rejected("mixture", f"{len(unique)} distinct components {remain}: {names}. Give the one molecule "
                        "that was measured (or set validate.rules.reject_mixtures: false to keep the largest).")
    if strip and len(unique) == 1:
        parent = Chem.MolFromSmiles(next(iter(unique)))
        return parent if parent is not None else mol
    if strip and unique:
        merged = Chem.MolFromSmiles(".".join(unique))
        return _tools().largest.choose(merged) if merged is not None else mol
    if strip:  # no organic fragment (a metal other than a counter-ion was rejected before cleanup)
        inorganic = {Chem.MolToSmiles(frag) for frag in fragments}
        if len(inorganic) == 1:  # repeats of one species (O.O): that species, for the rules to judge
            parent = Chem.MolFromSmiles(next(iter(inorganic)))
            return parent if parent is not None else mol
        raise _Rejected("inorganic_salt", f"Inorganic salt or mixture ({Chem.MolToSmiles(mol)}): several "
                        "carbon-free components and no organic one to keep as the parent molecule. Give "
                        "the species that was measured on its own.")
    return mol


def _check_parent(mol: Chem.Mol, rules: MoleculeRules, bracket_atoms: bool,
                  metals: bool = True) -> None:
    """Rules on the standardized parent; without bracket atoms in the input (every atom from
    the organic subset, implicit hydrogens) there can be no radical; ``metals=False`` skips
    the metal search for a molecule known to have none."""
    if mol.GetNumAtoms() == 0:
        raise _Rejected("no_atoms", "Nothing is left after standardization (0 atoms).")
    if mol.GetNumHeavyAtoms() == 0:
        raise _Rejected("no_atoms", f"Only hydrogen ({Chem.MolToSmiles(mol)}): no heavy atom to describe.")
    metals = _metal_symbols(mol) if metals else []
    if metals and rules.reject_metals:  # before the radical check: [Cu+2] is a metal ion
        raise _carbon_free_metal(metals) if not _has_carbon(mol) else _metal_rejection(metals)
    if bracket_atoms:
        radicals = [f"{a.GetSymbol()}{a.GetIdx() + 1}" for a in mol.GetAtoms()
                    if a.GetNumRadicalElectrons()]
        if radicals:
            raise _Rejected("radical", f"Unpaired electrons on atom(s) {', '.join(radicals[:5])}: "
                            "a radical. If hydrogens are missing, write them (e.g. [CH3] -> C).")
    if rules.reject_inorganic and not _has_carbon(mol):
        raise _Rejected("inorganic", f"No carbon atom ({Chem.MolToSmiles(mol)}): an inorganic "
                        "species; set validate.rules.reject_inorganic: false to keep it.")
    heavy = mol.GetNumHeavyAtoms()
    if heavy > rules.max_heavy_atoms:
        raise _Rejected("too_many_heavy_atoms", f"{heavy} heavy atoms, above the cap of "
                        f"{rules.max_heavy_atoms} (validate.rules.max_heavy_atoms).")


def _steps(config: StandardizeConfig, rules: MoleculeRules, text: str):
    if config.cleanup:
        yield "cleanup", cleanup
    yield "fragment_parent", lambda m: _fragment_parent(m, rules, config.fragment_parent, text)
    if config.neutralize:
        yield "neutralize", neutralize
    if config.canonical_tautomer:
        yield "canonical_tautomer", canonical_tautomer
    if config.remove_stereo:
        def remove_stereo(m: Chem.Mol) -> Chem.Mol:
            m = Chem.Mol(m)
            Chem.RemoveStereochemistry(m)
            return m
        yield "remove_stereo", remove_stereo


def _run_steps(mol: Chem.Mol, text: str, config: StandardizeConfig,
               rules: MoleculeRules) -> tuple[Chem.Mol, list[str], str, str]:
    """The standardized parent, the names of the steps that changed the canonical SMILES, and
    the canonical SMILES of the input and of the parent. A step that returns its input object
    unchanged costs no SMILES comparison."""
    changed: list[str] = []
    before = first = Chem.MolToSmiles(mol)
    for name, step in _steps(config, rules, text):
        try:
            result = step(mol)
        except _Rejected:
            raise
        except Exception as err:  # RDKit raises assorted types (ValueError, RuntimeError...)
            raise _Rejected("standardization_failed", f"rdMolStandardize step '{name}' failed: "
                            f"{err}") from err
        if result is mol:
            continue
        mol, after = result, Chem.MolToSmiles(result)
        if after != before:
            changed.append(name)
        before = after
    return mol, changed, first, before


def identity_key(mol: Chem.Mol, smiles: str, kind: str) -> str:
    """The molecule's identity key: standard InChIKey or the canonical SMILES."""
    if kind == "smiles":
        return smiles
    key = Chem.MolToInchiKey(mol)
    if not key:
        raise _Rejected("identity_key_failed", "RDKit could not compute an InChIKey for this "
                        "molecule; use validate.identity_key: smiles.")
    return key


def is_plain(mol: Chem.Mol, text: str, config: StandardizeConfig) -> bool:
    """True when no enabled standardization step can change ``mol`` (see ``_NOT_PLAIN``), so
    the steps can be skipped: one component, no explicit H atoms, no charged atom, only H, C,
    N, O, S (not three-connected), F, Cl, Br and I, and neither tautomer canonicalization nor
    stereo removal asked for. Such a molecule has no metal either."""
    return ("." not in text and not config.canonical_tautomer and not config.remove_stereo
            and not has_dative_bond(text) and mol.GetNumAtoms() == mol.GetNumHeavyAtoms()
            and not mol.HasSubstructMatch(_NOT_PLAIN))


def plain_salt_parent(mol: Chem.Mol, text: str, config: StandardizeConfig) -> Chem.Mol | None:
    """The parent of a salt or solvate whose one organic component is plain (see
    ``is_plain``) and whose other components have no carbon, e.g. ``CCN.Cl`` -> ``CCN``; None
    for any other input. The full steps would give the same: cleanup and neutralization leave
    a plain component as it is, and fragment stripping keeps it as the only organic one."""
    if ("." not in text or not config.fragment_parent or config.canonical_tautomer
            or config.remove_stereo or has_dative_bond(text) or mol.GetNumAtoms() != mol.GetNumHeavyAtoms()):
        return None
    carbons = {match[0] for match in mol.GetSubstructMatches(_CARBON)}
    organic = [frag for frag in Chem.GetMolFrags(mol) if carbons.intersection(frag)]
    if len(organic) != 1:
        return None
    atoms = set(organic[0])
    if any(match[0] in atoms for match in mol.GetSubstructMatches(_NOT_PLAIN)):
        return None
    return Chem.MolFromSmiles(Chem.MolFragmentToSmiles(mol, atomsToUse=sorted(atoms)))


def standardize_smiles(value: object, config: StandardizeConfig, rules: MoleculeRules) -> MolOutcome:
    """Standardize one SMILES cell and apply the molecule row rules."""
    try:
        text = _check_text(value, config.remove_stereo)
        mol = _parse(text)
        labelled = config.isotope_parent and _isotope_labelled(mol, text)
        if labelled:
            original, mol = Chem.MolToSmiles(mol), isotope_parent(mol)
        plain = is_plain(mol, text, config)
        if not plain:  # a plain molecule has no metal; a salt's metal is seen before stripping
            _check_metals(mol, rules)
        salt_parent = None if plain else plain_salt_parent(mol, text, config)
        if plain:
            parent, steps, input_smiles, smiles = mol, [], "", Chem.MolToSmiles(mol)
        elif salt_parent is not None:
            parent, smiles, input_smiles = salt_parent, Chem.MolToSmiles(salt_parent), text
            plain, steps = True, ["fragment_parent"]
        else:
            parent, steps, input_smiles, smiles = _run_steps(mol, text, config, rules)
        if labelled:
            steps, input_smiles = ["isotope_parent", *steps], original
        if has_dative_bond(text) and not has_dative_bond(Chem.MolToSmiles(mol)):  # read as charges
            steps, input_smiles = ["dative_bonds", *steps], text
        _check_parent(parent, rules, "[" in text, metals=not plain)
        changed = bool(steps) and smiles != input_smiles
        # A changed molecule must read back (RDKit's Uncharger alone turned a cyclopentadienide
        # into a non-kekulizable 'c1cccc1', see neutralize); an unchanged one is the parsed
        # input itself.
        if changed and Chem.MolFromSmiles(smiles) is None:
            raise _Rejected("standardization_failed", f"The standardized SMILES '{smiles[:80]}' "
                            "cannot be parsed back by RDKit (a standardization step left an "
                            "invalid structure).")
        key = identity_key(parent, smiles, config.identity_key)
    except _Rejected as rejected:
        return MolOutcome(reason=rejected.reason, message=rejected.message)
    return MolOutcome(smiles=smiles, key=key, steps_changed=";".join(steps) if changed else "")


def standardize_many(values: list[object], config: StandardizeConfig,
                     rules: MoleculeRules) -> list[MolOutcome]:
    """``standardize_smiles`` over a list, in order (the unit of work of one process)."""
    use_legacy_stereo_perception()
    return [standardize_smiles(value, config, rules) for value in values]
