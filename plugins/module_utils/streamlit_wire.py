# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Speak to a Streamlit app the way its browser frontend does, with the
standard library only: HTTP/1.1 requests with a cookie jar, the WebSocket of
``<path>_stcore/stream`` (RFC 6455 frames, pings answered) and the few
protobuf fields of Streamlit's BackMsg and ForwardMsg that a session needs.

Nothing here judges an answer; the callers (the doctor and websocket_probe)
do. Every read is bounded by a deadline.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import ssl
import struct
import time
import uuid
from urllib.parse import urljoin, urlsplit

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A handshake answer's status line and headers are far smaller.
MAX_HEAD = 65536
# The largest body read into memory (Streamlit's main JS bundle is ~4 MB).
MAX_BODY = 32 * 1024 * 1024
TLS_SCHEMES = ("https", "wss")
# OpenSSL's X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: the server sent one
# certificate that is its own issuer and no trusted CA signed it.
SELF_SIGNED_LEAF = 18
XSRF_COOKIE = "_streamlit_xsrf"
# What a current Chromium sends; a proxy may compress only for some.
BROWSER_ACCEPT_ENCODING = "gzip, deflate, br, zstd"
USER_AGENT = "streamlit-ops-doctor (like a browser)"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class WireError(OSError):
    """A transport failure: refused, reset, timed out, or not HTTP."""


class TLSFailure(WireError):
    """The TLS handshake itself failed (not the certificate's verification)."""


class Closed(WireError):
    """The WebSocket was closed, by a close frame or by the connection ending."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


# -- TLS -----------------------------------------------------------------------
def verifying_context(ca_path: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_path)
    # A WebSocket upgrade is HTTP/1.1 only, and so is this client.
    context.set_alpn_protocols(["http/1.1"])
    return context


def unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


def pinned_context(certificate: bytes) -> ssl.SSLContext:
    """Trust exactly this (DER) certificate; its name and dates are still checked."""
    # Not create_default_context: newer Pythons add VERIFY_X509_STRICT there,
    # which rejects many self-signed certificates for missing extensions.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(certificate))
    context.set_alpn_protocols(["http/1.1"])
    return context


class Target:
    """Where requests go: the URL's scheme, host and port, optionally reached
    at another address (like curl --resolve), and how TLS is checked."""

    def __init__(self, url: str, connect_address: str | None = None, timeout: float = 10,
                 validate_certs: bool = True, ca_path: str | None = None, allow_self_signed: bool = False):
        parts = urlsplit(url)
        self.scheme = "https" if parts.scheme in TLS_SCHEMES else "http"
        self.hostname = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        self.netloc = parts.netloc.rpartition("@")[2]
        self.address = connect_address or self.hostname
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.allow_self_signed = allow_self_signed
        self.context = None
        # What resolve_tls() found: verified, self_signed, and the error when
        # verification failed.
        self.tls_facts: dict = {}

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    def raw_socket(self) -> socket.socket:
        return socket.create_connection((self.address, self.port), timeout=self.timeout)

    def resolve_tls(self) -> dict:
        """Decide once how every connection checks the certificate.

        With validate_certs, a certificate that fails verification raises
        ssl.SSLCertVerificationError, except a self-signed one with
        allow_self_signed, which is pinned (its name and dates still checked).
        Without validate_certs, verification is still tried, to report a
        self-signed or untrusted certificate, and then not enforced.
        """
        if not self.tls:
            self.tls_facts = {}
            return self.tls_facts
        try:
            self._handshake_only(verifying_context(self.ca_path))
            self.context = verifying_context(self.ca_path)
            self.tls_facts = {"verified": True, "self_signed": False}
        except ssl.SSLCertVerificationError as exc:
            self_signed = exc.verify_code == SELF_SIGNED_LEAF
            self.tls_facts = {"verified": False, "self_signed": self_signed, "error": exc.verify_message}
            if self.validate_certs and self_signed and self.allow_self_signed:
                self.context = pinned_context(self.peer_certificate())
                self._handshake_only(self.context)
                self.tls_facts["verified"] = True
            elif self.validate_certs:
                raise
            else:
                self.context = unverified_context()
        return self.tls_facts

    def _handshake_only(self, context: ssl.SSLContext) -> None:
        try:
            raw_sock = self.raw_socket()
        except OSError as exc:
            raise WireError(f"cannot connect to {self.address}:{self.port} ({exc})") from exc
        with raw_sock:
            try:
                with context.wrap_socket(raw_sock, server_hostname=self.hostname):
                    pass
            except ssl.SSLCertVerificationError:
                raise
            except (ssl.SSLError, OSError) as exc:
                raise TLSFailure(f"TLS handshake with {self.address}:{self.port} for {self.hostname} failed ({exc})") from exc

    def peer_certificate(self) -> bytes:
        """The server's certificate (DER), read without trusting it."""
        with self.raw_socket() as raw_sock:
            with unverified_context().wrap_socket(raw_sock, server_hostname=self.hostname) as sock:
                return sock.getpeercert(binary_form=True)

    def connect(self) -> socket.socket:
        sock = self.raw_socket()
        if not self.tls:
            return sock
        if self.context is None:
            self.resolve_tls()
        try:
            return self.context.wrap_socket(sock, server_hostname=self.hostname)
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise WireError(f"TLS handshake with {self.address}:{self.port} failed ({exc})") from exc


