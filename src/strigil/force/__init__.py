"""strigil.force."""
