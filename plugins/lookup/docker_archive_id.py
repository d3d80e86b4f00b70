# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
name: docker_archive_id
short_description: Image ID of a tag inside a C(docker save) archive on the controller
version_added: "1.0.0"
author: streamlit_ops maintainers (!UNKNOWN)
description:
  - Reads C(manifest.json) and the config blob of a C(docker save) tarball and returns the image ID
    (C(sha256:...)) that Docker will report after loading it.
  - Lets a role decide whether a host already holds the archived image without copying the archive.
options:
  _terms:
    description: Paths of C(docker save) archives on the controller.
    type: list
    elements: path
    required: true
  image:
    description: Image reference whose ID to return; it must be one of the archive's tags.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Compare an archive with the image on a host
  ansible.builtin.debug:
    msg: "{{ lookup('streamlit_ops.deploy.docker_archive_id', '/srv/images/app.tar', image='app:1.0') }}"
"""

RETURN = r"""
_raw:
  description: The image ID, one per term.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.docker_archive import ArchiveError, archive_image_id


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        image = self.get_option("image")
        try:
            return [archive_image_id(str(term), image) for term in terms]
        except ArchiveError as exc:
            raise AnsibleLookupError(str(exc)) from exc