# -- HTTP ----------------------------------------------------------------------
class Response:
    def __init__(self, status: int, reason: str, headers: list, body: bytes, url: str):
        self.status = status
        self.reason = reason
        # (lower-case name, value) in order; Set-Cookie may repeat.
        self.header_list = headers
        self.headers = dict(headers)
        self.body = body
        self.url = url

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def all(self, name: str) -> list:
        return [value for key, value in self.header_list if key == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.header("location")


class _Connection(http.client.HTTPConnection):
    """http.client over a socket that Target opened (address, TLS, SNI)."""

    def __init__(self, target: Target):
        super().__init__(target.address, target.port, timeout=target.timeout)
        self._target = target

    def connect(self):
        self.sock = self._target.connect()


class Browser:
    """A cookie jar and the requests of one browser tab, each on a connection
    of its own, so each is a routing decision of its own at the proxy."""

    def __init__(self, target: Target, headers: dict | None = None):
        self.target = target
        self.cookies: dict = {}
        self.set_cookies: list = []  # every Set-Cookie seen, raw, for the report
        self.headers = {}
        self.responses: list = []
        # A Cookie header given (a login's session cookie) seeds the jar, so it
        # goes with every request alongside the cookies the answers set.
        for name, value in (headers or {}).items():
            if name.lower() == "cookie":
                for pair in value.split(";"):
                    key, sep, val = pair.strip().partition("=")
                    if sep and key:
                        self.cookies[key] = val
            else:
                self.headers[name] = value

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def _keep_cookies(self, response: Response) -> None:
        for raw in response.all("set-cookie"):
            self.set_cookies.append(raw)
            name, dummy, value = raw.split(";", 1)[0].partition("=")
            if name.strip():
                self.cookies[name.strip()] = value.strip()

    def request(self, method: str, url: str, headers: dict | None = None, body: bytes | None = None,
                read_limit: int = MAX_BODY) -> Response:
        parts = urlsplit(url)
        target_path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {"Host": self.target.netloc, "User-Agent": USER_AGENT, "Accept": "*/*",
                "Accept-Encoding": "identity"}
        sent.update(self.headers)
        if self.cookies:
            sent["Cookie"] = self.cookie_header()
        sent.update(headers or {})
        conn = _Connection(self.target)
        try:
            conn.request(method, target_path, body=body, headers=sent)
            answer = conn.getresponse()
            data = answer.read(read_limit)
            response = Response(answer.status, answer.reason,
                                [(name.lower(), value) for name, value in answer.getheaders()], data, url)
        except (OSError, http.client.HTTPException) as exc:
            raise WireError(f"{method} {target_path}: {type(exc).__name__} {exc}".rstrip()) from exc
        finally:
            conn.close()
        self._keep_cookies(response)
        self.responses.append(response)
        return response

    def get(self, url: str, **kwargs) -> Response:
        return self.request("GET", url, **kwargs)

    def follow(self, url: str, limit: int = 5, **kwargs) -> list:
        """GET url and the redirects after it on the same host, as a browser
        would: the answers in order (the last is not a redirect, or the limit)."""
        chain = [self.get(url, **kwargs)]
        while chain[-1].status in (301, 302, 303, 307, 308) and chain[-1].location and len(chain) <= limit:
            nxt = urljoin(chain[-1].url, chain[-1].location)
            parts = urlsplit(nxt)
            if parts.hostname != self.target.hostname or (parts.port or (443 if parts.scheme == "https" else 80)) != self.target.port:
                break
            if parts.scheme != self.target.scheme:
                break
            chain.append(self.get(nxt, **kwargs))
        return chain

    def upload(self, app_url: str, session_id: str, size: int, origin: str) -> Response:
        """PUT a file of `size` bytes as st.file_uploader does, with the XSRF token."""
        boundary = uuid.uuid4().hex
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doctor.bin\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        body = head + bytes(size) + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Origin": origin,
                   "X-Xsrftoken": self.cookies.get(XSRF_COOKIE, "")}
        return self.request("PUT", f"{app_url}_stcore/upload_file/{session_id}/{uuid.uuid4()}", headers=headers,
                            body=body, read_limit=65536)


