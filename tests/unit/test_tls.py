"""The TLS pair is read on the controller before any host changes (plugin_utils/tls.py),
and the nginx_proxy role's validate step reports it, so the site playbook and
the role alone both refuse a bad pair before anything changes."""

import datetime
import subprocess

import pytest
from test_nginx_proxy_templates import APP, _main_config, _problems, _run_validate, fake_master  # noqa: F401 pylint: disable=unused-import

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils import tls

CERT, KEY = tls.CERT, tls.KEY


def _openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True, timeout=60).stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory, make_self_signed):
    """A good pair, a second pair, and the bad shapes a user hands over instead."""
    cert, key = make_self_signed("apps.example.test")
    other_cert, other_key = make_self_signed("other.example.test")
    tmp = tmp_path_factory.mktemp("bad")
    out = {"cert": str(cert), "key": str(key), "other_key": str(other_key), "other_cert": str(other_cert)}
    shapes = {
        "der_cert": _openssl("x509", "-in", str(cert), "-outform", "der"),
        "der_key": _openssl("pkey", "-in", str(key), "-outform", "der"),
        "encrypted_key": _openssl("pkey", "-in", str(key), "-aes256", "-passout", "pass:secret"),
        "text": b"not a certificate\n",
        "chain_wrong_order": other_cert.read_bytes() + cert.read_bytes(),
        "chain": cert.read_bytes() + other_cert.read_bytes(),
    }
    for name, data in shapes.items():
        (tmp / name).write_bytes(data)
        out[name] = str(tmp / name)
    return out


def test_a_good_pair_passes(files):
    assert tls.pair_problems(files["cert"], files["key"]) == []
    assert tls.pair_problems(files["chain"], files["key"]) == []


@pytest.mark.parametrize(
    ("cert", "key", "expected"),
    [
        ("cert", "other_key", f"{KEY} {{other_key}} is not the key of {CERT} {{cert}} (their public keys differ)"),
        ("chain_wrong_order", "key", f"{KEY} {{key}} is not the key of {CERT} {{chain_wrong_order}}"),
        ("key", "cert", f"{CERT} {{key}} holds a private key, not a certificate: swap the values of {CERT} and {KEY}"),
        ("der_cert", "key", f"{CERT} {{der_cert}} is a DER certificate, and Nginx reads PEM: convert it with "
                            "'openssl x509 -inform der -in FILE -out cert.pem'"),
        ("cert", "der_key", f"{KEY} {{der_key}} is a DER private key, and Nginx reads PEM"),
        ("text", "key", f"{CERT} {{text}} is not a PEM certificate (no '-----BEGIN' line)"),
        ("cert", "encrypted_key", f"{KEY} {{encrypted_key}} is encrypted, and Nginx would stop at every start to ask for its passphrase"),
    ],
)
def test_bad_pairs_name_the_variable_and_the_fix(files, cert, key, expected):
    problems = tls.pair_problems(files[cert], files[key])
    assert any(p.startswith(expected.format(**files)) for p in problems), problems


def test_a_swapped_pair_names_both_files(files):
    problems = tls.pair_problems(files["key"], files["cert"])
    assert [p.split(" ", 1)[0] for p in problems] == [CERT, KEY]
    assert all("swap the values" in p for p in problems)


def test_validity_is_checked_against_now(files):
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)
    (early,) = tls.pair_problems(files["cert"], files["key"], now=past)
    assert early.startswith(f"{CERT} {files['cert']} is not valid before ")
    (late,) = tls.pair_problems(files["cert"], files["key"], now=future)
    assert late.startswith(f"{CERT} {files['cert']} expired on ")
    assert "renew it" in late


def test_an_unreadable_file_is_reported(files, tmp_path):
    missing = str(tmp_path / "gone.pem")
    (problem,) = tls.pair_problems(missing, files["key"])
    assert problem.startswith(f"{CERT} {missing} cannot be read on the controller")


def test_no_message_holds_the_key(files):
    key_body = "".join(open(files["key"]).read().splitlines()[1:-1])
    for cert, key in (("cert", "other_key"), ("key", "cert"), ("cert", "encrypted_key")):
        for problem in tls.pair_problems(files[cert], files[key]):
            assert key_body[:40] not in problem


def test_settings_skip_what_the_caller_reports(files):
    given = {CERT: files["cert"], KEY: files["other_key"]}
    assert tls.settings_errors(given, {CERT: files["cert"], KEY: False}) == []  # missing: reported by the caller
    # ... and for a relative path, where Ansible looked.
    (problem,) = tls.settings_errors({**given, KEY: "files/k.pem"}, {CERT: files["cert"], KEY: False})
    assert problem.startswith(f"{KEY} 'files/k.pem' is relative, and Ansible would look for it in the role's files/")
    assert tls.settings_errors({**given, "nginx_proxy_tls_remote_src": True}, {CERT: True, KEY: True}) == []
    assert tls.settings_errors({CERT: files["cert"]}, {CERT: True}) == []
    assert len(tls.settings_errors(given, {CERT: True, KEY: True})) == 1
    # The resolved path wins over the variable's own (a relative one).
    assert tls.settings_errors({CERT: "cert.pem", KEY: "key.pem"}, {CERT: files["cert"], KEY: files["key"]}) == []


def test_the_roles_validate_step_refuses_a_mismatched_pair(tmp_path, files, fake_master):  # noqa: F811
    values = {**APP, **fake_master(20000), **_main_config(tmp_path), CERT: files["cert"], KEY: files["key"]}
    assert _run_validate(tmp_path, values).returncode == 0
    (problem,) = _problems(_run_validate(tmp_path, {**values, KEY: files["other_key"]}))
    assert problem.startswith(f"- {KEY} {files['other_key']} is not the key of {CERT} {files['cert']}")
    problems = _problems(_run_validate(tmp_path, {**values, CERT: files["key"], KEY: files["cert"]}))
    assert [p.split(" ", 2)[1] for p in problems] == [CERT, KEY]
