"""Meta-tests: the public API resolves, and the docs list what the code defines."""

from __future__ import annotations

import re
from pathlib import Path

import connect_notebook
from connect_notebook import _exceptions
from connect_notebook._config import ENV_VARS
from connect_notebook.sandbox._pages import PAGE_ROUTES
from connect_notebook.sandbox._rest import ROUTES

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert connect_notebook.__all__ == sorted(connect_notebook.__all__)
    for name in connect_notebook.__all__:
        assert getattr(connect_notebook, name) is not None


def test_import_does_not_load_heavy_modules() -> None:
    import subprocess
    import sys

    code = (
        "import sys, connect_notebook; "
        "print(sorted(m for m in ('tornado', 'polars', 'altair', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_environment_variable_is_documented() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    for var in ENV_VARS:
        assert f"`{var.name}`" in page, var.name
    documented = set(re.findall(r"`(CONNECT_NOTEBOOK_[A-Z_]+)`", page))
    assert documented == {v.name for v in ENV_VARS}


def test_every_exception_is_documented_and_drawn() -> None:
    page = (ROOT / "docs" / "errors.md").read_text()
    classes = [
        obj
        for obj in vars(_exceptions).values()
        if isinstance(obj, type) and issubclass(obj, connect_notebook.ConnectNotebookError)
    ]
    assert classes
    for cls in classes:
        assert f"`{cls.__name__}`" in page
        assert cls.__name__ in (_exceptions.__doc__ or "")
        assert cls.__doc__


def test_every_sandbox_route_has_a_test_that_requests_it() -> None:
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    group = re.compile(r"\((?:[^()]|\([^()]*\))*\)\??")  # a group, one level of nesting
    for pattern, _handler in [*ROUTES, *PAGE_ROUTES]:
        segments = [s for s in group.sub("{}", pattern).replace("\\.json", "").split("/") if s]
        if not segments:
            needle = 'sandbox.url}/"'  # the index page
        elif segments[-1] == "{}":
            needle = f"/{segments[-2]}/"  # a resource fetched by SID, e.g. "/Calls/"
        else:
            needle = "/" + segments[-1].replace("{}", "")
        assert needle in tests, f"no test mentions the route {pattern} ({needle!r})"
