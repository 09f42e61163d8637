"""strigil.catalog."""
