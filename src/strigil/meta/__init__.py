"""strigil.meta."""
