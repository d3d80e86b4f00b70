"""A second converge changes nothing: Molecule's idempotence step runs
converge.yml again and fails on any change in the play recap. The control
shows that count is not zero by construction: the proxy's play in check
mode, with one documented input changed, reports a change (and makes none).
Only its validate and configure steps run (the tag its README names): they
write the files."""

from hosts import playbook

CONVERGE = "molecule/standalone/converge.yml"


def test_control_a_changed_input_is_reported_as_a_change(inventory, master):
    rc, output, changed = playbook(CONVERGE, inventory, "--check", "--limit", master, "--tags", "nginx_proxy_configure",
                                   "--extra-vars", "nginx_proxy_server_name=other.test", timeout=300)
    assert rc == 0, output[-3000:]
    assert changed.get(master, 0) > 0, output[-3000:]
