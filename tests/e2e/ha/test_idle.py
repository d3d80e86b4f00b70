"""An idle session keeps its WebSocket past the proxy's stock 60 s and reacts at once.

Streamlit pings every 30 s by default, so a stock proxy passes that too. The
strict app pings every 100 s; only a proxy timeout derived from the ping
interval keeps its idle sessions. Control: the same session through the same
master after its timeouts are edited to a stock 60 s must lose its WebSocket.

Positive and control run at once to save a minute and a half: the positive
sessions open first, then the master is edited and reloaded (Nginx keeps
established connections on the old workers with the old timeouts), then the
control session opens on the new workers. The original files are restored at
the end whatever happens.
"""

import subprocess
import time

import pytest

from browser import Tab, chromium

IDLE_S = 75  # longer than Nginx's default 60 s proxy_read_timeout
STOCK_TIMEOUT = "60s"
CONFIG_FILES = (
    "/etc/nginx/conf.d/streamlit_ops_deploy.conf",
    "/etc/nginx/snippets/streamlit_ops_deploy.conf",
    "/etc/nginx/sites-available/streamlit_ops_deploy",
)
BACKUP = "/root/streamlit-ops-e2e-idle-backup"


def on_master(master, script, check=True):
    result = subprocess.run(["docker", "exec", master, "sh", "-c", script],
                            capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{script!r} on {master}: {result.stdout}{result.stderr}")
    return result.stdout


def stock_timeouts(master):
    """Replace every derived proxy timeout in the collection's files by 60 s and reload."""
    files = " ".join(CONFIG_FILES)
    on_master(master, f"rm -rf {BACKUP} && mkdir -p {BACKUP} && for f in {files}; do "
                      f"[ -e $f ] && cp -p $f {BACKUP}/$(echo $f | tr / _); done; true")
    edited = on_master(master, f"for f in {files}; do [ -e $f ] && sed -E -i "
                               f"'s/(proxy_(read|send)_timeout)[[:space:]]+[^;]+;/\\1 {STOCK_TIMEOUT};/' $f; done; "
                               f"cat {files} 2>/dev/null | grep -cE 'proxy_read_timeout {STOCK_TIMEOUT};' || true")
    assert int(edited.strip() or 0) > 0, "no proxy_read_timeout in the collection's Nginx files to edit"
    on_master(master, "nginx -t -q && systemctl reload nginx")


def restore_timeouts(master):
    files = " ".join(CONFIG_FILES)
    on_master(master, f"for f in {files}; do b={BACKUP}/$(echo $f | tr / _); [ -e $b ] && cp -p $b $f; done; "
                      f"rm -rf {BACKUP}; nginx -t -q && systemctl reload nginx")


@pytest.fixture(scope="module")
def browser(server_name, master_address):
    with chromium(server_name, master_address) as browser:
        yield browser


def test_idle_sessions_keep_their_websocket_and_control_loses_it(browser, master, app_url, strict_url, artifacts):
    tabs = {}
    try:
        # Positive: derived timeouts, ping every 30 s (main) and every 100 s (strict).
        for name, url in (("main", app_url), ("strict", strict_url)):
            tabs[name] = Tab(browser, timeout_s=30)
            assert tabs[name].open(url), f"{name}: {tabs[name].seen()}"
        stock_timeouts(master)
        try:
            time.sleep(1)  # the new workers take over new connections
            # Control: the 100 s app behind a stock 60 s timeout; the 30 s app passes there too.
            for name, url in (("strict-stock", strict_url), ("main-stock", app_url)):
                tabs[name] = Tab(browser, timeout_s=30)
                assert tabs[name].open(url), f"{name}: {tabs[name].seen()}"
            opened = time.monotonic()
            # Playwright delivers every tab's events while one page waits.
            tabs["main"].page.wait_for_timeout(IDLE_S * 1000)
            assert time.monotonic() - opened >= IDLE_S
            results = {name: (tab.move_slider(), len(tab.websockets)) for name, tab in tabs.items()}
            for name, tab in tabs.items():
                tab.screenshot(str(artifacts / f"ha-idle-{name}.png"))
        finally:
            restore_timeouts(master)
        print(f"after {IDLE_S} s idle (slider reacted, WebSockets opened): {results}")
        for name in ("main", "strict", "main-stock"):
            reacted, sockets = results[name]
            assert reacted and sockets == 1, f"{name} after {IDLE_S} s idle: {results}; {tabs[name].seen()}"
        reacted, sockets = results["strict-stock"]
        assert not (reacted and sockets == 1), (
            f"control: a 100 s ping behind a 60 s proxy timeout kept its WebSocket: {results}")
    finally:
        for tab in tabs.values():
            tab.close()
