"""The session's figures recorder, written to ``--figures=PATH`` when the session ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.figures import Figures


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    recorder = Figures()
    yield recorder
    path = request.config.getoption("--figures")
    if path:
        recorder.write(Path(path))
