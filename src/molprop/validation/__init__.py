"""Input curation: SMILES standardization, row rules, duplicate merging and the data checks.

Kept light on purpose: import the submodules (``molprop.validation.curate`` etc.) directly.
"""
