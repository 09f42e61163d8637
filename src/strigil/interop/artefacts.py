"""The FHIR artefacts Strigil ships (StructureDefinitions, CodeSystems, ValueSets) as package data.

`build_artefacts()` makes them from the catalogue and the extension tables; `shipped_artefacts()`
reads the files in `strigil/interop/data/`. Regenerate the files after a catalogue change with
`python -m strigil.interop.artefacts` (a test fails until they match).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from strigil.catalog import load_catalog
from strigil.interop.codesystems import build_code_systems, build_value_sets
from strigil.interop.definitions import build_structure_definitions

__all__ = ["build_artefacts", "shipped_artefacts", "write_artefacts"]


def build_artefacts() -> dict[str, dict[str, Any]]:
    """Every artefact keyed by its file name ("StructureDefinition-dose-step.json")."""
    code_systems = build_code_systems(load_catalog())
    artefacts = list(build_structure_definitions().values())
    artefacts += list(code_systems.values()) + list(build_value_sets(code_systems).values())
    return {f"{a['resourceType']}-{a['id']}.json": a for a in artefacts}


def shipped_artefacts() -> dict[str, dict[str, Any]]:
    """The artefacts as shipped in the package, keyed by file name."""
    folder = resources.files("strigil.interop") / "data"
    return {
        item.name: json.loads(item.read_text(encoding="utf-8"))
        for item in folder.iterdir()
        if item.name.endswith(".json")
    }


def write_artefacts(folder: Path) -> list[Path]:
    """Write every artefact as pretty JSON into `folder`; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artefact in sorted(build_artefacts().items()):
        path = folder / name
        path.write_text(json.dumps(artefact, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    for path in write_artefacts(Path(__file__).parent / "data"):
        print(path)
