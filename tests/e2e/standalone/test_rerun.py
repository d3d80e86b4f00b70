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
