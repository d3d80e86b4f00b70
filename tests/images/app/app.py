"""Demo app deployed by the tests.

Static text plus widgets that need the WebSocket (a slider), an upload (sticky
routing, size limits), a second page (multipage under a sub-path), and what the
app sees of its client (FORWARDED_ALLOW_IPS: the real address and scheme) and
who the user is (st.user: a proxy's identity headers, or st.login when the
app's secrets.toml has an [auth] table).
"""

import json
import os

import streamlit as st


def connection_scheme() -> str:
    # st.context has no scheme; the session's WebSocket scope holds what
    # uvicorn made of X-Forwarded-Proto ("wss" only when it trusts the proxy).
    try:
        from streamlit.runtime import get_instance
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        client = get_instance().get_client(get_script_run_ctx().session_id)
        return client._websocket.url.scheme  # noqa: SLF001 - a test probe
    except Exception as exc:  # noqa: BLE001 - report, never break the page
        return f"unknown ({type(exc).__name__})"


st.title("Streamlit ops demo")
st.write("Hello from Streamlit ops")
multiplier = st.slider("Multiplier", min_value=1, max_value=10, value=2)
st.write(f"Result: {6 * multiplier}")
greeting = os.environ.get("DEMO_GREETING")
if greeting:
    st.text(f"Greeting: {greeting}")

upload = st.file_uploader("Upload a file")
if upload is not None:
    st.text(f"Uploaded {upload.name}: {upload.size} bytes")

st.text(f"Client address: {st.context.ip_address}")
st.text(f"Client scheme: {connection_scheme()}")

st.text(f"User: {json.dumps(st.user.to_dict(), sort_keys=True, default=str)}")
if st.secrets.load_if_toml_exists() and "auth" in st.secrets:
    if st.user.is_logged_in:
        st.text(f"Logged in as {st.user.get('email') or st.user.get('sub')}")
        st.button("Log out", on_click=st.logout)
    else:
        st.button("Log in", on_click=st.login)
