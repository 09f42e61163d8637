"""The example notebooks in docs/notebooks/ run from top to bottom, so they never go stale.

Each notebook is executed in a fresh kernel of this interpreter (nbclient); a cell that raises fails the test,
and so does a warning printed by a cell. `python tests/test_notebooks.py` re-executes them and saves their
outputs (run it after changing a notebook).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
KERNEL = "strigil-tests"


def _kernel_home(root: Path) -> Path:
    """A kernel spec that starts this interpreter (the one with strigil installed), whatever is on PATH."""
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"})
    )
    return root


def execute(path: Path, jupyter_path: Path) -> tuple[object, float]:
    """Run one notebook; the executed notebook and the seconds it took."""
    import os

    import nbformat
    from nbclient import NotebookClient

    os.environ["JUPYTER_PATH"] = str(_kernel_home(jupyter_path))
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    # no timings in the stored notebooks: re-running them changes only what the code prints
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(nb, kernel_name=KERNEL, timeout=300, record_timing=False, resources=resources).execute()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb, time.perf_counter() - start


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebook_runs_without_error_or_warning(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    nb, seconds = execute(path, tmp_path)
    printed = [
        out.get("text", "")
        for cell in nb.cells  # type: ignore[attr-defined]
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]
    assert not [text for text in printed if "Warning" in text], printed
    assert seconds < 60, f"{path.name} took {seconds:.0f} s"


def test_there_are_the_two_example_notebooks() -> None:
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == {
        "meta-analysis-iastm-trials.ipynb",
        "registry-dose-response.ipynb",
    }


if __name__ == "__main__":
    import tempfile

    import nbformat

    with tempfile.TemporaryDirectory() as home:
        for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
            executed, took = execute(notebook, Path(home))
            nbformat.write(executed, notebook)
            print(f"{notebook.name}: {took:.1f} s")
