"""The Caddy peer: Debian's ``caddy`` package on the bench master, in front of
the same children as the master's Nginx.

Configured as Caddy's documentation gives it for a sticky WebSocket app: one
``reverse_proxy`` to every child with ``lb_policy cookie`` (WebSockets need no
setting of their own), and ``encode zstd gzip``. Two sites, one process:

- ``http://:8081``: plain HTTP, for the rerun round trip and the session ramp
  (the master's Nginx is measured over plain HTTP there too);
- ``https://MASTER_IP:8443``: ``tls internal`` (Caddy's own CA, a certificate
  for the IP), HTTP/2, for the first page load.

Debian's unit asks for ``LimitNOFILE=1048576``; a container may not raise its
hard limit, so systemd could not start Caddy with it. A drop-in sets the
master's own hard limit instead (20,000 here): Caddy gets what Nginx's master
gets. Go raises its soft limit to the hard one by itself.

    ensure(fleet) -> {"http": URL, "https": URL, "version": ..., "nofile": N}

``ensure`` installs and configures Caddy for ``fleet["children"]`` and waits
until both sites answer; it writes the same file again on every call, so it
follows the children the app currently runs on.
"""

from __future__ import annotations

import json
import time
import urllib.request

try:
    from . import fleet as fl
except ImportError:
    import fleet as fl

HTTP_PORT = 8081
HTTPS_PORT = 8443
CADDYFILE = "/etc/caddy/Caddyfile"
DROPIN = "/etc/systemd/system/caddy.service.d/bench-nofile.conf"

TEMPLATE = """{{
    http_port {http_port}
    https_port {https_port}
    auto_https disable_redirects
    skip_install_trust
}}

(app) {{
    encode zstd gzip
    reverse_proxy {path}* {upstreams} {{
        lb_policy cookie
    }}
}}

http://:{http_port} {{
    import app
{http_extra}}}

https://{ip}:{https_port} {{
    tls internal
    import app
}}
"""


def caddyfile(fleet: dict, routes: dict | None = None) -> str:
    """The Caddyfile for the app on fleet["children"]; routes ({path: [host:port, ...]})
    adds more sticky WebSocket routes to the plain HTTP site (bench/ramp.py's light backend)."""
    app = fleet["app"]
    upstreams = " ".join(f"{c['ip']}:{app['port']}" for c in fleet["children"])
    extra = "".join(f"    reverse_proxy {path}* {' '.join(to)} {{\n        lb_policy cookie\n    }}\n"
                    for path, to in (routes or {}).items())
    return TEMPLATE.format(http_port=HTTP_PORT, https_port=HTTPS_PORT, path=app["path"], upstreams=upstreams,
                           ip=fleet["master"]["ip"], http_extra=extra)


def urls(fleet: dict) -> dict:
    ip = fleet["master"]["ip"]
    return {"http": f"http://{ip}:{HTTP_PORT}", "https": f"https://{ip}:{HTTPS_PORT}"}


def _answers(url: str) -> bool:
    import ssl

    context = ssl._create_unverified_context()  # Caddy's internal CA; the bench trusts it as it is
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as resp:
            return resp.status == 200
    except OSError:
        return False


def ensure(fleet: dict) -> dict:
    master = fleet["master"]["name"]
    if not fl.sh(master, "command -v caddy || true").strip():
        fl.sh(master, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends caddy "
                      ">/tmp/bench-caddy-install.log 2>&1 || { apt-get update -q >/dev/null "
                      "&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends caddy "
                      ">>/tmp/bench-caddy-install.log 2>&1; }", timeout=600)
    fl.sh(master, f"cat > {CADDYFILE}", input=caddyfile(fleet))
    fl.sh(master, f"caddy validate --adapter caddyfile --config {CADDYFILE} >/dev/null 2>&1 "
                  f"|| caddy validate --adapter caddyfile --config {CADDYFILE}")
    fl.sh(master, f"mkdir -p {DROPIN.rsplit('/', 1)[0]} && printf '[Service]\\nLimitNOFILE=%s\\n' \"$(ulimit -Hn)\" "
                  f"> {DROPIN} && systemctl daemon-reload && systemctl restart caddy", timeout=120)
    found = urls(fleet)
    page = fleet["app"]["path"]
    deadline = time.monotonic() + 60
    while not all(_answers(found[k] + page) for k in ("http", "https")):
        if time.monotonic() > deadline:
            log = fl.sh(master, "journalctl -u caddy -n 30 --no-pager", check=False)
            raise RuntimeError(f"Caddy did not answer on {found} within 60 s:\n{log}")
        time.sleep(1)
    pid = fl.sh(master, "systemctl show -p MainPID --value caddy").strip()
    nofile = fl.sh(master, f"awk '/Max open files/ {{print $4}}' /proc/{pid}/limits").strip()
    version = fl.sh(master, "caddy version").strip()
    return dict(found, version=version, pid=int(pid), nofile=int(nofile) if nofile.isdigit() else None)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", required=True)
    print(json.dumps(ensure(fl.load(parser.parse_args().fleet)), indent=2))
