# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The attributes of the collection's modules that read and never change anything."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Reads only, so it runs in check mode as in a normal run.
    support: full
  diff_mode:
    description: Returns no diff; there is nothing to change.
    support: none
"""