# -- WebSocket -------------------------------------------------------------------
def expected_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def parse_head(raw: bytes) -> tuple:
    """(status, {lower-case name: value}) of an HTTP answer's head."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1")
    status_line, *header_lines = head.split("\r\n")
    fields = status_line.split(" ", 2)
    status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
    headers = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


def upgrade_request(target: Target, path: str, key: str, origin: str | None, cookie: str = "",
                    subprotocols: tuple = (), headers: dict | None = None) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {target.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"User-Agent: {USER_AGENT}",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Handshake:
    """What the server answered to an upgrade request."""

    def __init__(self, status: int, headers: dict, upgraded: bool, body: bytes = b"", error: str = "",
                 socket_=None, rest: bytes = b"", seconds: float = 0.0, exception: Exception | None = None):
        self.status = status  # 0: no HTTP answer (refused, reset, timed out)
        self.headers = headers
        self.upgraded = upgraded  # 101 with the matching Sec-WebSocket-Accept
        self.body = body  # the start of a refusal's body, to tell its sender
        self.error = error
        self.socket = socket_
        self.rest = rest
        self.seconds = seconds
        self.exception = exception  # why no HTTP answer came


def handshake(target: Target, path: str, origin: str | None, cookie: str = "", subprotocols: tuple = (),
              headers: dict | None = None, keep_open: bool = False) -> Handshake:
    key = base64.b64encode(os.urandom(16)).decode()
    started = time.monotonic()
    try:
        sock = target.connect()
    except OSError as exc:
        return Handshake(0, {}, False, error=f"cannot connect to {target.address}:{target.port} ({exc})", exception=exc)
    try:
        sock.settimeout(target.timeout)
        sock.sendall(upgrade_request(target, path, key, origin, cookie, subprotocols, headers))
        data = b""
        while b"\r\n\r\n" not in data and len(data) < MAX_HEAD:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        kind = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else str(exc)
        return Handshake(0, {}, False, error=f"no answer to the upgrade ({kind})",
                         seconds=time.monotonic() - started, exception=exc)
    seconds = time.monotonic() - started
    if not data:
        sock.close()
        return Handshake(0, {}, False, error="the connection closed without an answer", seconds=seconds)
    status, answer_headers = parse_head(data)
    rest = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    upgraded = status == 101 and answer_headers.get("sec-websocket-accept") == expected_accept(key)
    if upgraded and keep_open:
        return Handshake(status, answer_headers, True, socket_=sock, rest=rest, seconds=seconds)
    sock.close()
    return Handshake(status, answer_headers, upgraded, body=rest[:2048], seconds=seconds)


class WebSocket:
    """A client end of an upgraded connection: masked frames out, pings answered."""

    def __init__(self, sock, rest: bytes = b""):
        self.sock = sock
        self.buffer = rest
        self.pings = 0

    def send(self, payload: bytes, opcode: int = OP_BINARY) -> None:
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(header + mask + masked)
        except (OSError, ssl.SSLError) as exc:
            raise Closed(f"send failed ({exc})") from exc

    def _read(self, count: int, deadline: float) -> bytes:
        while len(self.buffer) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame before the deadline")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError) as exc:
                raise TimeoutError("no frame before the deadline") from exc
            except (OSError, ssl.SSLError) as exc:
                raise Closed(f"connection lost ({exc})") from exc
            if not chunk:
                raise Closed("the connection closed without a close frame")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _frame(self, deadline: float) -> tuple:
        first, second = self._read(2, deadline)
        opcode, fin = first & 0x0F, bool(first & 0x80)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read(2, deadline))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8, deadline))[0]
        mask = self._read(4, deadline) if second & 0x80 else b""
        payload = self._read(length, deadline)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return opcode, fin, payload

    def receive(self, deadline: float) -> bytes:
        """The next data message; pings are answered on the way, as a browser does.

        Raises TimeoutError at the deadline and Closed when the server or
        something between closes the connection."""
        message, kind = b"", None
        while True:
            opcode, fin, payload = self._frame(deadline)
            if opcode == OP_PING:
                self.pings += 1
                self.send(payload, OP_PONG)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(f"closed by the other end (code {code}{', ' + payload[2:].decode('utf-8', 'replace') if len(payload) > 2 else ''})", code)
            if opcode in (OP_TEXT, OP_BINARY):
                message, kind = payload, opcode
            elif opcode == OP_CONT and kind is not None:
                message += payload
            if fin and kind is not None:
                return message

    def close(self) -> None:
        try:
            self.send(struct.pack("!H", 1000), OP_CLOSE)
        except Closed:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


# -- Streamlit's protobuf messages (only the fields a session needs) -------------
# BackMsg.rerun_script (field 11) with an empty ClientState: what the
# frontend sends to run the script when a page opens.
RERUN_SCRIPT = bytes([(11 << 3) | 2, 0])
# ForwardMsg fields and the NewSession.initialize.session_id path.
FWD_NEW_SESSION, FWD_DELTA, FWD_SCRIPT_FINISHED = 4, 5, 6
NEW_SESSION_INITIALIZE, INITIALIZE_SESSION_ID = 1, 6
SCRIPT_FINISHED_NAMES = {0: "finished", 1: "compile error", 2: "stopped early for a rerun", 3: "fragment finished"}


def _varint(data: bytes, pos: int) -> tuple:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes):
    """(number, value) of each top-level field: int for varints, bytes for
    length-delimited fields; fixed-width fields are skipped."""
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            yield number, data[pos:pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def forward_msg(data: bytes) -> dict:
    """The kind of a ForwardMsg, with the session id of new_session and the
    status of script_finished."""
    summary = {"kind": "other"}
    for number, value in fields(data):
        if number == FWD_NEW_SESSION and isinstance(value, bytes):
            summary["kind"] = "new_session"
            for inner, init in fields(value):
                if inner == NEW_SESSION_INITIALIZE and isinstance(init, bytes):
                    for leaf, session_id in fields(init):
                        if leaf == INITIALIZE_SESSION_ID and isinstance(session_id, bytes):
                            summary["session_id"] = session_id.decode("utf-8", "replace")
        elif number == FWD_DELTA:
            summary["kind"] = "delta"
        elif number == FWD_SCRIPT_FINISHED and isinstance(value, int):
            summary["kind"] = "script_finished"
            summary["status"] = SCRIPT_FINISHED_NAMES.get(value, str(value))
    return summary


class Session:
    """One Streamlit session as a fresh browser tab opens it: the page, the
    health endpoint (which sets the XSRF cookie), the WebSocket with the
    page's cookies, one script run."""

    def __init__(self, target: Target, app_url: str, origin: str | None = None, headers: dict | None = None):
        self.target = target
        self.app_url = app_url
        self.origin = origin or target.origin
        self.browser = Browser(target, headers)
        self.extra_headers = self.browser.headers
        self.ws = None
        self.handshake = None
        self.session_id = None
        self.messages: list = []
        self.finished = None
        self.error = ""

    @property
    def stream_path(self) -> str:
        return urlsplit(self.app_url).path + "_stcore/stream"

    def load(self) -> tuple:
        return self.browser.get(self.app_url), self.browser.get(self.app_url + "_stcore/health")

    def connect(self, origin: str | None = None) -> Handshake:
        xsrf = self.browser.cookies.get(XSRF_COOKIE)
        self.handshake = handshake(self.target, self.stream_path, origin or self.origin, self.browser.cookie_header(),
                                   ("streamlit", xsrf) if xsrf else ("streamlit",), self.extra_headers, keep_open=True)
        if self.handshake.upgraded:
            self.ws = WebSocket(self.handshake.socket, self.handshake.rest)
        return self.handshake

    def run_script(self, seconds: float, until: str = "finished") -> bool:
        """Ask for a script run and read its messages: True once `until` came,
        or once the session started and its messages flowed when the deadline
        passed with the script still running (a slow script is not a fault).

        until: "finished" (script_finished), "session" (new_session, enough
        to upload) or "message" (any message, for a session that exists)."""
        if self.ws is None:
            return False
        deadline = time.monotonic() + seconds
        try:
            self.ws.send(RERUN_SCRIPT)
            while True:
                summary = forward_msg(self.ws.receive(deadline))
                self.messages.append(summary["kind"])
                if summary.get("session_id"):
                    self.session_id = summary["session_id"]
                if until == "message" or (until == "session" and self.session_id):
                    return True
                if summary["kind"] == "script_finished":
                    self.finished = summary["status"]
                    if summary["status"] != "stopped early for a rerun":
                        return True
        except TimeoutError:
            if self.session_id and until != "message":
                self.finished = f"still running after {seconds:.0f} s"
                return True
            self.error = f"no answer to a rerun within {seconds:.0f} s"
        except Closed as exc:
            self.error = str(exc)
        except ValueError as exc:
            self.error = f"not a Streamlit message ({exc})"
        return False

    def idle(self, seconds: float) -> str:
        """Stay connected without sending for `seconds`, answering pings: '' when
        the socket survived, otherwise what ended it."""
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        while time.monotonic() < deadline:
            try:
                self.ws.receive(deadline)
            except TimeoutError:
                return ""
            except Closed as exc:
                return f"closed after {time.monotonic() - started:.0f} s idle ({exc})"
        return ""

    def upload(self, size: int) -> Response:
        return self.browser.upload(self.app_url, self.session_id or "no-session", size, self.origin)

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None
