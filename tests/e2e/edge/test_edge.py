"""A master behind a TLS load balancer (issue 13): the edge host terminates
TLS in front of the master and sends X-Forwarded-For and X-Forwarded-Proto.
The master trusts the edge's address (nginx_proxy_trusted_proxies), so the
app sees the browser's address and https; the same edge proxy sending from an
address the master does not trust (port 8443, the negative control) shows
the app the edge's address and http, as would a master without
nginx_proxy_trusted_proxies. A client cannot claim either itself.
"""

from __future__ import annotations

import subprocess

import pytest
import requests
import urllib3

from edge_client import app_report, browser, edge_address, edge_untrusted, master_base, new_page, reported, ws_status

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.fixture(scope="module")
def client_address():
    """The controller's address on the scenario's network, where the browser's connections come from."""
    edge = edge_address()
    return edge.rsplit(".", 1)[0] + ".1"


def seen_through(url: str, screenshot, **context) -> tuple[str, str]:
    with browser() as chromium:
        text = app_report(new_page(chromium, **context), url, screenshot)
    return reported(text, "Client address"), reported(text, "Client scheme")


def test_the_app_sees_https_and_the_browsers_address_through_a_trusted_edge(client_address, artifacts):
    seen = seen_through(f"https://{edge_address()}/streamlitApp/", artifacts / "edge-trusted.png")
    assert seen == (client_address, "wss"), seen


def test_through_an_untrusted_address_the_app_sees_the_edge_and_http(artifacts):
    # The negative control: the same edge configuration, sending from the address the master does not trust.
    seen = seen_through(f"https://{edge_address()}:8443/streamlitApp/", artifacts / "edge-untrusted.png")
    assert seen == (edge_untrusted(), "ws"), seen


def test_a_client_cannot_claim_an_address_or_https_itself(client_address, artifacts):
    forged = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7", "X-Forwarded-Proto": "https"}
    seen = seen_through(f"{master_base()}/streamlitApp/", artifacts / "edge-forged.png", extra_http_headers=forged)
    assert seen == (client_address, "ws"), seen


def test_the_route_cookie_is_secure_behind_an_https_edge():
    answer = requests.get(f"https://{edge_address()}/streamlitApp/", verify=False, timeout=15)
    route = [c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith("streamlit_ops_route")]
    assert route and "secure" in route[0].lower(), answer.raw.headers.getlist("Set-Cookie")


def test_allow_takes_the_real_client_behind_the_edge(client_address):
    """The login app allows the controller (and the master's own smoke check) only."""
    assert requests.get(f"https://{edge_address()}/login/", verify=False, timeout=15).status_code == 200
    assert ws_status(f"https://{edge_address()}/login/") == 101
    # The edge's own, untrusted address is not allowed: 403 for the page and the WebSocket alike.
    assert requests.get(f"https://{edge_address()}:8443/login/", verify=False, timeout=15).status_code == 403
    assert ws_status(f"https://{edge_address()}:8443/login/") == 403
    # Control: the open demo app answers there.
    assert requests.get(f"https://{edge_address()}:8443/streamlitApp/", verify=False, timeout=15).status_code == 200


def test_allow_refuses_other_networks(children):
    probe = ("import sys, urllib.request, urllib.error\n"
             "try:\n    print(urllib.request.urlopen(sys.argv[1], timeout=15).status)\n"
             "except urllib.error.HTTPError as exc:\n    print(exc.code)\n")
    base = master_base()

    def status_from_child(url):
        return subprocess.run(["docker", "exec", children[0], "python3", "-c", probe, url],
                              capture_output=True, text=True, timeout=60, check=True).stdout.strip()

    assert status_from_child(f"{base}/login/") == "403"
    assert status_from_child(f"{base}/streamlitApp/") == "200"  # control
