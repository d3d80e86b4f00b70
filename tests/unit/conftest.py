import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The checkout resolves as the collection through collections/ (see ansible.cfg).
sys.path.insert(0, str(ROOT / "collections"))


@pytest.fixture(scope="session")
def make_self_signed(tmp_path_factory):
    """make_self_signed(name, ips=()) -> (cert, key): a self-signed PEM pair for name."""
    def make(name: str, ips: tuple[str, ...] = ()) -> tuple[pathlib.Path, pathlib.Path]:
        tmp = tmp_path_factory.mktemp("tls")
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        names = ",".join([f"DNS:{name}"] + [f"IP:{ip}" for ip in ips])
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )
        return cert, key
    return make
