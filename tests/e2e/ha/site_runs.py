"""The site.yml runs that several ha checks share, run once in this order and
kept for the tests that assert on them (the `site_runs` fixture,
conftest.py). Each run stands for one or more checks that used to run
site.yml for themselves; what each one feeds:

1. killed: a run that changes `main` (env DEMO_INTERRUPTED) killed once a
   child is drained; then `second` and `third` with the same change
   (test_interrupted_run.py).
2. new_image: image 1.1 of `main`, rolling, under load (test_rolling.py).
3. control: both replicas of `main` recreated in one batch with no drain
   wait, under load (test_rolling.py's control), run with -vvv --diff, the
   sentinel cookie secret and secrets file and the master's TLS key taken
   away (test_secret_sentinels.py's success run). It is also the first run
   of the lock check: while it holds the lock, `refused` (lock_wait 2)
   fails naming it and `back` is started and waits (test_run_lock.py).
4. back: the scenario's own apps, which waited for the control's lock, then
   rolled image 1.0 back out under a load started when the control ended
   (test_rolling.py, test_run_lock.py).
5. final: the scenario again with lock_wait 2: changes nothing, and passes
   once nobody holds the lock (test_rolling.py, test_run_lock.py).

The deployment is the scenario's at the end: `back` restores it and `final`
shows it; should `final` not pass, the scenario is converged once more so
that the checks after these do not start from a broken deployment.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hosts import LOCK, RECAP, ROOT, on, playbook
from rolling_load import Load
from sentinels import COOKIE, FILE

NEW_IMAGE = "streamlit-ops-demo:1.1"
NEW_ARCHIVE = ROOT / ".cache/images/streamlit-ops-demo-1.1.tar"
CONF = "/etc/nginx/conf.d/streamlit_ops_deploy.conf"
# Seconds of load before a run starts and after it ends.
LOAD_MARGIN_S = 3


@dataclass
class Run:
    rc: int
    output: str
    changed: dict = field(default_factory=dict)
    pid: int = 0
    load: Load | None = None


@dataclass
class Runs:
    apps: list
    killed: dict = field(default_factory=dict)
    second: Run | None = None
    third: Run | None = None
    new_image: Run | None = None
    new_image_images: list = field(default_factory=list)
    key_removed: bool = False
    control: Run | None = None
    holder: dict | None = None
    refused: Run | None = None
    back: Run | None = None
    back_images: list = field(default_factory=list)
    final: Run | None = None
    planted_secrets_file: str = ""


def with_main(apps, **fields):
    changed = copy.deepcopy(apps)
    next(a for a in changed if a["name"] == "main").update(fields)
    return changed


def main_env(apps, **extra):
    return dict(next(a for a in apps if a["name"] == "main").get("env") or {}, **extra)


def main_image(child):
    return on(child, "docker", "inspect", "-f", "{{.Config.Image}}", "streamlit-main").stdout.strip()


def drained(master):
    return " down;" in on(master, "cat", CONF).stdout


def holder(master):
    out = on(master, "cat", LOCK, check=False)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def wait_for_holder(master, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        seen = holder(master)
        if seen:
            return seen
        time.sleep(0.5)
    return None


class Background:
    """site.yml started from the checkout, its output spooled to a file (a
    -vvv run fills any pipe), killed with its process group if left running."""

    def __init__(self, inventory, *args):
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "site.yml", "-i", inventory, *args]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        self.out = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.pid = self.proc.pid

    def poll(self):
        return self.proc.poll()

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)

    def result(self, timeout=900) -> Run:
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        self.out.seek(0)
        output = self.out.read()
        self.out.close()
        return Run(rc, output, {host: int(count) for host, count in RECAP.findall(output)}, self.pid)


def run(inventory, *args) -> Run:
    rc, output, changed = playbook("site.yml", inventory, *args)
    return Run(rc, output, changed)


def interrupted(runs: Runs, inventory, master):
    """A run killed with a child drained, the next run and a third."""
    extra = json.dumps({"streamlit_ops_apps": with_main(runs.apps, env=main_env(runs.apps, DEMO_INTERRUPTED="1"))})
    killed = Background(inventory, "-e", extra)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and killed.poll() is None and not drained(master):
            time.sleep(0.3)
        runs.killed["ended_early"] = killed.poll() is not None
        runs.killed["drained_before_kill"] = drained(master)
    finally:
        killed.kill()
        killed.result(timeout=60)
    runs.killed["drained_after_kill"] = drained(master)
    runs.second = run(inventory, "-e", extra)
    runs.killed["drained_after_second"] = drained(master)
    runs.third = run(inventory, "-e", extra)


def under_load(app_url, cafile, inventory, *args) -> Run:
    with Load(app_url, cafile) as load:
        time.sleep(LOAD_MARGIN_S)
        result = run(inventory, *args)
        time.sleep(LOAD_MARGIN_S)
    result.load = load
    return result


def control_lock_and_back(runs: Runs, app_url, cafile, inventory, master, artifacts):
    """The control under load holds the lock while `refused` fails and `back`
    waits; `back` then rolls out under a load of its own."""
    # The master copies the key again only when its copy differs: take it away.
    conf = on(master, "nginx", "-T").stdout
    key_dest = re.search(r"^\s*ssl_certificate_key\s+(\S+);", conf, re.M).group(1)
    on(master, "rm", "-f", key_dest)
    runs.key_removed = True
    secrets_file = Path(tempfile.mkdtemp(prefix="sentinels-")) / "secrets.toml"
    secrets_file.write_text(f'token = "{FILE}"\n')
    runs.planted_secrets_file = str(secrets_file)
    planted = with_main(runs.apps, image=NEW_IMAGE, image_archive=str(NEW_ARCHIVE), cookie_secret=COOKIE,
                        secrets_file=str(secrets_file), env=main_env(runs.apps, DEMO_ROLLING_CONTROL=str(time.time())))
    back = None
    with Load(app_url, cafile) as control_load:
        time.sleep(LOAD_MARGIN_S)
        control = Background(inventory, "-vvv", "--diff", "-e", json.dumps({"streamlit_ops_apps": planted}),
                             "-e", "streamlit_ops_rolling_batch=2", "-e", "streamlit_ops_drain_timeout=0")
        try:
            runs.holder = wait_for_holder(master, control)
            if runs.holder:
                # Both race for the lock the control holds: one gives up after
                # 2 s, the other (the scenario's own run) waits, longer than
                # the default 300 s: the -vvv control ran past 5 min on a
                # loaded CI machine.
                back = Background(inventory, "-e", "streamlit_ops_lock_wait=1800")
                runs.refused = run(inventory, "-e", "streamlit_ops_lock_wait=2")
            runs.control = control.result(timeout=1800)
        finally:
            control.kill()
            if back is not None and runs.control is None:
                back.kill()
    runs.control.load = control_load
    if back is None:
        return
    with Load(app_url, cafile) as back_load:
        runs.back = back.result()
        time.sleep(LOAD_MARGIN_S)
    runs.back.load = back_load


def site_runs(apps, app_url, cafile, inventory, master, children, artifacts) -> Runs:
    runs = Runs(apps=apps)
    try:
        interrupted(runs, inventory, master)
        assert NEW_ARCHIVE.exists(), f"{NEW_ARCHIVE} missing: tests/images/build-app-image makes it"
        runs.new_image = under_load(app_url, cafile, inventory, "-e",
                                    json.dumps({"streamlit_ops_apps": with_main(apps, image=NEW_IMAGE,
                                                                                image_archive=str(NEW_ARCHIVE))}))
        runs.new_image_images = [main_image(c) for c in children]
        control_lock_and_back(runs, app_url, cafile, inventory, master, artifacts)
        runs.back_images = [main_image(c) for c in children]
        runs.final = run(inventory, "-e", "streamlit_ops_lock_wait=2")
    finally:
        if runs.final is None or runs.final.rc != 0 or sum(runs.final.changed.values()) != 0:
            rc, output, dummy = playbook("site.yml", inventory)
            assert rc == 0, f"the scenario does not converge after the shared runs: {output[-3000:]}"
    for name, result in (("rolling-1.1", runs.new_image), ("rolling-control", runs.control),
                         ("rolling-1.0", runs.back), ("sentinels-success", runs.control)):
        if result is not None:
            (Path(artifacts) / f"{name}.log").write_text(result.output)
    return runs
