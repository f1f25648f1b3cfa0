"""The sandbox's index page says what it is and links to the Connect pages."""

from __future__ import annotations

import httpx

from connect_notebook.sandbox import Sandbox


def test_index_page_links_to_authorize_and_revoke_pages_and_lists_customers(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.url}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'href="/authorize/{sandbox.connect_app_sid}"' in response.text
    assert 'href="/console/authorized-apps"' in response.text
    for sid in sandbox.customer_account_sids:
        assert sid in response.text
