"""The session's figures recorder, written to ``--figures=PATH`` when the session ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaos.figures import Figures, Table


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    recorder = Figures()
    yield recorder
    path = request.config.getoption("--figures")
    if path:
        recorder.write(Path(path))


@pytest.fixture
def recorded(request: pytest.FixtureRequest, figures: Figures) -> Callable[[str, str], Table]:
    """``recorded(title, prop)``: the table the property ``prop`` of this module filled this session.

    For the audits that follow a property (every fault kind injected, every class sent): they
    read what it counted. Skips when ``prop`` was deselected; fails when it ran and counted nothing.
    """

    def lookup(title: str, prop: str) -> Table:
        # getattr: the session also holds nbval's notebook cells, which belong to no module.
        mine = [i for i in request.session.items if getattr(i, "module", None) is request.module]
        ran = [i for i in mine if i.name.startswith(prop)]
        if not ran:
            pytest.skip(f"{prop} was not selected in this session, so there is nothing of it to audit")
        table = figures.table(title)
        assert table.rows, f"{prop} ran but recorded nothing in {title!r}"
        return table

    return lookup
