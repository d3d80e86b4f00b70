"""The bench hosts and the plumbing the measurements share.

The fleet is a plain dict, written to JSON by bench/run and read by every
measurement module (``--fleet FLEET.json``)::

    {"master": {"name": "bench-master", "ip": "10.215.0.10", "port": 80},
     "children": [{"name": "bench-child1", "ip": "10.215.0.11"}, ...],
     "app": {"name": "demo", "path": "/streamlitApp/", "port": 8501,
             "container": "streamlit-demo", "text": "Hello from Streamlit ops",
             "image": "streamlit-ops-demo:1.0", "image_archive": "/.../streamlit-ops-demo.tar",
             "env": {...}},
     "all_children": [... every child the scenario created ...],
     "subnet": "10.215.0.0/24",
     "workdir": "/.../.cache/bench"}

``children`` are the children the app currently runs on (site.yml converged
them); ``all_children`` are every child host that exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "bench"
BIN = Path(sys.executable).parent
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                   r"\s+skipped=(\d+)", re.M)
TASK_BANNER = re.compile(r"^TASK \[", re.M)
PROFILE_LINE = re.compile(r"^(.+?) -+ (\d+\.\d+)s$", re.M)
APP_TEXT = "Hello from Streamlit ops"

# The site playbook's inventory variables the bench sets, in this one place:
# the apps (1.0.0 interface) and the children's firewall allow list. No
# streamlit_app_bind_address, so the playbook finds each child's address
# itself, as for a user who sets none.
APPS_VAR = "streamlit_ops_apps"
# The bench measures the children directly from the controller too (the
# "direct" paths): the whole scenario network may reach the app ports, the
# controller being its gateway. The firewall's rules stay on the packet path.
FIREWALL_VAR = "streamlit_app_firewall_allow"


def from_scenario(workdir: Path) -> dict:
    """The fleet of molecule/bench: every platform, the app of its group_vars."""
    import yaml  # ansible's dependency, always in .venv

    text = (ROOT / "molecule" / SCENARIO / "molecule.yml").read_text(encoding="utf-8")
    text = text.replace("${MOLECULE_PROJECT_DIRECTORY}", str(ROOT))
    scenario = yaml.safe_load(text)
    platforms = scenario["platforms"]
    master = next(p for p in platforms if "streamlit_master" in p["groups"])
    children = [p for p in platforms if "streamlit_children" in p["groups"]]
    app = scenario["provisioner"]["inventory"]["group_vars"]["all"][APPS_VAR][0]
    return {
        "master": {"name": master["name"], "ip": master["ipv4_address"], "port": 80},
        "children": [{"name": c["name"], "ip": c["ipv4_address"]} for c in children],
        "all_children": [{"name": c["name"], "ip": c["ipv4_address"]} for c in children],
        "subnet": scenario["ansible"]["env"]["STREAMLIT_OPS_SUBNET"],
        "app": {
            "name": app["name"],
            "path": app["path"],
            "port": app["port"],
            "container": "streamlit-" + app["name"],
            "text": APP_TEXT,
            "image": app["image"],
            "image_archive": app["image_archive"],
            "env": dict(app.get("env") or {}),
        },
        "network": scenario["ansible"]["env"]["STREAMLIT_OPS_NETWORK"],
        "workdir": str(workdir),
    }


def load(path: str | os.PathLike) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save(fleet: dict, path: str | os.PathLike) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(fleet, indent=2) + "\n", encoding="utf-8")


def workdir(fleet: dict) -> Path:
    path = Path(fleet.get("workdir") or ROOT / ".cache" / "bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def app_entry(fleet: dict, env: dict | None = None) -> dict:
    """The bench app's entry in the site playbook's list of apps (APPS_VAR)."""
    app = fleet["app"]
    return {
        "name": app["name"],
        "path": app["path"],
        "image": app["image"],
        "image_archive": app["image_archive"],
        "port": app["port"],
        "env": dict(app.get("env") or {}) if env is None else env,
    }


def write_inventory(fleet: dict, children: list[dict], name: str, env: dict | None = None,
                    extra: dict | None = None) -> Path:
    """An inventory like a user's: master, children, the apps (APPS_VAR); no
    addresses, so site.yml finds each child's default address itself."""
    import yaml

    inventory = {
        "streamlit_master": {"hosts": {fleet["master"]["name"]: None}},
        "streamlit_children": {"hosts": {c["name"]: None for c in children}},
        "all": {"vars": {
            "ansible_connection": "community.docker.docker",
            APPS_VAR: [app_entry(fleet, env)],
            **(extra or {}),
        }},
    }
    # A fleet file without the network (one written by hand) turns the firewall off instead.
    inventory["all"]["vars"].update({FIREWALL_VAR: [fleet["subnet"]]} if fleet.get("subnet") else {"streamlit_app_firewall": False})
    path = workdir(fleet) / f"{name}.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    return path


def ansible_env(fleet: dict) -> dict:
    """The checkout's ansible.cfg, with a fact cache of the bench's own."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0",
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(workdir(fleet) / "facts"),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("ANSIBLE_CONFIG", None)
    return env


# Where the Docker engine (cgroupfs driver) accounts the CPU of every
# container: the bench hosts, and the app containers their engines start.
CONTAINER_CPU = (Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"), Path("/sys/fs/cgroup/docker/cpu.stat"))


def cpu_sample() -> dict:
    """This machine's CPU counters: every core (/proc/stat), every container
    (the engine's cgroup), and this process's waited-for descendants."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal; guest time is in user already.
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    containers = None
    for path in CONTAINER_CPU:
        if path.exists():
            text = path.read_text()
            containers = (int(text) / 1e9 if path.name == "cpuacct.usage"
                          else int(re.search(r"^usage_usec (\d+)", text, re.M).group(1)) / 1e6)
            break
    own = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"busy": (total - idle) / tick, "total": total / tick, "containers": containers,
            "controller": own.ru_utime + own.ru_stime}


