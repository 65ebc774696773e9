"""Loading molecule tables: built-in datasets and user files."""
