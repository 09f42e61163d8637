"""strigil.interop."""
