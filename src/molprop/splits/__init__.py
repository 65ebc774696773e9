"""Train/validation/test splits: random, scaffold, stratified, cluster and k-fold.

Each strategy is a pure function from molecules (and targets) to an array of part names
("train" | "val" | "test"); :func:`molprop.splits.run.make_split` ties them together with the
k-fold assignment and the split report. Only numpy, pandas, RDKit and scikit-learn are used.
"""
