"""Streamlit's main bundle through the master: brotli to a client that
accepts br, gzip to one that accepts only gzip, the same bytes either way.
The master is Debian 13 with Debian's Nginx, where nginx_proxy installs
libnginx-mod-http-brotli-filter (nginx_proxy_brotli null). The controls: a
client that accepts neither gets the plain bundle, and the child itself,
asked by the master with br and gzip, compresses nothing: the encodings seen
here are the master's.
"""

import gzip
import re
from urllib.parse import urlsplit

import brotli
import pytest

from checks import fetch_encoded, main_bundle
from hosts import nginx_dump, on

BOTH = "br, gzip"


@pytest.fixture(scope="module")
def bundle(app_url) -> tuple[str, bytes]:
    """The main bundle's URL through the master, and its plain bytes."""
    return main_bundle(app_url)


def test_brotli_to_a_client_that_accepts_br(bundle):
    url, plain = bundle
    status, body, headers = fetch_encoded(url, BOTH)
    assert status == 200
    assert headers.get("content-encoding") == "br", headers
    assert brotli.decompress(body) == plain
    assert "accept-encoding" in headers.get("vary", "").lower(), headers
    print(f"main bundle {len(plain)} B, brotli {len(body)} B, ratio {len(body) / len(plain):.3f}")


def test_gzip_to_a_client_without_br(bundle):
    url, plain = bundle
    status, body, headers = fetch_encoded(url, "gzip")
    assert status == 200
    assert headers.get("content-encoding") == "gzip", headers
    assert gzip.decompress(body) == plain
    print(f"main bundle {len(plain)} B, gzip {len(body)} B, ratio {len(body) / len(plain):.3f}")


def test_control_the_child_itself_compresses_nothing(bundle, master):
    """Asked straight from the master (only it passes the child's firewall)
    with br and gzip, the child sends the bundle as it is."""
    backend = re.search(r"upstream streamlit_ops_deploy_sales \{[^}]*?server (\S+?:\d+)", nginx_dump(master))
    assert backend, "no upstream for the app on the master"
    direct = f"http://{backend.group(1)}{urlsplit(bundle[0]).path}"
    script = ("import sys, urllib.request\n"
              "r = urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={'Accept-Encoding': sys.argv[2]}), timeout=30)\n"
              "print(r.status, r.headers.get('Content-Encoding', 'none'), len(r.read()))\n")
    status, encoding, size = on(master, "python3", "-c", script, direct, BOTH).stdout.split()
    assert (status, encoding, int(size)) == ("200", "none", len(bundle[1]))
