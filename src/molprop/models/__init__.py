"""Models: feature matrices, the scikit-learn baseline, saved-model storage and prediction."""
