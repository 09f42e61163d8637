"""The folder tree keeps the design: the pure core never reaches a shell; every module says what it exports.

Core packages (`CORE`) are plain data in, plain data out: they never import the database, the services, the
command line or the web app, nor the libraries those shells are built on — at module level or inside a
function. Every module declares `__all__`, listing every public name it defines and nothing it lacks.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import strigil

SRC = Path(strigil.__file__).resolve().parent
CORE = ("catalog", "clinical", "display", "evidence", "force", "interop", "meta", "registry")
PACKAGES = tuple(sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()))
SHELLS = (
    "strigil.store",
    "strigil.services",
    "strigil.cli",
    "strigil.web",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
)


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", CORE)
def test_a_core_package_never_imports_a_shell(package: str) -> None:
    offences = []
    for path in _modules(package):
        for line, module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if any(module == shell or module.startswith(shell + ".") for shell in SHELLS):
                offences.append(f"{path.relative_to(SRC)}:{line} imports {module}")
    assert not offences, "\n".join(offences)


def test_the_boundary_check_sees_an_import_inside_a_function() -> None:
    tree = ast.parse("def f():\n    from strigil.store.record import PatientRow\n")
    assert _imports(tree) == [(2, "strigil.store.record")]


def test_every_package_is_either_core_or_a_known_shell() -> None:
    shells = {"cli", "network", "services", "store", "web"}
    assert set(PACKAGES) == set(CORE) | shells, "a new package: add it to CORE (pure) or to the shells"


def _bound_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names a module defines at top level, and names it imports (both including conditional blocks)."""
    defined: set[str] = set()
    imported: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    defined.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
                defined.add(node.target.id)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                imported.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return defined, imported


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_exactly_the_public_names(package: str) -> None:
    problems = []
    for path in _modules(package):
        if "migrations" in path.parts:
            continue  # Alembic's files follow Alembic's conventions
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined, imported = _bound_names(tree)
        public = {n for n in defined if not n.startswith("_")}
        declared = _declared_all(tree)
        where = str(path.relative_to(SRC))
        if declared is None:
            if public or (path.name == "__init__.py" and imported - {"annotations"}):
                problems.append(f"{where}: no __all__ (public: {sorted(public)})")
            continue
        if len(declared) != len(set(declared)):
            problems.append(f"{where}: __all__ repeats a name")
        missing = public - set(declared) - {"__all__"}
        if missing:
            problems.append(f"{where}: public but not in __all__: {sorted(missing)}")
        absent = set(declared) - defined - imported
        if absent:
            problems.append(f"{where}: in __all__ but not bound: {sorted(absent)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_imports(package: str) -> None:
    for info in pkgutil.walk_packages([str(SRC / package)], prefix=f"strigil.{package}."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            assert hasattr(module, name), f"{info.name}.{name}"


def test_every_cli_area_is_registered() -> None:
    from strigil.cli import AREAS

    modules = {p.stem for p in (SRC / "cli").glob("*.py")} - {"__init__", "toolkit"}
    assert set(AREAS) == modules
