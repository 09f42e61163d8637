"""Strigil: evidence-based Instrument-Assisted Soft Tissue Mobilization (IASTM).

The core packages (`clinical`, `meta`, `evidence`, `registry`) are pure and importable;
the shells (`cli`, `web`, `store`, `interop`) only translate.
"""

__version__ = "0.1.0"
