# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""How the collection's probing modules check a server's TLS certificate."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  validate_certs:
    description: Verify the server's TLS certificate and name.
    type: bool
    default: true
  ca_path:
    description: A PEM file of certificate authorities to trust instead of the system's.
    type: path
  allow_self_signed:
    description:
      - Accept a self-signed server certificate, and only that, as the one exception to O(validate_certs).
      - When verification fails only because the server's certificate is self-signed (it is its own issuer), the
        connection is made again trusting exactly that certificate, so its name and validity dates are still checked.
    type: bool
    default: false
"""
