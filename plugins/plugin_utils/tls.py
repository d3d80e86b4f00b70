# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The TLS certificate and key, read on the controller before any host changes.

Nginx finds a bad pair only at ``nginx -t``, after the children changed. Here
the certificate file must be PEM with the server's own certificate first, the
key file an unencrypted PEM private key whose public key is the certificate's,
and the certificate valid now. ``cryptography`` comes with ansible-core, so
every controller has it. Messages name the variable and the fix, never the
key's content.
"""

from __future__ import annotations

import datetime

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.app_rules import relative_problem

CERT, KEY = "nginx_proxy_tls_certificate", "nginx_proxy_tls_certificate_key"
BEGIN = b"-----BEGIN "
DER_TO_PEM = {
    CERT: "openssl x509 -inform der -in FILE -out cert.pem",
    KEY: "openssl pkey -inform der -in FILE -out key.pem",
}


def _read(var: str, path: str) -> tuple[bytes | None, str | None]:
    try:
        with open(path, "rb") as handle:
            return handle.read(), None
    except IsADirectoryError:
        return None, f"{var} {path} is a directory on the controller: give the path of the PEM file in it"
    except OSError as exc:
        return None, f"{var} {path} cannot be read on the controller ({exc.strerror}): make it readable by the user running Ansible"


def _labels(data: bytes) -> list[str]:
    """The PEM block labels in data: 'CERTIFICATE', 'PRIVATE KEY', ..."""
    labels = []
    for line in data.splitlines():
        line = line.strip()
        if line.startswith(BEGIN) and line.endswith(b"-----"):
            labels.append(line[len(BEGIN):-5].decode("ascii", "replace"))
    return labels


def _not_pem(var: str, path: str, data: bytes, labels: list[str]) -> str | None:
    """Why data is not the PEM this variable needs, or None."""
    other = KEY if var == CERT else CERT
    if var == CERT and any(label.endswith("PRIVATE KEY") for label in labels) and "CERTIFICATE" not in labels:
        return f"{var} {path} holds a private key, not a certificate: swap the values of {var} and {other}"
    if var == KEY and "CERTIFICATE" in labels and not any(label.endswith("PRIVATE KEY") for label in labels):
        return f"{var} {path} holds a certificate, not a private key: swap the values of {var} and {other}"
    if labels:
        return None
    what = "certificate" if var == CERT else "private key"
    if data[:1] == b"\x30":  # an ASN.1 SEQUENCE: DER
        return f"{var} {path} is a DER {what}, and Nginx reads PEM: convert it with '{DER_TO_PEM[var]}'"
    return f"{var} {path} is not a PEM {what} (no '-----BEGIN' line): give the PEM file, or convert a DER one with '{DER_TO_PEM[var]}'"


def _crypto():
    """cryptography's x509 and serialization, imported on first use: every
    task that templates one of the collection's filters imports this module
    in a fresh worker, and only TLS checks need cryptography. None when it is
    missing (ansible-core requires it; only a bare sanity environment lacks it)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        return None
    return x509, serialization


def _certificate(path: str, data: bytes):
    x509 = _crypto()[0]
    try:
        return x509.load_pem_x509_certificates(data)[0], None
    except ValueError:
        return None, f"{CERT} {path} has a CERTIFICATE block that does not parse: give the PEM file your CA issued"


def _key(path: str, data: bytes):
    if b"ENCRYPTED" in data:
        return None, (f"{KEY} {path} is encrypted, and Nginx would stop at every start to ask for its passphrase: "
                      f"decrypt it with 'openssl pkey -in FILE -out key.pem' and protect the file (e.g. ansible-vault) instead")
    try:
        return _crypto()[1].load_pem_private_key(data, password=None), None
    except TypeError:
        return None, f"{KEY} {path} is encrypted: decrypt it with 'openssl pkey -in FILE -out key.pem'"
    except (ValueError, Exception):  # cryptography raises its own UnsupportedAlgorithm too
        return None, f"{KEY} {path} has a PRIVATE KEY block that does not parse: give the PEM key the certificate was issued for"


def _spki(public_key) -> bytes:
    serialization = _crypto()[1]
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _validity(path: str, cert, now: datetime.datetime) -> str | None:
    before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > after:
        return f"{CERT} {path} expired on {after:%Y-%m-%d %H:%M} UTC: renew it and give the new certificate and key"
    if now < before:
        return (f"{CERT} {path} is not valid before {before:%Y-%m-%d %H:%M} UTC: browsers refuse it until then; "
                "check the controller's clock and the certificate's dates, or deploy it later")
    return None


def pair_problems(cert_path: str, key_path: str, now: datetime.datetime | None = None) -> list[str]:
    """Every problem with the certificate and key files on the controller (resolved paths)."""
    problems, loaded = [], {}
    for var, path in ((CERT, cert_path), (KEY, key_path)):
        data, problem = _read(var, path)
        if problem is None:
            problem = _not_pem(var, path, data, _labels(data))
        if problem is None and _crypto() is not None:
            loaded[var], problem = (_certificate if var == CERT else _key)(path, data)
        if problem:
            problems.append(problem)
    cert, key = loaded.get(CERT), loaded.get(KEY)
    if cert is not None:
        problem = _validity(cert_path, cert, now or datetime.datetime.now(datetime.timezone.utc))
        if problem:
            problems.append(problem)
    if cert is not None and key is not None and _spki(cert.public_key()) != _spki(key.public_key()):
        problems.append(
            f"{KEY} {key_path} is not the key of {CERT} {cert_path} (their public keys differ): give the key the certificate "
            "was issued for; with a chain file, the server's own certificate must come first, then the intermediates"
        )
    return problems


def settings_errors(s: dict, found: dict) -> list[str]:
    """The nginx_proxy_tls_* files as the role would copy them from the controller.

    ``found`` maps each TLS variable to the path Ansible resolves it to (its
    first_found on the role's search path), or a false value when it finds none
    (that problem is reported by the caller). With nginx_proxy_tls_remote_src
    the files are on the master and are not read here.
    """
    cert, key = s.get(CERT), s.get(KEY)
    if not cert or not key or s.get("nginx_proxy_tls_remote_src"):
        return []
    # True (found, path not given) stands for the variable's own path.
    paths = {var: s[var] if found.get(var) is True else found.get(var) for var in (CERT, KEY)}
    if all(isinstance(p, str) and p for p in paths.values()):
        return pair_problems(paths[CERT], paths[KEY])
    # Not found: the caller says so; for a relative path, say where Ansible looked.
    return [f"{var} {problem}" for var in (CERT, KEY) if not paths[var] for problem in [relative_problem(s[var])] if problem]
