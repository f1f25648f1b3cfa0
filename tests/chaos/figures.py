"""What the chaos properties count as they run, and how many examples each profile gives them.

The counts are figures, not verdicts: every loss and leak is asserted inside the
properties themselves. ``python bench/chaos.py`` runs ``pytest tests/chaos
--hypothesis-profile=full --figures=PATH`` and prints the tables written to ``PATH``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import settings

FULL = "full"  # the hypothesis profile bench/chaos.py runs; every other profile is quick


def budget(quick: int, full: int) -> int:
    """The number of examples for a chaos property: ``full`` under the full profile, else ``quick``."""
    return full if settings.get_current_profile_name() == FULL else quick


class Table:
    """One table of figures: labelled values in the order they were first recorded."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: dict[str, Any] = {}

    def add(self, label: str, n: float = 1) -> None:
        """Add ``n`` to the count under ``label`` (0 to make a row appear with nothing counted)."""
        self.rows[label] = self.rows.get(label, 0) + n

    def set(self, label: str, value: Any) -> None:
        """Record a value that is not a count (a ratio, a list, a sentence)."""
        self.rows[label] = value

    def get(self, label: str, default: Any = 0) -> Any:
        return self.rows.get(label, default)


class Figures:
    """Every table the chaos properties of one pytest session recorded."""

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}

    def table(self, title: str) -> Table:
        """The table called ``title``, made on first use."""
        if title not in self.tables:
            self.tables[title] = Table(title)
        return self.tables[title]

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": settings.get_current_profile_name(),
            "tables": [{"title": t.title, "rows": [[k, v] for k, v in t.rows.items()]} for t in self.tables.values()],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=1, default=str) + "\n")
