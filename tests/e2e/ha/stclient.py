"""A plain HTTP and WebSocket client that speaks to a Streamlit app the way its
frontend does, without a browser: it keeps cookies, loads the page and the
health endpoint, opens the session's WebSocket, runs the script, and uploads
a file with the XSRF token. Each request goes through the proxy on its own,
so every one is a separate routing decision, as in a browser.

Like checks.py it reports what it saw and never raises because the app or the
proxy misbehaves: a refused step leaves its status for the caller to judge.

The WebSocket runs on websockets' asyncio client, in an event loop of the
client's own. The threaded (sync) client reads the TLS socket in a thread
while the handshake writes to it from another; OpenSSL does not allow that,
and about one handshake in 400 then never left the client (seen in a packet
capture: the TLS handshake done, no upgrade request, Nginx closing the
connection at its 60 s client_header_timeout).
"""

from __future__ import annotations

import asyncio
import http.client
import ssl
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.cookies import get_cookie_header
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.asyncio.client import connect

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

XSRF_COOKIE = "_streamlit_xsrf"


@dataclass
class Session:
    page: int = 0
    health: int = 0
    websocket: int = 0  # 101 when the upgrade succeeded, the refusal's status otherwise, 0 for no answer
    session_id: str | None = None
    texts: list[str] = field(default_factory=list)
    upload: int = 0  # the last upload's status
    upload_body: str = ""  # the first refused upload's body, else the last one's
    uploads: list[int] = field(default_factory=list)  # every upload's status, in order
    error: str | None = None
    resent: int = 0  # requests sent again after their reused connection closed with no answer (see _get_reused)
    seconds: dict[str, float] = field(default_factory=dict)  # per step, to tell a stall from a refusal

    def __str__(self) -> str:
        return (f"page={self.page} health={self.health} ws={self.websocket} session={self.session_id} "
                f"upload={self.upload} {self.upload_body[:80]!r} uploads={self.uploads} error={self.error} resent={self.resent} "
                f"seconds={self.seconds}")


