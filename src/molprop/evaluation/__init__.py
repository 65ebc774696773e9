"""Test-set metrics and plot tables."""
