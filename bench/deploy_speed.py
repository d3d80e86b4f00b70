"""Deployment speed: wall time of ``ansible-playbook site.yml`` on the bench hosts.

1. Cold: the first converge of the master and 2 children, image archive
   moved and loaded, Docker and Nginx installed (fresh hosts from bench/run).
2. No-op: the same run again, RUNS times; the median must be <= 15 s with
   0 changed. Its floor is ``ansible -m ping`` of the same hosts: what Ansible
   costs to reach them at all.
3. Warm: the image is on every child (an untimed converge of all of them
   first); for 1, 2 and 4 children, an untimed converge of that shape, then
   the timed one with one env value of the app changed, so each child
   recreates its container and waits for its health check. The goal is
   4 children <= 1.3x the time of 1.

Every run uses an inventory like a user's (.cache/bench/*.yml), the
checkout's ansible.cfg with a fact cache of the bench's own, and the
profile_tasks callback, whose top tasks go into the details. The fleet's
``children`` become the children the app runs on at the end (the
widest warm shape; its env holds the last warm run's value).
"""

from __future__ import annotations

import shutil
import time

try:
    from . import fleet as fl
except ImportError:
    import fleet as fl

NOOP_GOAL_S = 15.0
WARM_GOAL = 1.3
FULL = {"noop_runs": 3, "warm_sizes": [1, 2, 4], "cold_children": 2}
SMOKE = {"noop_runs": 1, "warm_sizes": [1, 2], "cold_children": 2}
PROFILE = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"}


def _playbook(fleet: dict, inventory, name: str, timeout: float = 900) -> dict:
    return fl.run_ansible(fleet, ["ansible-playbook", "site.yml", "-i", str(inventory)], name,
                          timeout=timeout, extra_env=PROFILE)


def _ping(fleet: dict, inventory, name: str) -> dict:
    return fl.run_ansible(fleet, ["ansible", "all", "-i", str(inventory), "-m", "ansible.builtin.ping"], name,
                          timeout=300)


def _app_running(child: dict, container: str) -> bool:
    out = fl.docker("exec", child["name"], "sh", "-c",
                    f"command -v docker >/dev/null && docker ps -aq --filter name=^{container}$ || true",
                    check=False)
    return bool(out.strip())


def run(fleet: dict, smoke: bool = False) -> dict:
    cfg = SMOKE if smoke else FULL
    hosts = fleet.get("all_children") or fleet["children"]
    sizes = [n for n in cfg["warm_sizes"] if n <= len(hosts)]
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

    # 2. No-op reruns, and the floor: reaching the same hosts at all.
    noops = [_playbook(fleet, inv, f"deploy-noop-{i}") for i in range(cfg["noop_runs"])]
    pings = [_ping(fleet, inv, f"deploy-ping-{i}") for i in range(cfg["noop_runs"])]
    details["runs"]["noop"] = noops
    details["runs"]["ping"] = pings
    for result in noops:
        fl.check_ran(result, "no-op rerun")
    noop_s = fl.median([r["seconds"] for r in noops])
    ping_s = fl.median([r["seconds"] for r in pings if r["rc"] == 0])
    changed = max(r["changed"] for r in noops)
    rows.append(fl.row(f"no-op rerun, median of {len(noops)}", noop_s, "s",
                       "ansible -m ping, same hosts", ping_s, f"<= {NOOP_GOAL_S:g} s",
                       noop_s <= NOOP_GOAL_S))
    rows.append(fl.row("no-op rerun, tasks changed", changed, "tasks", goal="0", met=changed == 0))
    details["noop_top_tasks"] = noops[-1]["profile"]

    # 3. Warm: the image on every child first, untimed (the cold run did it
    # already when no other child takes part).
    wide = hosts[: max(sizes)]
    if any(c not in cold_children for c in wide):
        prep = _playbook(fleet, fl.write_inventory(fleet, wide, f"deploy-{len(wide)}", base_env),
                         "deploy-warm-prep", timeout=1800)
        details["runs"]["warm_prep"] = prep
        fl.check_ran(prep, "converge of every child (untimed)")
    warm = {}
    for size in sizes:
        children = hosts[:size]
        # Untimed: the master's upstream gets this shape, the children the base env.
        shape = _playbook(fleet, fl.write_inventory(fleet, children, f"deploy-{size}", base_env),
                          f"deploy-warm-{size}-shape")
        fl.check_ran(shape, f"converge of {size} children (untimed)")
        env = dict(base_env, BENCH_WARM_RUN=f"{size}-{int(time.time())}")
        timed = _playbook(fleet, fl.write_inventory(fleet, children, f"deploy-{size}-changed", env),
                          f"deploy-warm-{size}")
        fl.check_ran(timed, f"warm converge of {size} children")
        warm[size] = timed
    details["runs"]["warm"] = {str(k): v for k, v in warm.items()}
    base = warm[sizes[0]]["seconds"]
    for size in sizes:
        result = warm[size]
        last = size == sizes[-1]
        rows.append(fl.row(f"warm converge, 1 env value changed, {size} child{'ren' if size > 1 else ''}",
                           result["seconds"], "s", f"warm, {sizes[0]} child", base,
                           f"<= {WARM_GOAL:g}x" if last and size > sizes[0] else None,
                           (result["seconds"] / base <= WARM_GOAL) if last and size > sizes[0] else None))
    details["warm_changed"] = {str(k): v["recap"] for k, v in warm.items()}
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
