"""Hardening tests reuse the web area's world: the same migrated, seeded two-clinic database and app factory.

The web conftest is loaded under its own module name (two files called `conftest` cannot share one), and
its fixtures are re-exported here so that pytest finds them for the tests in this folder.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

WEB_TESTS = Path(__file__).resolve().parent.parent / "web"


def _web_conftest():  # type: ignore[no-untyped-def]
    name = "strigil_web_test_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, WEB_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_web = _web_conftest()
PASSWORD = _web.PASSWORD
ROLES = _web.ROLES
World = _web.World
fast_hasher = _web.fast_hasher
template_db = _web.template_db
engine = _web.engine
world = _web.world
