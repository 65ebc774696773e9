"""Explanations of trained models and of their errors."""
