"""strigil.registry."""
