"""A second converge changes nothing: Molecule's idempotence step runs
converge.yml again and fails on any change in the play recap. The control
shows that count is not zero by construction: the proxy's play in check
mode, with one documented input changed, reports a change (and makes none).
Only its validate and configure steps run (the tag its README names): they
write the files."""

from hosts import on, playbook

CONVERGE = "molecule/standalone/converge.yml"


def test_control_a_changed_input_is_reported_as_a_change(inventory, master):
    rc, output, changed = playbook(CONVERGE, inventory, "--check", "--limit", master, "--tags", "nginx_proxy_configure",
                                   "--extra-vars", "nginx_proxy_server_name=other.test", timeout=300)
    assert rc == 0, output[-3000:]
    assert changed.get(master, 0) > 0, output[-3000:]


FIREWALL_SCRIPT = "/usr/local/sbin/streamlit-ops-firewall"


def test_the_firewall_tag_alone_puts_back_flushed_rules(inventory, child):
    """`--tags streamlit_app_firewall` runs the role's host read and verdict too, which its step needs: the rules
    someone flushed come back, and a second run changes nothing. Control: the flush is what the script's own
    --check sees."""
    assert on(child, FIREWALL_SCRIPT, "--check", check=False).returncode == 0
    on(child, "iptables", "-F", "STREAMLIT-OPS")
    try:
        assert on(child, FIREWALL_SCRIPT, "--check", check=False).returncode == 1, "the flush left the rules in place"
        rc, output, changed = playbook(CONVERGE, inventory, "--limit", child, "--tags", "streamlit_app_firewall", timeout=300)
        assert rc == 0, output[-3000:]
        assert changed.get(child, 0) > 0, output[-3000:]
        assert on(child, FIREWALL_SCRIPT, "--check", check=False).returncode == 0, output[-3000:]
        rc, output, changed = playbook(CONVERGE, inventory, "--limit", child, "--tags", "streamlit_app_firewall", timeout=300)
        assert rc == 0 and changed.get(child) == 0, output[-3000:]
    finally:
        on(child, FIREWALL_SCRIPT, check=False)


def test_with_the_firewall_off_a_rerun_skips_the_firewall_step_once_it_is_gone(inventory, child):
    """`streamlit_app_firewall: false` takes the rules, the script and the drop-in out. The host read then finds
    both files gone, so the next run has nothing to do for the firewall: its step does not run, and nothing
    changes. Control: the first run with it off changed something, and ran the step."""
    off = ("--limit", child, "-e", "streamlit_app_firewall=false")
    try:
        rc, output, changed = playbook(CONVERGE, inventory, *off, timeout=300)
        assert rc == 0, output[-3000:]
        assert changed.get(child, 0) > 0 and "firewall_remove | Take the rules out" in output, output[-3000:]
        assert on(child, "test", "-e", FIREWALL_SCRIPT, check=False).returncode != 0, "the script is still there"
        assert "STREAMLIT-OPS" not in on(child, "iptables", "-S", "DOCKER-USER").stdout
        rc, output, changed = playbook(CONVERGE, inventory, *off, timeout=300)
        assert rc == 0 and changed.get(child) == 0, output[-3000:]
        assert "firewall_remove |" not in output, output[-3000:]
    finally:
        rc, output, changed = playbook(CONVERGE, inventory, "--limit", child, timeout=300)
    assert rc == 0, output[-3000:]
    assert on(child, FIREWALL_SCRIPT, "--check", check=False).returncode == 0, output[-3000:]
