"""Settings that each scenario's Molecule verify passes to the tests."""

import os

import pytest


def scenario_env(name: str, why: str) -> str:
    """The value of an environment setting; the test skips without it."""
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.skip(f"{name} is not set: {why} (the scenario's Molecule verify sets it)")
    return value
