#!/usr/bin/python
# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Put the child firewall's script and its docker.service drop-in in place, and apply the rules when they differ."""

from __future__ import annotations

DOCUMENTATION = r"""
module: firewall_script
short_description: Put a firewall script and its systemd drop-in on a host, and apply its rules when they differ
description:
  - Writes O(script) to O(script_path) (root, mode 0755) and O(dropin) to O(dropin_path) (root, mode 0644, its
    directory created), each only when its content, mode or owner differs, by an atomic rename.
  - Then runs C(SCRIPT --check), which must exit 0 when exactly its rules are in place and 1 when not, and runs
    C(SCRIPT) to apply them when they are not. The script holds the rules and the way to compare them; this module
    holds none.
  - One module run instead of a template, a directory, a second template and two commands, each with its own round
    trip; the streamlit_app role runs it on every child in every run.
  - In check mode nothing is written or run but C(SCRIPT --check), and only while the script on the host is the one
    given (a new script's rules count as differing).
version_added: "1.1.0"
author: streamlit_ops maintainers (!UNKNOWN)
options:
  script:
    description: The script's content. It must take C(--check) as described above.
    type: str
    required: true
  script_path:
    description: Where the script goes.
    type: path
    required: true
  dropin:
    description: The content of the drop-in that runs the script, e.g. after each start of C(docker.service).
    type: str
    required: true
  dropin_path:
    description: Where the drop-in goes.
    type: path
    required: true
attributes:
  check_mode:
    description: Reports what would change; runs only C(SCRIPT --check), and only when the script is unchanged.
    support: full
  diff_mode:
    description: Shows the old and new content of each file that changes.
    support: full
"""

EXAMPLES = r"""
- name: Put the firewall in place and apply it
  streamlit_ops.deploy.firewall_script:
    script: "{{ lookup('ansible.builtin.template', 'my-firewall.j2') }}"
    script_path: /usr/local/sbin/my-firewall
    dropin: "{{ lookup('ansible.builtin.template', 'my-firewall.conf.j2') }}"
    dropin_path: /etc/systemd/system/docker.service.d/my-firewall.conf
  register: firewall
"""

RETURN = r"""
script_changed:
  description: Whether the script was (or in check mode would be) written.
  returned: always
  type: bool
dropin_changed:
  description: Whether the drop-in was (or would be) written; systemd needs a daemon-reload then.
  returned: always
  type: bool
rules_applied:
  description: Whether the rules differed from the script's, so the script ran (or would run).
  returned: always
  type: bool
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.streamlit_ops.deploy.plugins.module_utils.firewall import FILES, OPTIONS, check_rules, current


def _put(module: AnsibleModule, path: str, content: str, mode: str, diffs: list) -> bool:
    """Write content to path when it differs, and the owner and mode; True when anything changed."""
    before = current(path)
    args = module.load_file_common_arguments({"path": path, "owner": "root", "group": "root", "mode": mode})
    if before == content:
        return module.set_fs_attributes_if_different(args, False)
    diffs.append({"before_header": path, "after_header": path, "before": before or "", "after": content})
    if module.check_mode:
        return True
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o755)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".streamlit_ops.")
    with os.fdopen(handle, "wb") as out:
        out.write(content.encode("utf-8"))
    module.atomic_move(temporary, path)
    module.set_fs_attributes_if_different(args, True)
    return True


def main():
    module = AnsibleModule(
        argument_spec=OPTIONS,
        supports_check_mode=True,
    )
    p = module.params
    diffs: list = []
    changed = {name: _put(module, p[f"{name}_path"], p[name], mode, diffs) for name, mode in FILES}
    script_new = changed["script"] and current(p["script_path"]) != p["script"]
    if script_new:
        # Check mode with a new script: the one on the host would compare the old rules.
        differ = True
    else:
        rc, output = check_rules(module, p["script_path"])
        if rc not in (0, 1):
            module.fail_json(msg=f"{p['script_path']} --check failed (rc {rc}): {output}", rc=rc)
        differ = rc == 1
    if differ and not module.check_mode:
        rc, out, err = module.run_command([p["script_path"]])
        if rc != 0:
            module.fail_json(msg=f"{p['script_path']} failed to apply the rules (rc {rc}): {(err or out).strip()}", rc=rc)
    result = {"changed": changed["script"] or changed["dropin"] or differ, "script_changed": changed["script"],
              "dropin_changed": changed["dropin"], "rules_applied": differ}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
