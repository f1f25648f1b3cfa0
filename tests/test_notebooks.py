"""The committed notebooks as a newcomer first sees them, before running anything."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_saved_widget_state_shows_before_anything_runs(path: Path) -> None:
    nb = load(path)
    assert "widgets" not in nb["metadata"]  # a saved "Connected" button would show before any cell ran
    views = [o for c in nb["cells"] for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert views == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_code_cell_is_saved_with_its_outputs_so_nbval_checks_it(path: Path) -> None:
    code = [
        c for c in load(path)["cells"] if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])
    ]
    assert code
    assert [source(c)[:40] for c in code if not c.get("outputs")] == []


def test_the_quickstart_ends_with_the_kpis_and_two_charts() -> None:
    code = [c for c in load(ROOT / "notebooks" / "quickstart.ipynb")["cells"] if c["cell_type"] == "code"]
    *_, kpis, first, second = code
    assert re.search(r"\bcharts\.kpis\(", source(kpis))
    assert "text/html" in kpis["outputs"][0]["data"]
    for chart in (first, second):
        assert re.search(r"\bcharts\.\w+\(", source(chart))
        assert "image/svg+xml" in chart["outputs"][0]["data"]  # drawn offline, saved with the notebook
