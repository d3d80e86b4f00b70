"""A minimal Streamlit 1.67 client: one real session over the app's WebSocket.

What the browser does, read from Streamlit 1.67.0 (web/server/starlette/
starlette_websocket.py, runtime/app_session.py and the frontend bundle):

- It connects to ``<path>_stcore/stream`` offering the subprotocols
  ``["streamlit", <_streamlit_xsrf cookie or "PLACEHOLDER_AUTH_TOKEN">,
  <last session id, on reconnect>]``. The server accepts the first entry and
  reads the second and third as tokens. The XSRF token is checked only before
  auth cookies are parsed, so an app without auth needs no cookie; a fresh
  browser without one sends the placeholder, and so does this client.
- No Origin header is accepted as a non-browser client (same-origin and
  ``server.allowedHosts`` checks apply only when the headers are there).
- Nothing runs until the client sends a ``BackMsg`` with ``rerun_script``
  (a ``ClientState``). Each run then sends ``new_session`` (tagged with the
  run's ``metadata.run.script_run_id``), ``session_status_changed``, the
  ``delta`` messages, ``script_finished`` (tagged with the same run id) and a
  last ``session_status_changed``. One ForwardMsg per binary frame.
- A session lives as long as its socket; the server pings every 30 s and
  the client library answers. A closed session is kept for
  ``server.disconnectedSessionTTL`` (120 s) before it is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import time

from websockets.asyncio.client import connect

try:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
except ImportError:
    # streamlit installed with --no-deps (its pb2 modules need only protobuf):
    # load streamlit.proto without running streamlit/__init__.py.
    import importlib.util
    import sys
    import types

    _spec = importlib.util.find_spec("streamlit")
    if _spec is None or not _spec.submodule_search_locations:
        raise
    _pkg = types.ModuleType("streamlit")
    _pkg.__path__ = list(_spec.submodule_search_locations)
    sys.modules["streamlit"] = _pkg
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

SUBPROTOCOLS = ["streamlit", "PLACEHOLDER_AUTH_TOKEN"]


class SessionError(RuntimeError):
    """The server did not behave like a Streamlit 1.67 app session."""


def base_url(ip: str, port: int, path: str, scheme: str = "http") -> str:
    """URL of the app's path on one host (by IP)."""
    return f"{scheme}://{ip}:{port}{path}"


def targets(fleet: dict) -> dict[str, dict]:
    """The two ways to the app: through the master and directly to the first child."""
    app = fleet["app"]
    master = fleet["master"]
    child = fleet["children"][0]
    return {
        "master": {"ip": master["ip"], "port": int(master.get("port", 80)), "path": app["path"]},
        "direct": {"ip": child["ip"], "port": int(app["port"]), "path": app["path"]},
    }


