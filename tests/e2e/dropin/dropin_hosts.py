"""What the dropin tests know of their master: the user's server that includes
the collection's snippet, and the files the collection writes."""

from __future__ import annotations

import hashlib

SNIPPET = "/etc/nginx/snippets/streamlit_ops_deploy.conf"
USER_SERVER = "/etc/nginx/sites-enabled/existing"
HEADER = "x-existing-site"
USER_PAGE = "existing site front page\n"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Everything the collection writes on the master.
COLLECTION_FILES = [
    "/etc/nginx/conf.d/streamlit_ops_deploy.conf",
    SNIPPET,
    "/etc/nginx/sites-available/streamlit_ops_deploy",
    "/etc/nginx/sites-enabled/streamlit_ops_deploy",
    "/etc/nginx/ssl/streamlit_ops_deploy.crt",
    "/etc/nginx/ssl/streamlit_ops_deploy.key",
    "/var/lib/streamlit_ops_deploy",
    "/var/lib/nginx_proxy",
]
