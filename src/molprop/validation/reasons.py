"""Reason codes written to ``data/rejected.csv``, with what each one means."""

REASONS: dict[str, str] = {
    # SMILES cell, before RDKit
    "missing_smiles": "the SMILES cell is empty (NaN / None) or a missing-value marker (NA, n/a, ?)",
    "empty_smiles": "the SMILES is an empty or whitespace-only string",
    "inchi_not_smiles": "the SMILES column holds an InChI string or an InChIKey",
    "reaction_smiles": "the SMILES is a reaction (contains '>')",
    "trailing_text": "text follows the SMILES after whitespace",
    "non_ascii_smiles": "the SMILES holds a character outside printable ASCII (RDKit would skip one at either end)",
    # RDKit parsing and sanitization
    "unparsable_smiles": "RDKit cannot parse the SMILES",
    "no_atoms": "no heavy atom: the SMILES parses to 0 atoms, or to hydrogen only ([H+])",
    "valence_error": "an atom exceeds its allowed valence",
    "kekulization_error": "an aromatic system cannot be kekulized",
    "sanitization_error": "RDKit sanitization failed for another reason",
    "dummy_atom": "the molecule contains dummy / wildcard atoms (*)",
    "query_bond": "the SMILES has an 'any' bond ('~'): the bond order is undefined",
    # the standardized molecule
    "standardization_failed": "an rdMolStandardize step raised an error",
    "mixture": "several distinct components remain after salt / solvent stripping",
    "metal": "the molecule contains a metal atom",
    "inorganic": "the molecule has no carbon atom (only with validate.rules.reject_inorganic: true)",
    "inorganic_salt": "several distinct components, none with carbon: no parent for salt stripping to keep",
    "radical": "an atom has unpaired electrons",
    "too_many_heavy_atoms": "more heavy atoms than validate.rules.max_heavy_atoms",
    "identity_key_failed": "no InChIKey could be computed",
    # the target cell
    "missing_target": "the target cell is empty, a missing-value marker or a spreadsheet error value",
    "censored_target": "the target is a censored value such as '<10' or '>100'",
    "non_numeric_target": "the target is not a number",
    "non_finite_target": "the target is infinite",
    "target_out_of_range": "the target lies outside validate.target_range",
    # groups of rows
    "conflicting_duplicates": "replicates of one molecule disagree beyond the tolerance",
}