def cpu_used(before: dict, after: dict) -> dict:
    """CPU seconds between two samples: busy on all cores, and its share
    (busy / all cores' time); controller: ansible and what it ran here
    (docker CLI included); hosts: inside the containers (the modules, the
    hosts' engines, the apps); other: the rest (dockerd, containerd, runc
    exec, and whatever else ran)."""
    busy = after["busy"] - before["busy"]
    controller = after["controller"] - before["controller"]
    hosts = (after["containers"] - before["containers"]) if before["containers"] is not None else None
    return {"cores": os.cpu_count(), "busy_s": round(busy, 1),
            "busy_share": round(busy / max(after["total"] - before["total"], 1e-9), 3),
            "controller_s": round(controller, 1), "hosts_s": None if hosts is None else round(hosts, 1),
            "other_s": None if hosts is None else round(busy - controller - hosts, 1)}


def run_ansible(fleet: dict, args: list[str], log_name: str, timeout: float = 900,
                extra_env: dict | None = None, env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Run ansible-playbook or ansible (from the checkout unless env and cwd say
    otherwise); wall time, recap, tasks run, and the profile_tasks timings when
    that callback is on."""
    env = dict(ansible_env(fleet) if env is None else env, **(extra_env or {}))
    started, cpu_before = time.monotonic(), cpu_sample()
    try:
        proc = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = -1
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        out += f"\n[bench] timed out after {timeout} s\n"
    seconds, cpu = time.monotonic() - started, cpu_used(cpu_before, cpu_sample())
    log = workdir(fleet) / "logs" / f"{log_name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(out, encoding="utf-8")
    recap = {host: {"ok": int(ok), "changed": int(ch), "unreachable": int(un), "failed": int(fa),
                    "skipped": int(sk)}
             for host, ok, ch, un, fa, sk in RECAP.findall(out)}
    profile = []
    if "TASKS RECAP" in out:
        tail = out.split("TASKS RECAP", 1)[1]
        profile = [{"task": t.strip(), "seconds": float(s)} for t, s in PROFILE_LINE.findall(tail)]
    return {"rc": rc, "seconds": round(seconds, 2), "cpu": cpu, "recap": recap, "profile": profile, "log": str(log),
            "changed": sum(h["changed"] for h in recap.values()),
            # Tasks the run started (a task counts once however many hosts run
            # or skip it), and results over all hosts (ok, changed or skipped).
            "tasks": len(TASK_BANNER.findall(out)),
            "host_results": sum(h["ok"] + h["skipped"] for h in recap.values())}


def app_backends(fleet: dict) -> dict:
    """The bench app as nginx_proxy_apps takes it: every child the app runs on."""
    app = fleet["app"]
    return {"name": app["name"], "path": app["path"],
            "backends": [f"{c['ip']}:{app['port']}" for c in fleet["children"]]}


def configure_master(fleet: dict, apps: list[dict], log_name: str, extra: dict | None = None) -> dict:
    """Run the real nginx_proxy role on the master alone (bench/playbooks/master.yml)
    with these nginx_proxy_apps and any other nginx_proxy_* variables in extra."""
    inventory = write_inventory(fleet, [], f"master-{log_name}")
    playbook = ROOT / "bench" / "playbooks" / "master.yml"
    variables = json.dumps(dict(extra or {}, bench_proxy_apps=apps))
    result = run_ansible(fleet, ["ansible-playbook", str(playbook), "-i", str(inventory), "-e", variables],
                         f"master-{log_name}", timeout=600)
    check_ran(result, f"the nginx_proxy role on the master ({log_name})")
    return result


def check_ran(result: dict, what: str) -> None:
    if result["rc"] != 0:
        raise RuntimeError(f"{what} failed (rc {result['rc']}); see {result['log']}")


def docker(*args: str, timeout: float = 60, check: bool = True, input: str | None = None) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False, input=input)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}... failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def sh(host: str, script: str, timeout: float = 60, check: bool = True, input: str | None = None) -> str:
    """Run a shell script on a bench host."""
    interactive = ["-i"] if input is not None else []
    return docker("exec", *interactive, host, "sh", "-c", script, timeout=timeout, check=check, input=input)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def row(metric: str, value, unit: str, floor_name: str | None = None, floor=None, goal: str | None = None,
        met: bool | None = None, ratio=None) -> dict:
    """One line of the report. ratio defaults to value / floor."""
    if ratio is None and isinstance(value, (int, float)) and isinstance(floor, (int, float)) and floor:
        ratio = round(value / floor, 3)
    return {"metric": metric, "value": value, "unit": unit, "floor_name": floor_name, "floor": floor,
            "ratio": ratio, "goal": goal, "met": met}


def cli(run, description: str) -> None:
    """The standalone entry of a measurement module: print run()'s dict as JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--fleet", required=True, help="fleet JSON file (bench/run writes one)")
    parser.add_argument("--smoke", action="store_true", help="tiny counts; judges nothing about speed")
    args = parser.parse_args()
    print(json.dumps(run(load(args.fleet), smoke=args.smoke), indent=2))
