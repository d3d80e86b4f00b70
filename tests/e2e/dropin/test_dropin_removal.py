"""remove.yml on the drop-in deployment: check mode changes nothing, the run
takes out the containers, the app's image and the collection's files and
nothing else, Nginx keeps serving the user's site, a second run changes
nothing, and site.yml deploys again over what removal left.

Runs last (the file name sorts after the others) and leaves the scenario
deployed, so verify can run again."""

import pytest
from checks import browser_session, http_get
from dropin_hosts import COLLECTION_FILES, HEADER, SNIPPET, USER_PAGE, USER_SERVER
from hosts import LABEL, blocks_per_file, containers, images, nginx_dump, nginx_test_copy, on, playbook, snapshot

APP_IMAGE = "streamlit-ops-demo:1.0"
# What the streamlit_app role writes on a child: the app's secrets.toml.
CHILD_SECRETS = "/var/lib/streamlit_app/secrets/demo/secrets.toml"
CHILD_STATE = "/var/lib/streamlit_app"
# The cookie secrets the site playbook keeps on the master.
MASTER_STATE = "/var/lib/streamlit_ops_deploy"
# Images too: the user's own image on the child must still stay.
IMAGES = ("-e", "streamlit_app_remove_images=true")


def state(master, children):
    """Everything removal could change, as a user would compare it."""
    result = {master: (nginx_dump(master), snapshot(master, COLLECTION_FILES))}
    for child in children:
        result[child] = (containers(child), sorted(images(child)), snapshot(child, [CHILD_SECRETS, CHILD_STATE]))
    return result


@pytest.fixture(scope="module")
def deployed(master, children):
    before = state(master, children)
    # What the checks below require to be gone must be there to begin with.
    assert all(containers(child, f"label={LABEL}") for child in children), before
    assert all(APP_IMAGE in images(child) for child in children), before
    assert all(snapshot(child, [CHILD_SECRETS])[CHILD_SECRETS][0] == "file" for child in children), before
    kinds = {path: kind for path, (kind, dummy) in snapshot(master, [SNIPPET, MASTER_STATE]).items()}
    assert kinds == {SNIPPET: "file", MASTER_STATE: "dir"}, kinds
    return before


def test_a_failed_nginx_test_puts_everything_back(inventory, master, children, app_url, deployed):
    """A record that the role disabled Debian's default site (configure writes
    it) makes removal re-enable that site, which collides with the user's
    default_server: nginx -t fails, and everything must be as before."""
    record = "/var/lib/nginx_proxy/default_site_link"
    # The role's records directory may exist already (the previous
    # configuration's record lives there until a smoke check passed).
    had_dir = snapshot(master, [record.rsplit("/", 1)[0]])[record.rsplit("/", 1)[0]][0] == "dir"
    on(master, "sh", "-c", f"mkdir -p {record.rsplit('/', 1)[0]} && echo /etc/nginx/sites-available/default > {record}")
    try:
        planted = state(master, children)
        rc, out, changed = playbook("remove.yml", inventory)
        assert rc != 0, out[-3000:]
        assert "a duplicate default server for 0.0.0.0:80" in out and "keeps serving" in out, out[-3000:]
        assert master in changed and all(child not in changed or changed[child] == 0 for child in children), changed
        assert state(master, children) == planted
        assert http_get(app_url + "_stcore/health")[:2] == (200, "ok")
    finally:
        on(master, "rm", "-r", record if had_dir else record.rsplit("/", 1)[0])
    # Control: without the record the same removal goes through (the tests below).


def test_check_mode_reports_the_removal_and_changes_nothing(inventory, master, children, deployed):
    rc, out, changed = playbook("remove.yml", inventory, "--check", "--diff", *IMAGES)
    assert rc == 0, out[-3000:]
    assert changed[master] >= 1 and all(changed[child] >= 1 for child in children), changed
    assert state(master, children) == deployed


def test_removal_takes_out_what_was_deployed_and_nothing_else(inventory, master, children, user_files_before,
                                                              user_site_url, app_url, artifacts, deployed):
    rc, out, changed = playbook("remove.yml", inventory, *IMAGES)
    assert rc == 0, out[-3000:]
    assert changed[master] >= 1 and all(changed[child] >= 1 for child in children), changed
    # Master first: Nginx reloaded before any container went.
    assert out.index("nginx_proxy : remove | Reload Nginx]") < out.index(
        "Remove the containers this role created"), out[-3000:]

    for child in children:
        assert containers(child, f"label={LABEL}") == [], child
        assert APP_IMAGE not in images(child), child
        # The user's own container and image stay.
        assert containers(child) == ["user-own"] and "user/own:1" in images(child), child
        assert snapshot(child, [CHILD_STATE]) == {CHILD_STATE: ["absent", None]}, child

    gone = snapshot(master, COLLECTION_FILES)
    assert {path: kind for path, (kind, dummy) in gone.items() if path != SNIPPET} == {
        path: "absent" for path in COLLECTION_FILES if path != SNIPPET}, gone
    # The user's server still includes the snippet: it stays, without locations.
    stub = on(master, "cat", SNIPPET).stdout
    assert blocks_per_file(nginx_dump(master), "location").get(SNIPPET, 0) == 0 and USER_SERVER in stub, stub
    # Control: without the stub the user's configuration would not load.
    assert nginx_test_copy(master).returncode == 0
    failed = nginx_test_copy(master, drop=SNIPPET)
    assert failed.returncode != 0 and "streamlit_ops_deploy.conf" in failed.stderr, failed.stderr

    assert on(master, "nginx", "-t", check=False).returncode == 0
    assert snapshot(master, user_files_before) == user_files_before
    assert blocks_per_file(nginx_dump(master), "server") == {USER_SERVER: 1}
    status, body, headers = http_get(user_site_url)
    assert (status, body, headers.get(HEADER)) == (200, USER_PAGE, "existing.test")
    # The browser check of test_dropin_proxy fails now: its negative control.
    result = browser_session(app_url, screenshot=str(artifacts / "dropin-removed.png"), timeout_s=15)
    assert not result.loaded, result


def test_a_second_removal_changes_nothing(inventory, master, children):
    after_first = state(master, children)
    for extra in ((), ("--check",)):
        rc, out, changed = playbook("remove.yml", inventory, *extra, *IMAGES)
        assert rc == 0, out[-3000:]
        assert changed and all(count == 0 for count in changed.values()), (extra, changed)
    assert state(master, children) == after_first


def test_site_deploys_again_after_the_removal(inventory, master, user_files_before, app_url, artifacts):
    rc, out, dummy = playbook("site.yml", inventory)
    assert rc == 0, out[-3000:]
    assert snapshot(master, user_files_before) == user_files_before
    result = browser_session(app_url, screenshot=str(artifacts / "dropin-redeployed.png"), timeout_s=45)
    assert result.loaded and result.reacted, result
