"""Connect in Notebook 7: the quickstart's click-through in ``jupyter notebook``'s own UI.

Notebook 7 renders ipywidgets as JupyterLab does (the same widget manager), but its page,
menus and kernel indicator are its own. The extension, the callback and the widget must
behave exactly as in JupyterLab: the Authorize URL on this machine's loopback callback
port, the done page there, and the widget saying Connected with the calls below it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from browser_support import NOW, connect_through_quickstart, copy_notebooks, needs_chromium, screenshots
from lab_support import free_port, isolated_env, jupyterlab

pytestmark = needs_chromium


def test_connect_in_notebook_7(tmp_path: Path, browser_context: Any) -> None:
    notebooks = copy_notebooks(tmp_path)
    callback_port, port = free_port(), free_port()
    env = isolated_env(
        tmp_path / "jupyter", CONNECT_NOTEBOOK_CALLBACK_PORT=str(callback_port), CONNECT_NOTEBOOK_SANDBOX_NOW=NOW
    )
    args = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--ServerApp.root_dir={notebooks}"]
    with jupyterlab(tmp_path, env=env, command=[sys.executable, "-m", "notebook"], port=port, args=args) as server:
        url = f"{server.url}/notebooks/quickstart.ipynb?token={server.token}"
        done = connect_through_quickstart(
            browser_context,
            url,
            callback=f"http://127.0.0.1:{callback_port}",
            shot=screenshots("notebook7"),
            notebook7=True,
        )
        assert done.status.inner_text() == f"Connected: {done.label}"
