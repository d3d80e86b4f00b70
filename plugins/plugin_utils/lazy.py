# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""A plugin_utils module imported on its first use.

Ansible imports every filter file of the collection in every worker process
that resolves one of its filters, and imports collection code from source
each time (no bytecode cache). The filter files name their plugin_utils
modules through this, so a worker compiles only the ones its filters call."""

from __future__ import annotations

import importlib

PACKAGE = "ansible_collections.streamlit_ops.deploy.plugins.plugin_utils"


class Module:
    def __init__(self, name: str):
        self._name = f"{PACKAGE}.{name}"

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)
