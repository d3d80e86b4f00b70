"""Deployment speed: wall time of the site playbook on the bench hosts.

1. Cold: the first converge of the master and 2 children, image archive
   moved and loaded, Docker and Nginx installed (fresh hosts from bench/run).
2. No-op: the same run again, two ways, interleaved, RUNS times each; each
   median must be <= 15 s with 0 changed:
   - user: as from a user's own repository. The collection is built from
     the checkout and installed into .cache/bench/user/collections (untimed),
     and ``ansible-playbook streamlit_ops.deploy.site`` runs in
     .cache/bench/user, which has no ansible.cfg, with none of our ANSIBLE_*
     settings: only ANSIBLE_COLLECTIONS_PATH, which finds our collection (the
     ansible package's collections are found in the venv as ever). So Ansible's
     defaults apply, but for what the playbooks set themselves: no fact
     cache, 5 forks, interpreter discovery.
   - checkout: ``ansible-playbook site.yml`` from the checkout with its
     ansible.cfg (fact cache of the bench's own, pipelining, 20 forks).
   The floor of each is ``ansible -m ping`` of the same hosts the same way:
   what Ansible costs to reach them at all. Both ways enable the
   profile_tasks callback by environment, a reporting aid that prints a
   line per task; its timings and the number of tasks each run started go
   into the details.
3. Scale: the image is on every child (an untimed converge of all of them
   first); then the warm converges of 1, 2, 4 and 8 children in rounds
   (warm_rounds): each round, for every shape, smallest first, an untimed
   converge that changes the shape, then a timed warm one that changes one
   env value of the app again, so each child recreates its container and
   waits for its health check, then that shape's app starts (below). After
   them, the no-op reruns (checkout way) in rounds (noop_rounds): each round
   a no-op rerun of every shape, smallest first, each after an untimed
   converge that changes the shape (the masters' upstreams alone). The
   median of each shape is its figure, and each round's own no-op ratio is
   reported too. So every shape's runs sample the machine over the same
   minutes, where shapes measured one after the other gave the warm
   converge of 4 children from 1.02x to 1.49x in four runs. These runs set
   streamlit_ops_rolling_batch to the number of children (all at once, no
   rolling). The goal: the widest shape's warm converge and no-op rerun each
   <= 1.3x the time of 1 child. Sizes above the children the scenario has
   are left out and the table says so. What the machine allows
   is measured beside it: each no-op rerun's floor is the same shape of run
   with nothing of ours in it, a playbook with as many tasks per host as the
   rerun ran (ok ones a ping, skipped ones skipped), on the same hosts the
   same way; the warm converge's is the app starts it cannot avoid, each
   shape's app containers restarted at once with nothing of ours in the way,
   each waited for until its health path answers ok as the role polls it,
   two ways: by docker exec from the controller, and by one Ansible task per
   child (the least an Ansible deployment runs). A warm converge of N
   children takes at least the 1-child run plus what N app starts add to
   one: that sum is the bound of each way, and the Ansible one says up to
   which shape 1.3x is within reach; and
   every run records the CPU it used (fleet.cpu_used): busy
   share of the cores, and the CPU seconds of the controller, of the hosts
   (inside the containers) and of the rest.
4. Rollout: on 2 children, the same env change with the default rolling
   update (one child at a time, drained and re-admitted); the run's
   "Rollout of CHILD: N s from drain to re-admit" lines give the rollout time
   per child, beside the all-at-once warm run of 2 children.

Every run uses an inventory like a user's (.cache/bench/*.yml). The cold
and warm runs are checkout runs. The fleet's
``children`` become the children the app runs on at the end (the
widest warm shape; its env holds the value of the last run that changed it).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

try:
    from . import fleet as fl
except ImportError:
    import fleet as fl

NOOP_GOAL_S = 15.0
WARM_GOAL = 1.3
ROLLOUT = re.compile(r"Rollout of (?P<hosts>[^:]+): (?P<seconds>[\d.]+) s from drain to re-admit")
# noop_runs: each way at the cold run's 2 children; warm_rounds: the rounds
# of every shape's warm converge and its app starts (each way);
# noop_rounds: the rounds of every shape's no-op rerun and its floor. The
# median of each shape's runs is its figure.
FULL = {"noop_runs": 3, "warm_sizes": [1, 2, 4, 8], "cold_children": 2, "warm_rounds": 3, "noop_rounds": 5}
# The smoke times one warm shape, the cold run's own: it needs no shaping run.
SMOKE = {"noop_runs": 1, "warm_sizes": [2], "cold_children": 2, "warm_rounds": 1, "noop_rounds": 1}
# A reporting aid in both ways: a line per task, and all of them in the recap.
PROFILE = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks", "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all"}
MODES = {"user": "installed collection, no ansible.cfg", "checkout": "checkout with its ansible.cfg"}
TOP = 15


def install_collection(fleet: dict) -> dict:
    """Build the collection from the checkout and install it where a user's
    own repository would find it; returns how a user's run is set up."""
    home = fl.workdir(fleet) / "user"
    collections = home / "collections"
    shutil.rmtree(collections, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    if (home / "ansible.cfg").exists():
        raise RuntimeError(f"{home}/ansible.cfg exists; the user's run must have none")
    # A user's environment: the venv on PATH, none of our ANSIBLE_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), PATH=f"{fl.BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-collection-") as build:
        _run(["ansible-galaxy", "collection", "build", str(fl.ROOT), "--output-path", build], env, build)
        tarball = next(Path(build).glob("streamlit_ops-deploy-*.tar.gz"))
        _run(["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "-p", str(collections),
              str(tarball)], env, home)
    seconds = round(time.monotonic() - started, 2)
    version = _run(["ansible", "--version"], env, home)
    config = next((line.split("=", 1)[1].strip() for line in version.splitlines() if "config file =" in line), "?")
    if config != "None":
        raise RuntimeError(f"the user's run would read {config}; it must read no ansible.cfg")
    return {"dir": str(home), "env": env, "tarball": tarball.name, "build_install_seconds": seconds,
            "config_file": config, "env_ansible": {k: v for k, v in env.items() if k.startswith("ANSIBLE_")}}


def _run(args: list[str], env: dict, cwd) -> str:
    proc = subprocess.run([str(fl.BIN / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed: {(proc.stdout + proc.stderr).strip()[-1500:]}")
    return proc.stdout


def _where(user: dict | None) -> dict:
    """run_ansible's env and cwd for a user's run; the checkout's by default."""
    return {"env": user["env"], "cwd": Path(user["dir"])} if user else {}


def _playbook(fleet: dict, inventory, name: str, timeout: float = 900, user: dict | None = None) -> dict:
    """The site playbook from the checkout, or as a user runs it when user is given."""
    playbook = "streamlit_ops.deploy.site" if user else "site.yml"
    return fl.run_ansible(fleet, ["ansible-playbook", playbook, "-i", str(inventory)], name, timeout=timeout,
                          extra_env=PROFILE, **_where(user))


def _ping(fleet: dict, inventory, name: str, user: dict | None = None) -> dict:
    return fl.run_ansible(fleet, ["ansible", "all", "-i", str(inventory), "-m", "ansible.builtin.ping"], name,
                          timeout=300, **_where(user))


def _floor(fleet: dict, inventory, result: dict, name: str) -> dict:
    """The same shape of run as result with nothing of ours in it: per host,
    as many pings as it had ok tasks and as many skipped tasks as it skipped,
    the master's play first, then the children's."""

    def tasks(host: str) -> list[dict]:
        counts = result["recap"][host]
        return ([{"name": f"ok {i}", "ansible.builtin.ping": None} for i in range(counts["ok"])]
                + [{"name": f"skipped {i}", "ansible.builtin.ping": None, "when": False} for i in range(counts["skipped"])])

    child = next(h for h in result["recap"] if h not in (fleet["master"]["name"], "localhost"))
    plays = [{"name": "As many tasks as the master ran", "hosts": "streamlit_master", "gather_facts": False,
              "tasks": tasks(fleet["master"]["name"])},
             {"name": "As many tasks as each child ran", "hosts": "streamlit_children", "gather_facts": False,
              "tasks": tasks(child)}]
    return _plays(fleet, inventory, name, plays, f"the floor {name}")


def _plays(fleet: dict, inventory, name: str, plays: list[dict], what: str) -> dict:
    """Write plays to the bench's workdir as NAME.yml and run them on inventory."""
    import yaml

    playbook = fl.workdir(fleet) / f"{name}.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    result = fl.run_ansible(fleet, ["ansible-playbook", str(playbook), "-i", str(inventory)], name, timeout=600)
    fl.check_ran(result, what)
    return result


# The role's own health probe, run in the container as health.yml runs it,
# twice a second as the role polls.
ROLE_VARS = fl.ROOT / "roles" / "streamlit_app" / "vars" / "main.yml"
HEALTH_POLL_S, HEALTH_WAIT_S = 0.5, 120
RESTART = """docker restart "$C" >/dev/null || exit 1
i=0
while [ "$i" -lt {tries} ]; do
  docker exec "$C" /bin/sh -c "$RUN" health "$PROBE" "$URL" >/dev/null 2>&1 && exit 0
  i=$((i + 1)); sleep {poll}
done
echo "$C: no ok from its health path within {wait} s" >&2; exit 1
"""


def _restart_script(fleet: dict) -> str:
    import yaml

    role = yaml.safe_load(ROLE_VARS.read_text(encoding="utf-8"))
    app = fleet["app"]
    url = f"http://127.0.0.1:{role['__streamlit_app_container_port']}{app['path']}_stcore/health"
    given = {"C": app["container"], "RUN": role["__streamlit_app_python"] + ' -c "$1" "$2"',
             "PROBE": role["__streamlit_app_health_script"], "URL": url}
    return ("".join(f"{name}={shlex.quote(value)}\n" for name, value in given.items())
            + RESTART.format(tries=int(HEALTH_WAIT_S / HEALTH_POLL_S), poll=HEALTH_POLL_S, wait=HEALTH_WAIT_S))


def _app_starts(fleet: dict, children: list[dict]) -> dict:
    """Every child's app container restarted at once, each waited for until its
    health path answers ok, by docker exec from here: wall time until the last
    one does, and the CPU used. A restart costs less than the converge's
    recreation, so this errs low."""
    script = _restart_script(fleet)
    started, before = time.monotonic(), fl.cpu_sample()
    with ThreadPoolExecutor(len(children)) as pool:
        list(pool.map(lambda child: fl.sh(child["name"], script, timeout=HEALTH_WAIT_S + 60), children))
    return {"seconds": round(time.monotonic() - started, 2), "cpu": fl.cpu_used(before, fl.cpu_sample())}


def _app_starts_by_ansible(fleet: dict, inventory, name: str) -> dict:
    """The same restarts as the least an Ansible deploy runs: one task per child, every child at once."""
    play = {"name": "Restart the app on every child and wait until it answers ok", "hosts": "streamlit_children",
            "gather_facts": False, "tasks": [{"name": "Restart the app", "ansible.builtin.shell": _restart_script(fleet)}]}
    return _plays(fleet, inventory, name, [play], f"the app starts {name}")


def _cpu_text(cpu: dict) -> str:
    return (f"{cpu['busy_share']:.0%} of {cpu['cores']} cores busy; CPU s: controller {cpu['controller_s']}, "
            f"hosts {cpu['hosts_s']}, other {cpu['other_s']}")


def _by_role(profile: list[dict]) -> dict:
    """Seconds per role ("role : task" names) and for the playbook's own tasks."""
    totals: dict = {}
    for entry in profile:
        role = entry["task"].split(" : ", 1)[0] if " : " in entry["task"] else "(playbook)"
        totals[role] = round(totals.get(role, 0.0) + entry["seconds"], 2)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def _app_running(child: dict, container: str) -> bool:
    out = fl.docker("exec", child["name"], "sh", "-c",
                    f"command -v docker >/dev/null && docker ps -aq --filter name=^{container}$ || true",
                    check=False)
    return bool(out.strip())


def _healthy(fleet: dict, children: list[dict], wait_s: float = 60) -> float:
    """Wait until Docker calls every child's app container healthy: a rerun
    sooner than its first healthcheck (interval 10 s) sees "starting" and
    takes the long way, which is not the no-op rerun measured here. Returns
    the seconds waited."""
    container, started = fleet["app"]["container"], time.monotonic()
    status = "'{{.State.Health.Status}}'"
    while True:
        states = {c["name"]: fl.sh(c["name"], f"docker inspect -f {status} {shlex.quote(container)}", check=False).strip()
                  for c in children}
        if all(state == "healthy" for state in states.values()):
            return round(time.monotonic() - started, 1)
        if time.monotonic() - started > wait_s:
            raise RuntimeError(f"the app containers were not healthy within {wait_s:g} s: {states}")
        time.sleep(1)


def _noop_rounds(fleet: dict, hosts: list[dict], sizes: list[int], env: dict, count: int) -> dict:
    """count rounds, each a no-op rerun of every shape (smallest first) and
    its floor: a slower spell of the machine then hits every shape alike,
    where shapes measured one after the other would each get the machine as
    it was then (two runs of the same code once gave 1.28x and 1.01x that
    way). Before each rerun an untimed converge changes the shape (the
    widest, where the warm runs leave it, is last), so every rerun comes
    after the same kind of run. That converge must change nothing on any
    child, or the rerun after it would not be the no-op of the shape. Returns
    each shape's runs, and the converges that changed the shape."""
    rounds: dict = {size: [] for size in sizes}
    names = {c["name"] for c in hosts}
    current, reshapes = sizes[-1], []
    for r in range(count):
        for size in sizes:
            inv = fl.write_inventory(fleet, hosts[:size], f"deploy-{size}-noop", env,
                                     {"streamlit_ops_rolling_batch": size})
            if size != current:
                reshape = _playbook(fleet, inv, f"deploy-noop-shape-{size}-{r}")
                fl.check_ran(reshape, f"change to the shape of {size} children (untimed)")
                touched = {h: n["changed"] for h, n in reshape["recap"].items() if h in names and n["changed"]}
                if touched:
                    raise RuntimeError(f"changing to the shape of {size} children changed children {touched}; "
                                       "the no-op rounds need a change of the masters alone")
                reshapes.append({k: reshape[k] for k in ("seconds", "changed", "log")})
                current = size
            noop = _playbook(fleet, inv, f"deploy-noop-{size}-{r}")
            fl.check_ran(noop, f"no-op rerun of {size} children")
            floor = _floor(fleet, inv, noop, f"deploy-floor-{size}-{r}")
            noop["profile"] = noop["profile"][:5]
            rounds[size].append({"noop": noop, "floor": floor})
    return {"rounds": rounds, "reshapes": reshapes}


def _warm_rounds(fleet: dict, hosts: list[dict], sizes: list[int], env: dict, count: int, current: int) -> dict:
    """count rounds, each a warm converge of every shape (smallest first),
    and that shape's app starts both ways right after it: as with the no-op
    rounds, every shape samples the machine over the same minutes. Before
    each warm run an untimed converge changes the shape, so the warm run
    changes one env value and nothing else: the master's upstreams stay, and
    every child of the shape recreates its container. That converge also
    brings the children that join the shape to the env of the run before it.
    current: the shape the hosts are in. Returns each shape's warm runs and
    app starts, the converges that changed the shape, and the env the last
    warm run left on the widest shape."""
    runs: dict = {size: [] for size in sizes}
    starts: dict = {size: {"docker": [], "ansible": []} for size in sizes}
    reshapes = []
    for r in range(count):
        for size in sizes:
            children, at_once = hosts[:size], {"streamlit_ops_rolling_batch": size}
            if size != current:
                shape = _playbook(fleet, fl.write_inventory(fleet, children, f"deploy-{size}", env, at_once),
                                  f"deploy-warm-{size}-shape-{r}")
                fl.check_ran(shape, f"change to the shape of {size} children (untimed)")
                reshapes.append({k: shape[k] for k in ("seconds", "changed", "log")})
                current = size
            # Each warm run changes the env value the run before it set.
            env = dict(env, BENCH_WARM_RUN=f"{size}-{r}-{int(time.time())}")
            inv = fl.write_inventory(fleet, children, f"deploy-{size}-changed", env, at_once)
            timed = _playbook(fleet, inv, f"deploy-warm-{size}-{r}")
            fl.check_ran(timed, f"warm converge of {size} children")
            runs[size].append(timed)
            _healthy(fleet, children)
            starts[size]["docker"].append(_app_starts(fleet, children))
            starts[size]["ansible"].append(_app_starts_by_ansible(fleet, inv, f"deploy-starts-{size}-{r}"))
    return {"runs": runs, "starts": starts, "reshapes": reshapes, "env": env}


def run(fleet: dict, smoke: bool = False) -> dict:
    cfg = SMOKE if smoke else FULL
    hosts = fleet.get("all_children") or fleet["children"]
    sizes = [n for n in cfg["warm_sizes"] if n <= len(hosts)]
    left_out = [n for n in cfg["warm_sizes"] if n > len(hosts)]
    cold_children = hosts[: cfg["cold_children"]]
    base_env = dict(fleet["app"].get("env") or {})
    details: dict = {"runs": {}}
    rows = []

    fresh = not any(_app_running(c, fleet["app"]["container"]) for c in hosts)
    if fresh:
        # A cold run gathers facts too: start from an empty fact cache.
        shutil.rmtree(fl.workdir(fleet) / "facts", ignore_errors=True)
    details["cold_hosts_were_fresh"] = fresh

    # 1. Cold.
    inv = fl.write_inventory(fleet, cold_children, f"deploy-{len(cold_children)}", base_env)
    cold = _playbook(fleet, inv, "deploy-cold", timeout=1800)
    details["runs"]["cold"] = cold
    fl.check_ran(cold, "cold converge")
    rows.append(fl.row(f"cold first converge, 1 master + {len(cold_children)} children"
                       + ("" if fresh else " (hosts were not fresh)"), cold["seconds"], "s",
                       goal="reported", met=None))

    # 2. No-op reruns both ways, interleaved so that load hits both alike, and
    # the floor of each: reaching the same hosts at all, the same way.
    details["healthy_after_cold_s"] = _healthy(fleet, cold_children)
    user = install_collection(fleet)
    details["user_setup"] = {k: v for k, v in user.items() if k != "env"}
    how = {"user": user, "checkout": None}
    noops: dict = {mode: [] for mode in MODES}
    pings: dict = {mode: [] for mode in MODES}
    for i in range(cfg["noop_runs"]):
        for mode in MODES:
            noops[mode].append(_playbook(fleet, inv, f"deploy-noop-{mode}-{i}", user=how[mode]))
    for i in range(cfg["noop_runs"]):
        for mode in MODES:
            pings[mode].append(_ping(fleet, inv, f"deploy-ping-{mode}-{i}", user=how[mode]))
    details["runs"]["noop"] = noops
    details["runs"]["ping"] = pings
    for mode, what in MODES.items():
        for result in noops[mode]:
            fl.check_ran(result, f"no-op rerun, {what}")
    summary = {}
    for mode, what in MODES.items():
        runs = noops[mode]
        noop_s = fl.median([r["seconds"] for r in runs])
        ping_s = fl.median([r["seconds"] for r in pings[mode] if r["rc"] == 0])
        rows.append(fl.row(f"no-op rerun, {what}, median of {len(runs)}", noop_s, "s",
                           "ansible -m ping, same hosts, same way", ping_s, f"<= {NOOP_GOAL_S:g} s",
                           noop_s <= NOOP_GOAL_S))
        # Where the time goes: the profile of the run nearest the median.
        middle = min(runs, key=lambda r: abs(r["seconds"] - noop_s))
        summary[mode] = {
            "runs": [{k: r[k] for k in ("seconds", "changed", "tasks", "host_results")} for r in runs],
            "profiled": {"log": middle["log"], "seconds": middle["seconds"], "tasks": middle["tasks"],
                         "host_results": middle["host_results"],
                         "task_seconds": round(sum(t["seconds"] for t in middle["profile"]), 2),
                         "by_role": _by_role(middle["profile"]), "top_tasks": middle["profile"][:TOP],
                         "profile": middle["profile"]},
        }
    for mode, what in MODES.items():
        changed = max(r["changed"] for r in noops[mode])
        rows.append(fl.row(f"no-op rerun, {what}: tasks changed", changed, "tasks", goal="0", met=changed == 0))
    for mode, what in MODES.items():
        profiled = summary[mode]["profiled"]
        rows.append(fl.row(f"no-op rerun, {what}: tasks run",
                           f"{profiled['tasks']} ({profiled['host_results']} host results)", "",
                           goal="reported", met=None))
    details["noop"] = summary
    for result in [*noops["user"], *noops["checkout"]]:
        result["profile"] = result["profile"][:8]

    # 3. Warm: the image on every child first, untimed (the cold run did it
    # already when no other child takes part).
    wide = hosts[: max(sizes)]
    shaped = cold_children
    if any(c not in cold_children for c in wide):
        prep = _playbook(fleet, fl.write_inventory(fleet, wide, f"deploy-{len(wide)}", base_env),
                         "deploy-warm-prep", timeout=1800)
        details["runs"]["warm_prep"] = prep
        fl.check_ran(prep, "converge of every child (untimed)")
        shaped = wide
    measured = _warm_rounds(fleet, hosts, sizes, base_env, cfg["warm_rounds"], len(shaped))
    warm, starts, warm_env = {}, measured["starts"], measured["env"]
    for size, timed_runs in measured["runs"].items():
        warm_s = fl.median([r["seconds"] for r in timed_runs])
        # The figures of the run nearest the median, with the median's seconds.
        warm[size] = dict(min(timed_runs, key=lambda r: abs(r["seconds"] - warm_s)), seconds=warm_s,
                          runs=[{k: r[k] for k in ("seconds", "cpu", "changed", "tasks", "log")} for r in timed_runs])
    details["runs"]["warm_reshapes"] = measured["reshapes"]
    # The no-op reruns and their floors, in rounds over every shape. The
    # widest warm run left every child with warm_env, so a change of shape
    # changes the masters' upstreams alone. A restarted container's health
    # says "starting" for a while, which would send a no-op rerun the long way.
    details["healthy_before_noop_rounds_s"] = _healthy(fleet, wide)
    measured = _noop_rounds(fleet, hosts, sizes, warm_env, cfg["noop_rounds"])
    scale_noop = {size: [r["noop"] for r in runs] for size, runs in measured["rounds"].items()}
    floors = {size: [r["floor"] for r in runs] for size, runs in measured["rounds"].items()}
    details["runs"]["noop_reshapes"] = measured["reshapes"]
    details["runs"]["warm"] = {str(k): v for k, v in warm.items()}
    base = warm[sizes[0]]["seconds"]
    for size in sizes:
        result = warm[size]
        last = size == sizes[-1]
        rows.append(fl.row(f"warm converge, 1 env value changed, {size} child{'ren' if size > 1 else ''}, "
                           f"median of {len(result['runs'])}",
                           result["seconds"], "s", f"warm, {sizes[0]} child", base,
                           f"<= {WARM_GOAL:g}x" if last and size > sizes[0] else None,
                           (result["seconds"] / base <= WARM_GOAL) if last and size > sizes[0] else None))
    # What the machine allows the warm converge: its app starts with nothing
    # of ours in them, by docker alone and by the least an Ansible deploy runs.
    ways = {"docker": "docker exec from the controller", "ansible": "one Ansible task per child"}
    start_s = {way: {size: fl.median([r["seconds"] for r in starts[size][way]]) for size in sizes} for way in ways}
    bound = {way: {size: round(base + start_s[way][size] - start_s[way][sizes[0]], 2) for size in sizes} for way in ways}
    for size in sizes:
        for way, how in ways.items():
            rows.append(fl.row(f"app starts of {size} child{'ren' if size > 1 else ''} at once, {how}: the app's container "
                               f"restarted until its health path answers ok, median of {len(starts[size][way])}",
                               start_s[way][size], "s", f"the same, {sizes[0]} child", start_s[way][sizes[0]],
                               goal="reported", met=None))
        middle = min(starts[size]["ansible"], key=lambda r: abs(r["seconds"] - start_s["ansible"][size]))
        rows.append(fl.row(f"CPU during the warm converge of {size} child{'ren' if size > 1 else ''}", _cpu_text(warm[size]["cpu"]),
                           "", "its app starts by Ansible", _cpu_text(middle["cpu"]), goal="reported", met=None))
    for size in sizes[1:]:
        for way, how in ways.items():
            rows.append(fl.row(f"bound of the warm converge of {size} children, {how}: the {sizes[0]}-child run plus what "
                               f"{size} app starts add to one", bound[way][size], "s", f"warm, {sizes[0]} child", base,
                               goal="reported", met=None))
    # An Ansible deploy cannot beat its own bound: the goal holds up to the widest shape that bound allows.
    within = [size for size in sizes[1:] if bound["ansible"][size] <= WARM_GOAL * base]
    if within:
        top = within[-1]
        rows.append(fl.row(f"warm converge of {top} children, the widest shape whose bound (one Ansible task per child) "
                           f"is within {WARM_GOAL:g}x", warm[top]["seconds"], "s", f"warm, {sizes[0]} child", base,
                           f"<= {WARM_GOAL:g}x", warm[top]["seconds"] / base <= WARM_GOAL))
    beyond = [size for size in sizes[1:] if size not in within]
    if beyond:
        rows.append(fl.row(f"warm converge within {WARM_GOAL:g}x of 1 child at {', '.join(map(str, beyond))} children",
                           "out of reach for an Ansible deploy here", "", "its bound (one Ansible task per child)",
                           ", ".join(f"{bound['ansible'][n] / base:.2f}x" for n in beyond), goal="reported", met=None))
    details["runs"]["app_starts"] = {str(k): v for k, v in starts.items()}
    details["warm_bound"] = {way: {str(k): v for k, v in b.items()} for way, b in bound.items()}
    details["warm_changed"] = {str(k): v["recap"] for k, v in warm.items()}
    details["runs"]["scale_noop"] = {str(k): v for k, v in scale_noop.items()}
    details["runs"]["floor"] = {str(k): v for k, v in floors.items()}
    noop_base = fl.median([r["seconds"] for r in scale_noop[sizes[0]]])
    floor_base = fl.median([r["seconds"] for r in floors[sizes[0]]])
    for size in sizes:
        runs = scale_noop[size]
        seconds = fl.median([r["seconds"] for r in runs])
        changed = max(r["changed"] for r in runs)
        last = size == sizes[-1] and size > sizes[0]
        rows.append(fl.row(f"no-op rerun, checkout, {size} child{'ren' if size > 1 else ''}, median of {len(runs)}"
                           + (f", {changed} changed" if changed else ""),
                           seconds, "s", f"no-op, {sizes[0]} child", noop_base,
                           f"<= {WARM_GOAL:g}x, 0 changed" if last else None,
                           (seconds / noop_base <= WARM_GOAL and changed == 0) if last else None))
    # What the machine allows: the same shape of run with nothing of ours in it.
    for size in sizes:
        floor_s = fl.median([r["seconds"] for r in floors[size]])
        ours = fl.median([r["seconds"] for r in scale_noop[size]])
        rows.append(fl.row(f"floor of the no-op rerun, {size} child{'ren' if size > 1 else ''}: as many tasks per host, "
                           f"each a ping or skipped, median of {len(floors[size])}", floor_s, "s",
                           f"floor, {sizes[0]} child", floor_base, goal="reported", met=None))
        # The CPU of the run nearest each median, ours and the floor's alike.
        middle = min(scale_noop[size], key=lambda r: abs(r["seconds"] - ours))
        floor_middle = min(floors[size], key=lambda r: abs(r["seconds"] - floor_s))
        rows.append(fl.row(f"CPU during the no-op rerun of {size} child{'ren' if size > 1 else ''}", _cpu_text(middle["cpu"]),
                           "", "its floor", _cpu_text(floor_middle["cpu"]), goal="reported", met=None))
    details["growth"] = {
        "noop": round(fl.median([r["seconds"] for r in scale_noop[sizes[-1]]]) / noop_base, 3),
        "floor": round(fl.median([r["seconds"] for r in floors[sizes[-1]]]) / floor_base, 3),
        "warm": round(warm[sizes[-1]]["seconds"] / base, 3),
        "warm_bound": round(bound["ansible"][sizes[-1]] / base, 3),
        # Each round's own: its widest no-op rerun over its 1-child one, minutes apart at most.
        "noop_rounds": [round(w["seconds"] / n["seconds"], 3) for n, w in zip(scale_noop[sizes[0]], scale_noop[sizes[-1]])],
    }
    if len(sizes) > 1:
        growth = details["growth"]
        rows.append(fl.row(f"growth from {sizes[0]} to {sizes[-1]} children: no-op {growth['noop']}x "
                           f"(each round: {', '.join(f'{g:.2f}x' for g in growth['noop_rounds'])}), its floor "
                           f"{growth['floor']}x, warm {growth['warm']}x, its machine's bound {growth['warm_bound']}x",
                           growth["noop"], "x",
                           "the floor's growth (what the machine allows this shape)", growth["floor"],
                           goal="reported", met=None))
    if left_out:
        rows.append(fl.row(f"warm converge and no-op rerun, {', '.join(map(str, left_out))} children", "not run", "",
                           goal=f"the scenario has {len(hosts)} children", met=None))

    # 4. Rollout: the default rolling update of 2 children, per child: after
    # an untimed converge to their shape (the no-op rounds end on the widest;
    # the masters alone change), again one env value changes.
    if 2 in warm:
        pair = hosts[:2]
        if wide != pair:
            shape = _playbook(fleet, fl.write_inventory(fleet, pair, "deploy-rolling-shape", warm_env), "deploy-rolling-shape")
            fl.check_ran(shape, "change to the shape of 2 children (untimed)")
        env = dict(warm_env, BENCH_ROLLING_RUN=str(int(time.time())))
        rolling = _playbook(fleet, fl.write_inventory(fleet, pair, "deploy-rolling-changed", env), "deploy-rolling")
        fl.check_ran(rolling, "rolling update of 2 children")
        per_child = [(m["hosts"].strip(), float(m["seconds"]))
                     for m in ROLLOUT.finditer(Path(rolling["log"]).read_text(encoding="utf-8"))]
        details["runs"]["rolling"] = rolling
        details["rollout_per_child"] = dict(per_child)
        for host, seconds in per_child:
            rows.append(fl.row(f"rollout of {host} (drain to re-admit), rolling batch 1", seconds, "s",
                               "warm converge of 2 children at once (whole run)", warm[2]["seconds"],
                               goal="reported", met=None))
        rows.append(fl.row("rolling update of 2 children, whole run", rolling["seconds"], "s",
                           "warm converge of 2 children at once", warm[2]["seconds"], goal="reported", met=None))
        # Back to the widest shape, for the measurements after this one
        # (they need the app on every child, whatever its env).
        if wide != pair:
            back = _playbook(fleet, fl.write_inventory(fleet, wide, f"deploy-{len(wide)}-changed", warm_env),
                             "deploy-rolling-back")
            fl.check_ran(back, "converge back to the widest shape (untimed)")
    details["warm_top_tasks"] = {str(k): v["profile"][:5] for k, v in warm.items()}

    # The last warm run left the app on the widest shape; the measurements after this one use it.
    fleet["children"] = wide
    details["children_after"] = [c["name"] for c in wide]
    if smoke:
        # Smoke counts judge nothing about speed; 0 changed is still a fact.
        for r in rows:
            if r["unit"] == "s":
                r["met"] = None
    return {"title": "Deployment speed (ansible-playbook site.yml)", "rows": rows, "details": details}


if __name__ == "__main__":
    fl.cli(run, __doc__.splitlines()[0])
