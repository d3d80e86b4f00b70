"""The removal's stock nginx.conf: rendered from the role's template with the
expression roles/nginx_proxy/tasks/remove.yml uses, it is Debian's file byte
for byte (the md5 dpkg records) for every supported release."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "nginx_proxy"
STOCK = {path.stem: hashlib.md5(path.read_bytes()).hexdigest() for path in (ROOT / "tests/unit/nginx/stock").glob("*.conf")}


def _render(tmp_path, strip: bool) -> dict[str, str]:
    block_vars = yaml.safe_load((ROLE / "tasks" / "remove.yml").read_text())[0]["vars"]
    expression = block_vars["__nginx_proxy_remove_stock"].replace("'nginx.conf.j2'", repr(str(ROLE / "templates" / "nginx.conf.j2")))
    if not strip:
        expression = expression.split("\n", 1)[0] + " }}"
    play = [{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(ROLE / "vars" / "main.yml")],
        "tasks": [{"ansible.builtin.copy": {"dest": f"{tmp_path}/{{{{ item }}}}.conf", "content": "{{ __stock }}", "mode": "0644"},
                   "loop": sorted(STOCK),
                   "vars": {"__nginx_proxy_remove_host": {"nginx": {"codename": "{{ item }}"}}, "__stock": expression,
                            "__nginx_proxy_remove_stock_vars": block_vars["__nginx_proxy_remove_stock_vars"]}}],
    }]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(tmp_path / "play.yml")],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    return {release: hashlib.md5((tmp_path / f"{release}.conf").read_bytes()).hexdigest() for release in STOCK}


def test_removal_renders_debians_stock_nginx_conf(tmp_path):
    assert set(STOCK) == {"bookworm", "trixie"}
    assert _render(tmp_path, strip=True) == STOCK
    # Control: the template as the role writes it is not the stock file.
    assert all(md5 != STOCK[release] for release, md5 in _render(tmp_path, strip=False).items())
