"""The package's public names: importable, documented, and the core imports no shell."""

from __future__ import annotations

import subprocess
import sys

import strigil.force as force


def test_public_names_exist_once_and_are_documented() -> None:
    assert len(force.__all__) == len(set(force.__all__))
    for name in force.__all__:
        obj = getattr(force, name)
        if callable(obj):
            assert obj.__doc__, name
    # every public name of the modules that the package re-exports is reachable from the package
    assert {"analyse", "reliability", "give_feedback", "generate_recording", "trace_plot"} <= set(
        force.__all__
    )


def test_the_core_does_not_import_shells_or_databases() -> None:
    code = (
        "import sys, strigil.force as f; "
        "f.analyse(f.generate_recording(f.SyntheticSpec(n_strokes=2)).recording); "
        "print(chr(10).join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = out.splitlines()
    assert "strigil.force.analysis" in loaded
    shells = ("strigil.store", "strigil.services", "strigil.web", "strigil.cli", "strigil.interop")
    assert not [m for m in loaded if m.startswith(shells)]
    assert not [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "fastapi", "typer")]
