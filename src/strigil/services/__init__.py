"""strigil.services."""
