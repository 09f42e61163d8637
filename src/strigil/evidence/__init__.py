"""strigil.evidence."""
