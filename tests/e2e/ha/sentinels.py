"""The planted secrets whose values must never show in a run's output: one
token per pytest process, shared by the shared site runs (site_runs.py) and
test_secret_sentinels.py."""

import secrets

TOKEN = secrets.token_hex(8)
COOKIE = f"SENTINELcookie{TOKEN}"
FILE = f"SENTINELfile{TOKEN}"
PASSWORD = f"SENTINELpassword{TOKEN}"