class StreamlitSession:
    """One app session: open, rerun the script any number of times, close."""

    def __init__(self, ip: str, port: int, path: str, text: str | None = None, timeout: float = 30.0):
        self.url = base_url(ip, port, path, "ws") + "_stcore/stream"
        self.page_url = base_url(ip, port, path)
        self.text = text.encode() if text else None
        self.timeout = timeout
        self.ws = None
        self.session_id: str | None = None
        self.counts: collections.Counter = collections.Counter()
        self.bytes_in = 0
        self.saw_text = False

    def _client_state_msg(self) -> bytes:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.page_script_hash = ""
        state.page_name = ""
        state.widget_states.SetInParent()
        state.context_info.timezone = "UTC"
        state.context_info.timezone_offset = 0
        state.context_info.locale = "en-US"
        state.context_info.url = self.page_url
        return msg.SerializeToString()

    async def open(self) -> float:
        """Connect and run the script once; return seconds until script_finished."""
        self.ws = await asyncio.wait_for(
            connect(
                self.url,
                subprotocols=SUBPROTOCOLS,
                # Like the browser: no client pings (the server pings), no size cap,
                # no proxy from the environment.
                ping_interval=None,
                max_size=None,
                proxy=None,
                open_timeout=self.timeout,
            ),
            self.timeout,
        )
        if self.ws.subprotocol != "streamlit":
            raise SessionError(f"server chose subprotocol {self.ws.subprotocol!r}")
        return await self.rerun()

    async def rerun(self) -> float:
        """Send rerun_script and wait for this run's script_finished; return seconds."""
        payload = self._client_state_msg()
        deadline = time.monotonic() + self.timeout
        run_id: str | None = None
        started = time.perf_counter()
        await self.ws.send(payload)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError(f"no script_finished within {self.timeout} s from {self.url}")
            data = await asyncio.wait_for(self.ws.recv(), left)
            if not isinstance(data, bytes):
                raise SessionError("text frame on the stream; Streamlit sends only binary frames")
            fmsg = ForwardMsg.FromString(data)
            kind = fmsg.WhichOneof("type")
            self.counts[kind] += 1
            self.bytes_in += len(data)
            if kind == "new_session":
                run_id = fmsg.metadata.run.script_run_id
                if fmsg.new_session.initialize.session_id:
                    self.session_id = fmsg.new_session.initialize.session_id
            elif kind == "delta":
                if self.text and self.text in data:
                    self.saw_text = True
            elif kind == "script_finished":
                # A script_finished before our run's new_session is the tail of an
                # earlier run; one for another run id is not ours either.
                if run_id is None or fmsg.metadata.run.script_run_id not in ("", run_id):
                    continue
                status = fmsg.script_finished
                if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                    elapsed = time.perf_counter() - started
                    await self._drain_until_idle(deadline)
                    return elapsed
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    run_id = None
                    continue
                raise SessionError(f"script finished with status {status} (compile error)")

    async def _drain_until_idle(self, deadline: float) -> None:
        """Read the run's tail, the session_status_changed that says the script stopped.

        Not part of the round trip; it keeps the next rerun from starting while
        the server still sends this one's last message.
        """
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                return
            fmsg = ForwardMsg.FromString(data)
            kind = fmsg.WhichOneof("type")
            self.counts[kind] += 1
            self.bytes_in += len(data)
            if kind == "session_status_changed" and not fmsg.session_status_changed.script_is_running:
                return

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), self.timeout)
            finally:
                self.ws = None


async def _probe(ip: str, port: int, path: str, text: str | None) -> dict:
    session = StreamlitSession(ip, port, path, text)
    try:
        first = await session.open()
        again = await session.rerun()
    finally:
        await session.close()
    return {
        "url": session.url,
        "session_id": session.session_id,
        "first_run_s": first,
        "rerun_s": again,
        "saw_text": session.saw_text,
        "messages": dict(session.counts),
        "bytes_in": session.bytes_in,
    }


def median(values):
    return statistics.median(values) if values else None


def ratio(value, floor):
    return value / floor if value is not None and floor else None


def row(metric, value, unit, floor_name, floor=None, goal=None, limit=None, smoke=False):
    """One result row; met is judged against limit (value/floor) only outside smoke runs."""
    r = ratio(value, floor)
    met = None if smoke or limit is None or r is None else r <= limit
    return {"metric": metric, "value": value, "unit": unit, "floor_name": floor_name,
            "floor": floor, "ratio": r, "goal": goal, "met": met}


def cli(run, description: str) -> None:
    """`python bench/<module>.py --fleet FLEET.json [--smoke]`: print run()'s dict as JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--fleet", required=True, help="fleet JSON file (see bench/run)")
    parser.add_argument("--smoke", action="store_true", help="tiny counts, judges nothing")
    args = parser.parse_args()
    with open(args.fleet, encoding="utf-8") as handle:
        fleet = json.load(handle)
    print(json.dumps(run(fleet, smoke=args.smoke), indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Open one Streamlit session, rerun once, print what came back.")
    parser.add_argument("--ip", required=True)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--path", default="/streamlitApp/")
    parser.add_argument("--text")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_probe(args.ip, args.port, args.path, args.text)), indent=2))
