"""The folder tree keeps the design: the pure core never reaches a shell; every module says what it exports.

Core packages (`CORE`) are plain data in, plain data out: they never import the database, the services, the
command line or the web app, nor the libraries those shells are built on — at module level or inside a
function. Web routes are thin: they reach the clinical rules and the store only through the services (an
import of `strigil.clinical` or `strigil.store` for type annotations, under `if TYPE_CHECKING:`, is all they
may have). Every module declares `__all__`, listing every public name it defines and nothing it lacks.
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


ROUTES = SRC / "web" / "routes"
BEHIND_THE_SERVICES = ("strigil.clinical", "strigil.store")


def _type_checking_only(node: ast.AST) -> bool:
    """An `if TYPE_CHECKING:` block (its imports serve annotations only)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """The imports that run (anywhere, also inside functions), leaving out `if TYPE_CHECKING:` blocks."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _reaches_past_the_services(tree: ast.AST) -> list[tuple[int, str]]:
    return [
        (line, module)
        for line, module in _runtime_imports(tree)
        if any(module == inner or module.startswith(inner + ".") for inner in BEHIND_THE_SERVICES)
    ]


@pytest.mark.parametrize("path", sorted(ROUTES.glob("*.py")), ids=lambda p: p.name)
def test_a_web_route_reaches_rules_and_store_only_through_services(path: Path) -> None:
    offences = _reaches_past_the_services(ast.parse(path.read_text(encoding="utf-8")))
    where = path.relative_to(SRC)
    assert not offences, "\n".join(
        f"{where}:{line} imports {module}: call a service (types only under `if TYPE_CHECKING:`)"
        for line, module in offences
    )


def test_the_route_check_sees_rules_in_functions_and_lets_types_pass() -> None:
    code = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from strigil.store.accounts import Account\n"
        "from strigil.clinical.vocabulary import allowed\n"
        "def route():\n"
        "    from strigil.store.record import SessionRow\n"
        "    import strigil.clinical.gates\n"
    )
    assert _reaches_past_the_services(ast.parse(code)) == [
        (4, "strigil.clinical.vocabulary"),
        (6, "strigil.store.record"),
        (7, "strigil.clinical.gates"),
    ]


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
