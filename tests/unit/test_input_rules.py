"""The input rules of issue 11: every bad input fails in the first plays, with a
message naming the field and the fix. Each case here is also a row of the
README's "Input rules" table, and a test keeps the two equal:
    python tests/unit/test_input_rules.py   # prints the table
"""

import datetime
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import site, tls  # noqa: E402

CHILDREN = ["child1", "child2"]
HOSTS = {"child1": {"bind_address": "10.0.0.11"}, "child2": {"bind_address": "10.0.0.12"}}
# Where the README's examples say the files are; the tests write them elsewhere.
SHOWN_DIR = "/srv/deploy"


def good(**over):
    app = {"name": "demo", "image": "demo:1.0", "port": 8501}
    app.update(over)
    return app


def errors(*apps, masters=(), **settings):
    return site.errors({"streamlit_ops_apps": list(apps), **settings}, CHILDREN, HOSTS, ["10.0.0.10"], masters=list(masters))


def _openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, check=True, timeout=60).stdout


def make_files(tmp: pathlib.Path) -> dict:
    """The files the cases name: two TLS pairs, a DER certificate, an encrypted key and secrets files."""
    files = {}
    for name in ("apps", "other"):
        cert, key = tmp / f"{name}.pem", tmp / f"{name}.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}.example.com",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
        files[f"{name}_cert"], files[f"{name}_key"] = str(cert), str(key)
    (tmp / "apps.der").write_bytes(_openssl("x509", "-in", files["apps_cert"], "-outform", "der"))
    (tmp / "encrypted.key").write_bytes(_openssl("pkey", "-in", files["apps_key"], "-aes256", "-passout", "pass:x"))
    (tmp / "secrets.toml").write_text('[db]\npassword = "s3cret\nuser = "app"\n')
    files.update(der=str(tmp / "apps.der"), encrypted=str(tmp / "encrypted.key"), toml=str(tmp / "secrets.toml"))
    return files


LATER = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)

# rule -> problems(files); the first problem is the README's example.
CASES = {
    "TLS key belongs to the certificate": lambda f: tls.pair_problems(f["apps_cert"], f["other_key"]),
    "TLS files not swapped": lambda f: tls.pair_problems(f["apps_key"], f["apps_cert"]),
    "TLS files are PEM": lambda f: tls.pair_problems(f["der"], f["apps_key"]),
    "TLS key not encrypted": lambda f: tls.pair_problems(f["apps_cert"], f["encrypted"]),
    "TLS certificate valid now": lambda f: [p for p in tls.pair_problems(f["apps_cert"], f["apps_key"], now=LATER) if "expired" in p],
    "App paths do not nest": lambda f: errors(good(path="/app/"), good(name="sub", path="/app/sub/", port=8502)),
    "App ports are not the master's listeners": lambda f: errors(good(port=80), masters=["child1"]),
    "Options hold no control characters": lambda f: errors(good(options={"theme.base": "dark\n"})),
    "secrets_file is TOML": lambda f: errors(good(secrets_file=f["toml"])),
    "Controller paths are absolute": lambda f: errors(good(secrets_file="files/secrets.toml")),
    "env values are not null": lambda f: errors(good(env={"GREETING": None})),
    "env keys are names": lambda f: errors(good(env={1: "x"})),
    "Image references Docker accepts": lambda f: errors(good(image="Demo:1.0")),
    "App names short": lambda f: errors(good(name="a" * 70)),
    "Uploads fit in memory": lambda f: errors(good(max_upload_mb=2048, memory="1g")),
    "The issue's own names": lambda f: errors(good(), streamlit_rolling_batch=2),
    "Volume sources are absolute or named": lambda f: errors(good(volumes=["./data:/data"])),
    "Rolling settings in range": lambda f: errors(good(), streamlit_ops_rolling_batch=0),
}
# Set by the site playbook's first play, before any host is contacted (tests/e2e/default).
NO_MASTER = ("The inventory needs at least one host in the group streamlit_master (Nginx) and one in the group "
             "streamlit_children (the app containers), and streamlit_ops_apps for all of them; see inventory.example.")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("files"))


def shown(message: str, files: dict) -> str:
    """The message as the README shows it: fixed directories and dates."""
    message = message.replace(str(pathlib.Path(files["toml"]).parent), SHOWN_DIR).replace(str(pathlib.Path.cwd()), "/home/ops")
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "2026-03-01 12:00 UTC", message)


def examples(files: dict) -> dict:
    rows = {}
    for rule, case in CASES.items():
        problems = case(files)
        assert problems, rule
        rows[rule] = shown(problems[0], files)
    rows["Inventory has the groups"] = NO_MASTER
    return rows


