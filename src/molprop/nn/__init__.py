"""PyTorch networks and their training loop (imports torch: load only where needed)."""
