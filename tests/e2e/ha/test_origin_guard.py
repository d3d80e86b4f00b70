"""The proxy's origin guard on WebSocket upgrades (nginx_proxy, issue 11).

same-origin is the default (the app "main"): an upgrade whose Origin names
the Host it was sent to, or a public origin, gets 101 from Streamlit; a
foreign Origin gets 403 from Nginx; no Origin passes. strict (the app
"strict") is unchanged. Each handshake is checked down to
Sec-WebSocket-Accept, so a 101 is Streamlit's own. The control that proves
the 403 is the guard's (open lets every origin through) is in
test_loosened_controls.py.
"""

from __future__ import annotations

from upgrade import FOREIGN


def test_same_origin_is_the_default(ask, paths, server_name):
    main = paths["main"]
    assert ask(main, f"https://{server_name}") == 101
    # Case and the default port do not make an origin foreign.
    assert ask(main, f"https://{server_name.upper()}", host=f"{server_name}:443") == 101
    assert ask(main, FOREIGN) == 403
    # No Origin: a client that is not a browser passes.
    assert ask(main, None) == 101
    # Look-alikes are foreign: a longer name, another port of the same name, "null".
    assert ask(main, f"https://{server_name}.evil.example.test") == 403
    assert ask(main, f"https://{server_name}:8443") == 403
    assert ask(main, "null") == 403


def test_plain_requests_ignore_the_origin(app_url, cafile):
    import requests

    response = requests.get(app_url, headers={"Origin": FOREIGN}, verify=cafile, timeout=15)
    assert response.status_code == 200


def test_outer_proxy_rewriting_host(ask, paths, server_name, master_address):
    """An outer proxy that sends Host: <internal name> while the browser's
    Origin is the public name: the public origin (the server name) is
    allowed, so the seed's failure does not come back; a foreign Origin is
    still refused on the same Host (the control)."""
    for internal in (master_address, "xb-master.internal"):
        assert ask(paths["main"], f"https://{server_name}", host=internal) == 101, internal
        assert ask(paths["main"], FOREIGN, host=internal) == 403, internal


def test_strict_is_unchanged(ask, paths, server_name):
    strict = paths["strict"]
    assert ask(strict, f"https://{server_name}") == 101
    assert ask(strict, FOREIGN) == 403
    assert ask(strict, None) == 403
