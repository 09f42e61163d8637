"""strigil.web."""
