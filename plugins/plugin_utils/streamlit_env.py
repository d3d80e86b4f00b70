# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""The environment of an app's container: the Streamlit settings the
collection owns, the user's options and the user's extra variables."""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.app_rules import app_path
from ansible_collections.streamlit_ops.deploy.plugins.plugin_utils.streamlit_options import OPTIONS

# Port Streamlit listens on inside the container; the published port is per app.
CONTAINER_PORT = 8501
# Where the container finds secrets_file (and login's [auth]): a directory mount, so a replaced file
# is seen through it (a single-file bind mount keeps the old inode).
SECRETS_DIR = "/run/streamlit_ops"
SECRETS_PATH = f"{SECRETS_DIR}/secrets.toml"

# Streamlit options the collection sets itself, and the field that sets them.
MANAGED_OPTIONS = {
    "server.headless": "nothing: the collection always runs Streamlit headless",
    "server.port": "port (the container always listens on 8501)",
    "server.address": "port (the container listens on all its addresses)",
    "server.baseUrlPath": "path",
    "server.maxUploadSize": "max_upload_mb",
    "server.websocketPingInterval": "ping_interval",
    "server.cookieSecret": "cookie_secret",
    "server.enableCORS": "origins (streamlit_ops_origin_policy in the site playbook)",
    "server.corsAllowedOrigins": "origins (streamlit_ops_origin_policy in the site playbook)",
    "server.allowedHosts": "origins (their host names)",
    "browser.serverAddress": "origins (the first origin's host)",
    "browser.serverPort": "origins (the first origin's port)",
    "server.enableXsrfProtection": "nothing: XSRF protection stays on",
    "secrets.files": "secrets_file (and login)",
    "server.sslCertFile": "nothing: TLS ends on the proxy (nginx_proxy_tls_certificate)",
    "server.sslKeyFile": "nothing: TLS ends on the proxy (nginx_proxy_tls_certificate_key)",
    "browser.gatherUsageStats": "nothing: the collection turns usage statistics off",
}


def option_env_name(option: str) -> str:
    """The variable Streamlit reads an option from (its ConfigOption.env_var)."""
    return OPTIONS[option][2]


# Every variable managed_env can set, whatever the app's settings.
RESERVED_ENV = frozenset({option_env_name(option) for option in MANAGED_OPTIONS} | {"FORWARDED_ALLOW_IPS"})


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _option_value(value) -> str:
    # Streamlit's CLI reads a list-valued option from its variable split on
    # whitespace (click's default envvar_list_splitter), so items never hold any.
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    return _text(value)


def _host_port(origin: str) -> tuple[str, int]:
    parts = urlsplit(origin)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def managed_env(app: dict, forwarded_allow_ips=()) -> dict[str, str]:
    """The Streamlit settings the collection owns, as environment variables."""
    env = {
        "STREAMLIT_SERVER_HEADLESS": "true",
        "STREAMLIT_SERVER_BASE_URL_PATH": app_path(app).strip("/"),
        "STREAMLIT_SERVER_ADDRESS": "0.0.0.0",
        "STREAMLIT_SERVER_PORT": str(CONTAINER_PORT),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "true",
        "STREAMLIT_SERVER_MAX_UPLOAD_SIZE": str(app["max_upload_mb"]),
        "STREAMLIT_SERVER_WEBSOCKET_PING_INTERVAL": str(app["ping_interval"]),
    }
    origins = app.get("origins") or []
    if origins:
        hosts = list(dict.fromkeys(_host_port(o)[0] for o in origins))
        host, port = _host_port(origins[0])
        env.update(
            {
                "STREAMLIT_SERVER_ENABLE_CORS": "true",
                "STREAMLIT_SERVER_CORS_ALLOWED_ORIGINS": " ".join(origins),
                "STREAMLIT_SERVER_ALLOWED_HOSTS": " ".join(hosts),
                "STREAMLIT_BROWSER_SERVER_ADDRESS": host,
                "STREAMLIT_BROWSER_SERVER_PORT": str(port),
            }
        )
    else:
        # The mission's fix: the app is reached through the proxy's origin.
        env["STREAMLIT_SERVER_ENABLE_CORS"] = "false"
    if app.get("cookie_secret"):
        env["STREAMLIT_SERVER_COOKIE_SECRET"] = str(app["cookie_secret"])
    if app.get("secrets_file") or app.get("login"):
        env["STREAMLIT_SECRETS_FILES"] = SECRETS_PATH
    if forwarded_allow_ips:
        # Uvicorn trusts X-Forwarded-For/-Proto only from these; it does not resolve names.
        env["FORWARDED_ALLOW_IPS"] = ",".join(map(str, forwarded_allow_ips))
    return env


def container_env(app: dict, forwarded_allow_ips=()) -> dict[str, str]:
    """The container's environment: the user's extras, options, then the managed settings."""
    env = {str(key): _text(value) for key, value in (app.get("env") or {}).items()}
    env.update({option_env_name(key): _option_value(value) for key, value in (app.get("options") or {}).items()})
    env.update(managed_env(app, forwarded_allow_ips))
    return env
