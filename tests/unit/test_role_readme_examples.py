"""molecule/standalone/converge.yml is each role's README example, play for
play: the same keys, hosts, role and variable names, only documented inputs,
and this scenario's addresses as the values. So the README and the scenario
that proves it cannot drift apart. Static: it needs no test host."""

import copy
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "molecule" / "standalone"
ROLES = {"streamlit_ops.deploy.streamlit_app": "streamlit_app", "streamlit_ops.deploy.nginx_proxy": "nginx_proxy"}
# Documented item fields the scenario adds to the README's: it has no registry.
OFFLINE_FIELDS = {"streamlit_app_containers": {"image_archive"}}
FIRST_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)


def readme_play(role: str) -> dict:
    """The first yaml block of the role's README, which holds its one play."""
    match = FIRST_YAML_BLOCK.search((ROOT / "roles" / role / "README.md").read_text())
    assert match, f"roles/{role}/README.md has no ```yaml block"
    plays = yaml.safe_load(match.group(1))
    assert isinstance(plays, list) and len(plays) == 1, f"roles/{role}/README.md: the first yaml block is not one play"
    return plays[0]


def converge_plays() -> list[dict]:
    return yaml.safe_load((SCENARIO / "converge.yml").read_text())


def converge_play(fqcn: str) -> dict:
    plays = [play for play in converge_plays() if [r.get("role") for r in play.get("roles", [])] == [fqcn]]
    assert len(plays) == 1, f"converge.yml has {len(plays)} plays of {fqcn} alone"
    return plays[0]


def role_vars(play: dict) -> dict:
    return play["roles"][0].get("vars") or {}


def shape(play: dict) -> dict:
    """What must match: everything but the values of the variables."""
    return {
        "play keys": sorted(play),
        "hosts": play.get("hosts"),
        "gather_facts": play.get("gather_facts"),
        "roles": [{k: v for k, v in entry.items() if k != "vars"} for entry in play.get("roles", [])],
        "variables": sorted(role_vars(play)),
        "item fields": {name: sorted({key for item in value for key in item})
                        for name, value in role_vars(play).items()
                        if isinstance(value, list) and value and all(isinstance(i, dict) for i in value)},
    }


def drift(readme: dict, converge: dict, extra_fields: dict[str, set[str]]) -> list[str]:
    want, have = shape(readme), shape(converge)
    problems = [f"{key}: README {want[key]!r}, converge {have[key]!r}" for key in want if key != "item fields"
                and want[key] != have[key]]
    for name in sorted(set(want["item fields"]) | set(have["item fields"])):
        fields, used = set(want["item fields"].get(name, [])), set(have["item fields"].get(name, []))
        if not fields <= used or used - fields - extra_fields.get(name, set()):
            problems.append(f"{name} items: README {sorted(fields)}, converge {sorted(used)}")
    return problems


def specs(role: str) -> dict:
    text = (ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text()
    return yaml.safe_load(text)["argument_specs"]["main"]["options"]


def undocumented(play: dict, options: dict) -> list[str]:
    """Variables and item fields of the play that the role's argument specs lack."""
    problems = []
    for name, value in role_vars(play).items():
        if name not in options:
            problems.append(name)
        elif isinstance(value, list):
            fields = options[name].get("options") or {}
            problems += [f"{name}[].{key}" for item in value if isinstance(item, dict) for key in item
                         if key not in fields]
    return sorted(set(problems))


@pytest.mark.parametrize("fqcn", sorted(ROLES))
def test_converge_play_is_the_readme_example(fqcn):
    assert drift(readme_play(ROLES[fqcn]), converge_play(fqcn), OFFLINE_FIELDS) == []


@pytest.mark.parametrize("fqcn", sorted(ROLES))
def test_converge_and_readme_use_only_documented_inputs(fqcn):
    options = specs(ROLES[fqcn])
    assert undocumented(converge_play(fqcn), options) == []
    assert undocumented(readme_play(ROLES[fqcn]), options) == []


def test_control_a_drifted_play_is_detected():
    play = converge_play("streamlit_ops.deploy.nginx_proxy")
    drifted = copy.deepcopy(play)
    drifted["hosts"] = "masters"
    drifted["roles"][0]["vars"]["nginx_proxy_server_names"] = drifted["roles"][0]["vars"].pop("nginx_proxy_server_name")
    drifted["roles"][0]["vars"]["nginx_proxy_apps"][0]["sticky"] = "none"
    found = drift(play, drifted, OFFLINE_FIELDS)
    assert [p.split(":")[0] for p in found] == ["hosts", "variables", "nginx_proxy_apps items"], found


def test_control_an_undocumented_input_is_detected():
    play = converge_play("streamlit_ops.deploy.streamlit_app")
    typo = copy.deepcopy(play)
    typo["roles"][0]["vars"]["streamlit_app_bind_adress"] = "10.218.0.11"
    typo["roles"][0]["vars"]["streamlit_app_containers"][0]["origin"] = "http://apps.test"
    options = specs("streamlit_app")
    found = set(undocumented(typo, options)) - set(undocumented(play, options))
    assert found == {"streamlit_app_bind_adress", "streamlit_app_containers[].origin"}, found


def address_errors(plays: list[dict], platforms: list[dict]) -> list[str]:
    """The converge values against the scenario's hosts: the child publishes
    the app on its own address, the proxy trusts and reaches it there."""
    by_group = {group: p["ipv4_address"] for p in platforms for group in p["groups"]}
    child, master = by_group["app_servers"], by_group["proxy"]
    app = next(role_vars(p) for p in plays if p["hosts"] == "app_servers")
    proxy = next(role_vars(p) for p in plays if p["hosts"] == "proxy")
    ports = {c["name"]: c["port"] for c in app["streamlit_app_containers"]}
    wanted = {
        "streamlit_app_bind_address": (app["streamlit_app_bind_address"], child),
        "streamlit_app_forwarded_allow_ips": (app.get("streamlit_app_forwarded_allow_ips"), [master]),
        "nginx_proxy_apps backends": ([a["backends"] for a in proxy["nginx_proxy_apps"]],
                                      [[f"{child}:{ports.get(a['name'])}"] for a in proxy["nginx_proxy_apps"]]),
    }
    return [f"{name}: {have!r}, expected {want!r}" for name, (have, want) in wanted.items() if have != want]


def platforms() -> list[dict]:
    return yaml.safe_load((SCENARIO / "molecule.yml").read_text())["platforms"]


def test_converge_values_are_the_scenarios_addresses():
    assert address_errors(converge_plays(), platforms()) == []


def test_control_swapped_addresses_are_detected():
    swapped = copy.deepcopy(platforms())
    swapped[0]["ipv4_address"], swapped[1]["ipv4_address"] = swapped[1]["ipv4_address"], swapped[0]["ipv4_address"]
    assert len(address_errors(converge_plays(), swapped)) == 3
