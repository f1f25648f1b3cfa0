"""`_magics`: the IPython extension, ``%load_ext connect_notebook`` / ``%unload_ext``.

Loading starts the current kernel's callback server on its fixed port (the
Connect App has one registered Authorize URL), makes the app active for the
loaders, and prints the two URLs the app must have. On the sandbox (or when
asked) the kernel registers them itself; on a real app it never changes anything
without ``cn.register_callback()``.
"""

from __future__ import annotations

from typing import Any

from ._kernel import current

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext connect_notebook``: start the callback server and print the app's URLs."""
    kernel = current()
    connection = kernel.start()
    server = connection.server
    if connection.on_sandbox:
        print("connect_notebook: no Twilio credentials are set, so this uses the embedded Twilio sandbox.")
    print(f"Authorize URL:             {server.authorize_callback_url}")
    print(f"Deauthorize Callback URL:  {server.deauthorize_callback_url} (POST)")
    if not connection.on_sandbox and not kernel.settings.register_callback:
        print("Register both on the Connect App, or run connect_notebook.register_callback().")
    hub = kernel.settings.hub
    if hub is not None and kernel.settings.callback_public_url(server.port) is None:
        print(
            "Behind JupyterHub, but the hub did not give its public address (JUPYTERHUB_PUBLIC_URL, set by "
            "JupyterHub 5+ when c.JupyterHub.public_url is configured), so the URLs above are this machine's "
            "and a browser elsewhere cannot reach them. Set CONNECT_NOTEBOOK_PUBLIC_URL to "
            f"{hub.template(server.port)} (then the Authorize URL is that plus /connect/authorize), "
            "or paste the AccountSid under the button."
        )


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext connect_notebook``: stop the callback server and free its port."""
    current().stop()
