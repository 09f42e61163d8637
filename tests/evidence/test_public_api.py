"""The package's public names: sorted, importable, and each documented."""

from __future__ import annotations

import strigil.evidence as evidence


def test_public_names_are_sorted_and_exist() -> None:
    assert evidence.__all__ == sorted(evidence.__all__)
    for name in evidence.__all__:
        obj = getattr(evidence, name)
        assert obj.__doc__, name


def test_the_core_does_not_import_shells() -> None:
    import subprocess
    import sys

    code = "import sys, strigil.evidence as e; e.load_library(); print(chr(10).join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = [m for m in out.splitlines() if m.startswith("strigil.")]
    assert "strigil.evidence.library" in loaded
    shells = ("strigil.store", "strigil.services", "strigil.web", "strigil.cli")
    assert not [m for m in loaded if m.startswith(shells)]
