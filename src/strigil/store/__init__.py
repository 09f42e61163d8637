"""strigil.store."""