def table(files: dict) -> str:
    lines = ["| Rule | Example message |", "|---|---|"]
    lines += [f"| {rule} | `{message}` |" for rule, message in examples(files).items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_case_fails_with_one_message_naming_its_field(files, rule):
    problems = CASES[rule](files)
    assert len(problems) == 1 or rule == "TLS files not swapped", problems
    field = problems[0].split(" ", 1)[0].rstrip(":")
    assert field.startswith(("streamlit_ops_apps[", "nginx_proxy_tls_", "streamlit_rolling_batch", "streamlit_ops_rolling_batch")), problems


def test_good_input_passes_every_rule(files):
    assert tls.pair_problems(files["apps_cert"], files["apps_key"]) == []
    assert errors(good(path="/app/"), good(name="apps", path="/apps/", port=8502), good(name="b", port=8503, max_upload_mb=100, memory="1g")) == []
    assert errors(good(port=80), masters=["child1"], nginx_proxy_server=False) == []  # drop-in: no server of the role's
    assert errors(good(port=80)) == []  # the child is not a master
    assert errors(good(options={"theme.base": "dark", "server.folderWatchBlacklist": ["a", "b"]}, env={"MULTI": "a\nb"})) == []
    toml = pathlib.Path(files["toml"]).with_name("good.toml")
    toml.write_text('[db]\npassword = "s3cret"\n')
    assert errors(good(secrets_file=str(toml))) == []


def test_the_secrets_file_content_is_never_quoted(files):
    (problem,) = errors(good(secrets_file=files["toml"]))
    assert "s3cret" not in problem and "(at line 2, column 19)" in problem


def test_a_relative_path_names_where_ansible_looks_and_the_fix():
    (problem,) = errors(good(image_archive="images/app.tar"))
    assert problem.startswith("streamlit_ops_apps[0].image_archive: 'images/app.tar' is relative, and Ansible would look for it")
    assert f"({pathlib.Path.cwd() / 'images/app.tar'})" in problem
    assert "'{{ inventory_dir }}/images/app.tar'" in problem


def test_a_tilde_path_is_expanded_and_reported_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (problem,) = errors(good(secrets_file="~/missing.toml"))
    assert problem.startswith(f"streamlit_ops_apps[0].secrets_file: '{tmp_path}/missing.toml' is not a file on the controller")
    (tmp_path / "ok.toml").write_text('a = "b"\n')
    assert errors(good(secrets_file="~/ok.toml")) == []


def test_the_https_port_counts_only_with_tls():
    assert errors(good(port=443), masters=["child1"]) == []
    (problem,) = errors(good(port=443), masters=["child1"], nginx_proxy_tls_certificate="/c.pem", nginx_proxy_tls_certificate_key="/k.pem")
    assert problem.startswith("streamlit_ops_apps[0].port: 443 is nginx_proxy_https_port of the master child1")
    # Only the children the app runs on count.
    assert errors(good(port=80, hosts=["child2"]), masters=["child1"]) == []


def test_a_long_name_is_cut_in_the_fix():
    (problem,) = errors(good(name="a" * 70))
    assert problem == f"streamlit_ops_apps[0].name: {'a' * 20}… has 70 characters: use at most 63, e.g. '{'a' * 63}'."
    assert errors(good(name="a" * 63)) == []


def test_a_directory_is_not_a_pem_file(tmp_path):
    (cert, key) = tls.pair_problems(str(tmp_path), str(tmp_path))
    assert cert == f"nginx_proxy_tls_certificate {tmp_path} is a directory on the controller: give the path of the PEM file in it"


def test_a_root_app_with_others_is_told_to_move():
    (problem,) = errors(good(path="/"), good(name="b", port=8502))
    assert problem.endswith("and move streamlit_ops_apps[0] from '/' to a path of its own, e.g. '/main/'.")


@pytest.mark.parametrize(("old", "new"), sorted(site.CALLED.items()))
def test_the_issues_names_get_the_collections(old, new):
    assert errors(good(), **{old: 1}) == [f"{old} is called {new} in this collection; set {new} instead."]
    assert site.errors({old: 1}, playbook="remove") == [f"{old} is called {new} in this collection; set {new} instead."]


def test_the_readme_shows_the_real_messages(files):
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^### Input rules\n(.*?)(?=^#)", readme, re.S | re.M)
    assert section, "README.md has no '### Input rules' section"
    body = section.group(1)
    start = body.index("| Rule | Example message |")
    assert body[start:start + len(table(files))] == table(files), (
        "README.md's Input rules table differs from the real messages: print it with 'python tests/unit/test_input_rules.py'")


def test_the_no_master_message_is_the_site_playbooks():
    assert NO_MASTER in " ".join((ROOT / "playbooks/site.yml").read_text().split())


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sys.stdout.write(table(make_files(pathlib.Path(tmp))))
