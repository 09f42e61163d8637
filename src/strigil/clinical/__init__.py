"""strigil.clinical."""