def tls_context(cafile: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


class StreamlitClient:
    """One fresh browser-like session against the app at `app_url` (ending in '/')."""

    def __init__(self, app_url: str, cafile: str | None = None, origin: str | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 20):
        self.app_url = app_url
        self.cafile = cafile
        parts = urlsplit(app_url)
        self.origin = origin or f"{parts.scheme}://{parts.netloc}"
        self.timeout = timeout
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy from the environment: straight to the master
        self.http.verify = cafile if cafile else True
        self.http.headers.update(headers or {})
        self.extra_headers = dict(headers or {})
        self.result = Session()
        self._ws = None
        self._loop = asyncio.new_event_loop()

    def _run(self, coro, timeout: float):
        """Run one step of the WebSocket on the client's loop, bounded by timeout."""
        return self._loop.run_until_complete(asyncio.wait_for(coro, timeout))

    # -- steps -----------------------------------------------------------
    def load(self) -> None:
        """The page and the health endpoint, as the frontend fetches them (cookies kept)."""
        self.result.page = self.http.get(self.app_url, timeout=self.timeout).status_code
        self.result.health = self._get_reused(self.app_url + "_stcore/health").status_code

    def _get_reused(self, url: str) -> requests.Response:
        """A GET on the kept-alive connection an earlier request came on. The
        server may close that idle connection just as the request leaves: Nginx's
        old workers close their idle keep-alive connections on every reload. A
        browser then sends the request again on a new connection (RFC 9112,
        9.3.1), and so does this client, once, counting it in `resent`. Any other
        failure, a second one, and a fresh connection's failure are not resent."""
        try:
            return self.http.get(url, timeout=self.timeout)
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.ConnectTimeout) or not closed_without_answer(exc):
                raise
        self.result.resent += 1
        return self.http.get(url, timeout=self.timeout)

    def connect(self) -> None:
        parts = urlsplit(self.app_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}{parts.path}_stcore/stream"
        # The cookies a browser would send with the upgrade: the jar decides by path and domain.
        cookie = get_cookie_header(self.http.cookies, requests.Request("GET", self.app_url + "_stcore/stream").prepare())
        headers = dict(self.extra_headers)
        if cookie:
            headers["Cookie"] = cookie
        xsrf = self.http.cookies.get(XSRF_COOKIE)
        try:
            self._ws = self._run(connect(
                url, origin=self.origin, subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"],
                additional_headers=headers, ssl=tls_context(self.cafile) if scheme == "wss" else None,
                proxy=None, compression=None, open_timeout=self.timeout, ping_interval=None,
                close_timeout=5, max_size=2**24, user_agent_header="streamlit-ops-e2e",
            ), self.timeout + 1)
            self.result.websocket = 101
        except InvalidStatus as exc:
            self.result.websocket = exc.response.status_code
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.result.error = f"websocket: {exc!r}"

    def run_script(self) -> None:
        """Ask for a script run, as the frontend does on load, and read the answer:
        the session id from new_session and the text the script wrote."""
        if self._ws is None:
            return
        back = BackMsg()
        back.rerun_script.query_string = ""
        try:
            self._run(self._ws.send(back.SerializeToString()), self.timeout)
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                raw = self._run(self._ws.recv(), max(0.1, deadline - time.monotonic()))
                if isinstance(raw, str):
                    continue
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    self.result.session_id = msg.new_session.initialize.session_id
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    self.result.texts.append(_element_text(msg.delta.new_element))
                elif kind == "script_finished":
                    return
            self.result.error = "script did not finish in time"
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.result.error = f"run: {exc!r}"

    def upload(self, size: int, session_id: str | None = None) -> None:
        """PUT a file of `size` bytes to <path>_stcore/upload_file/<session>/<file id>."""
        session_id = session_id or self.result.session_id or "no-session"
        url = f"{self.app_url}_stcore/upload_file/{session_id}/{uuid.uuid4()}"
        headers = {"X-Xsrftoken": self.http.cookies.get(XSRF_COOKIE) or "", "Origin": self.origin}
        try:
            resp = self.http.put(url, headers=headers, files={"file": ("payload.bin", bytes(size), "application/octet-stream")},
                                 timeout=max(self.timeout, 120))
            if all(status == 204 for status in self.result.uploads):
                self.result.upload_body = resp.text
            self.result.upload = resp.status_code
            self.result.uploads.append(resp.status_code)
        except requests.RequestException as exc:
            self.result.error = f"upload: {exc!r}"

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._run(self._ws.close(), 10)
            except (OSError, TimeoutError, WebSocketException):
                pass
            self._ws = None
        self._loop.close()
        self.http.close()

    # -- whole sessions ------------------------------------------------------
    def session(self, upload_size: int | None = None, uploads: int = 1) -> Session:
        """The whole session; with upload_size, `uploads` files one after another
        on the same kept-alive connection, so they reach the same Nginx worker."""
        steps = [self.load, self.connect, self.run_script]
        if upload_size is not None:
            steps.append(lambda: self.result.session_id and [self.upload(upload_size) for dummy in range(uploads)])
        try:
            for name, step in zip(("load", "connect", "run", "upload"), steps):
                started = time.monotonic()
                step()
                self.result.seconds[name] = round(time.monotonic() - started, 2)
        except requests.RequestException as exc:
            self.result.error = f"http: {exc!r}"
        finally:
            self.close()
        return self.result


# What a connection closed by the server before any answer raises, under
# requests' and urllib3's wrappers.
_CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


def closed_without_answer(exc: BaseException) -> bool:
    """Whether exc comes from a connection the server closed before it answered."""
    seen, todo = set(), [exc]
    while todo and len(seen) < 20:
        cur = todo.pop()
        if cur is None or id(cur) in seen or not isinstance(cur, BaseException):
            continue
        seen.add(id(cur))
        if isinstance(cur, _CLOSED):
            return True
        todo.extend([cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args])
    return False


def _element_text(element) -> str:
    kind = element.WhichOneof("type")
    body = getattr(getattr(element, kind, None), "body", None) if kind else None
    return body if isinstance(body, str) else ""


def fresh_session(app_url: str, cafile: str | None = None, upload_size: int | None = None, uploads: int = 1,
                  **kwargs) -> Session:
    return StreamlitClient(app_url, cafile=cafile, **kwargs).session(upload_size, uploads)


# The sticky checks and their round-robin control: fresh sessions, each with
# this many uploads on one kept-alive connection (test_sticky_uploads.py says why).
SESSIONS = 12
UPLOADS = 3


def count_uploads(url: str, cafile: str | None, sessions: int = SESSIONS, uploads: int = UPLOADS, size: int = 64 * 1024):
    """The answers to every upload of `sessions` fresh sessions (`uploads` each), and the sessions."""
    results = [fresh_session(url, cafile=cafile, upload_size=size, uploads=uploads) for dummy in range(sessions)]
    return Counter(status for r in results for status in r.uploads), results
