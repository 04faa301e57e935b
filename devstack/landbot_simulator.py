"""A Landbot API simulator: a real HTTP server that behaves like the Landbot API facts this
project relies on (auth, trailing slashes, field types, 10 requests/s per token with 429s),
for tests, the local stack and chaos tests. Standard library only.

Run alone (prints its URL, serves until Ctrl-C):

    python -m devstack.landbot_simulator --port 8081 --token X --customer 42
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import dataclasses
import json
import math
import random
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

MAX_BODY_BYTES = 100 * 1024
MAX_DRAIN_BYTES = 10 * 1024 * 1024  # oversized bodies up to this are read and thrown away
MAX_NODE_LENGTH = 64
FIELD_TYPES = ("string", "integer", "float", "boolean", "date", "datetime", "object")
DROPPED = 0  # Call.status of a dropped call: no response was ever written

_FIELD_NAME = re.compile(r"[a-z0-9_]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*")
# Ids are plain digits (like Django's <int:...> converter): anything else is no route at all.
_FIELD_PATH = re.compile(r"/v1/customers/(?P<customer>[0-9]+)/fields/(?P<name>[^/]+)/")
_ASSIGN_PATH = re.compile(r"/v1/customers/(?P<customer>[0-9]+)/assign_bot/(?P<bot>[0-9]+)/")
_CUSTOMER_PATH = re.compile(r"/v1/customers/(?P<customer>[0-9]+)/")
# Not Landbot's: where a person looks at a customer as the simulator holds it, with no token
# (the local stack never prints the agent token). Not recorded as a call, not rate limited.
INSPECT_PREFIX = "/_simulator/customers/"
_INSPECT_PATH = re.compile(re.escape(INSPECT_PREFIX) + r"(?P<customer>[0-9]+)/?")

_NOT_FOUND = {"detail": "Not found."}
_NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}
_INVALID_TOKEN = {"detail": "Invalid token."}
_RATE_LIMITED = {"errors": {"rate": ["Too many requests"]}}
_SERVER_ERROR = {"errors": {"server": ["Internal server error"]}}


@dataclass(frozen=True)
class Call:
    """One request as the simulator received it."""

    method: str
    path: str
    body: Any  # parsed JSON, or None when empty or not JSON
    status: int  # DROPPED (0) when the connection was closed without a response
    time: float  # time.monotonic() when the request was handled
    token: str | None  # the credential after "Token ", None for a missing header or other scheme
    fault: str | None  # "error", "throttle", "slow", "drop", "lost" or None
    # The request changed what the simulator holds (a field written, a jump made), even if
    # its answer came too late or never: where the customer really is.
    applied: bool = False

    @property
    def customer_id(self) -> int | None:
        """The customer the call's path names, if any."""
        found = _CUSTOMER_PATH.match(self.path)
        return int(found["customer"]) if found else None


FAULT_DECK = 200


@dataclass
class Faults:
    """Fault injection for API calls; the rates are exclusive fractions of the calls. A
    "drop" closes the connection before the request is applied, a "lost" one after: the
    client cannot tell them apart, Call.applied can.

    The fractions are exact over every FAULT_DECK calls (shuffled within them), so a run that
    asks for a fifth of the calls to fail gets a fifth, not a fifth give or take chance."""

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 5.0
    drop_rate: float = 0.0
    lost_rate: float = 0.0
    delay: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        rates = (
            self.error_rate,
            self.throttle_rate,
            self.slow_rate,
            self.drop_rate,
            self.lost_rate,
        )
        if any(not 0.0 <= rate <= 1.0 for rate in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError("fault rates must be within [0, 1] and add up to at most 1")
        if self.slow_seconds < 0 or self.delay < 0:
            raise ValueError("slow_seconds and delay must not be negative")


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    fault: str | None = None
    sleep: float = 0.0
    applied: bool = False


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: Message
    body: bytes
    length: int | None  # declared Content-Length; None when missing framing (chunked, invalid)


@dataclass(frozen=True)
class _Route:
    kind: str  # "field", "assign" or "customer"
    methods: tuple[str, ...]
    customer_id: int
    name: str = ""
    bot_id: int = 0


def _errors(status: int, field: str, message: str) -> _Reply:
    return _Reply(status, {"errors": {field: [message]}})


def _route(path: str) -> _Route | None:
    path = path.split("?", 1)[0]
    if match := _FIELD_PATH.fullmatch(path):
        return _Route("field", ("PUT", "POST"), int(match["customer"]), name=match["name"])
    if match := _ASSIGN_PATH.fullmatch(path):
        return _Route("assign", ("PUT",), int(match["customer"]), bot_id=int(match["bot"]))
    if match := _CUSTOMER_PATH.fullmatch(path):
        return _Route("customer", ("GET",), int(match["customer"]))
    return None


def _presented_token(header: str | None) -> str | None:
    parts = (header or "").split()
    # DRF's TokenAuthentication compares the keyword case-insensitively.
    if len(parts) == 2 and parts[0].lower() == "token":
        return parts[1]
    return None


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 would otherwise sneak in as inf
        raise ValueError(text)
    return number


def _loads(raw: bytes) -> Any:
    """Strict JSON: NaN, Infinity and overflowing numbers are invalid, as in real JSON."""
    return json.loads(raw, parse_constant=_finite_float, parse_float=_finite_float)


def _parse_for_record(raw: bytes) -> Any:
    try:
        return _loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None


def _fits(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if not isinstance(value, str):
        return False
    try:
        if kind == "date":
            return _DATE.fullmatch(value) is not None and bool(date.fromisoformat(value))
        return _DATETIME.fullmatch(value) is not None and bool(datetime.fromisoformat(value))
    except ValueError:
        return False


def _field_errors(name: str, body: dict[str, Any]) -> dict[str, list[str]]:
    """Validation errors of one field write, keyed by the offending part (empty when valid)."""
    errors: dict[str, list[str]] = {}
    if not _FIELD_NAME.fullmatch(name):
        errors["name"] = ["Field names may contain only a-z, 0-9 and _"]
    kind = body.get("type")
    if kind is None:
        errors["type"] = ["This field is required."]
    elif kind not in FIELD_TYPES:
        errors["type"] = [f"{json.dumps(kind)} is not a valid choice."]
    if "value" not in body:
        errors["value"] = ["This field is required."]
    elif kind in FIELD_TYPES and not _fits(kind, body["value"]):
        errors["value"] = [f"Not a valid {kind} value."]
    if not isinstance(body.get("extra", {}), dict):
        errors["extra"] = ["Expected a JSON object."]
    return errors


def _node_is_valid(node: Any) -> bool:
    # Block ids are short strings such as "Nkqgn6xkf"; a bot id or a sentence is a client bug.
    return (
        isinstance(node, str)
        and 0 < len(node) <= MAX_NODE_LENGTH
        and not any(char.isspace() for char in node)
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: LandbotSimulator) -> None:
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can stall on a slow resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handlers blocked on idle keep-alive connections so nothing outlives stop()."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or went away is routine here (slow and drop faults).
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind its load balancer
    # Headers and body are written separately: with Nagle's algorithm on, every answer on a
    # kept-alive connection would wait for the client's delayed ACK (40 ms), which no real
    # HTTP server adds.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the local stack read calls(), not stderr

    def _serve(self) -> None:
        simulator = cast(_Server, self.server).simulator
        length = self._content_length()
        body = b""
        # Read (or drain) the body before answering: closing a socket with unread input makes
        # the kernel send a reset, and the client could lose the 413 it was about to read.
        readable = length is not None and length <= MAX_DRAIN_BYTES
        if readable and length:
            body = self.rfile.read(length)
            if length > MAX_BODY_BYTES:
                body = b""
        inspected = _INSPECT_PATH.fullmatch(self.path) if self.command == "GET" else None
        if inspected:
            reply = simulator._inspect(int(inspected["customer"]))
        else:
            reply = simulator._answer(_Request(self.command, self.path, self.headers, body, length))
        if reply.sleep and simulator._stopping.wait(reply.sleep):
            reply = _Reply(DROPPED)  # stopped while sleeping: the answer is never sent
        if reply.status == DROPPED or not readable:
            # An unread body would be parsed as the next request: the connection must go.
            self.close_connection = True
        if reply.status == DROPPED:
            return
        payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. timed out on a slow call)

    def _content_length(self) -> int | None:
        if self.headers.get("Transfer-Encoding"):
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return length if length >= 0 else None

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class LandbotSimulator:
    """Serves the two resume calls (Set: customer fields, Go: assign_bot) plus GET customer."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8081,
        tokens: Iterable[str] = ("sim-agent-token",),
        rate_limit: float = 10.0,
    ) -> None:
        if rate_limit <= 0:
            raise ValueError("rate_limit must be positive")
        self._host = host
        self._port = port
        self._tokens = frozenset(tokens)
        self._known_tokens = self._tokens  # every token ever accepted (peak_rate)
        self._rate_limit = rate_limit
        self._lock = threading.Lock()
        self._customers: dict[int, dict[str, Any]] = {}
        self._calls: list[Call] = []
        self._accepted: dict[str, collections.deque[float]] = {}
        self._faults = Faults()
        self._random = random.Random()  # noqa: S311 - fault injection, not a secret
        self._deck: list[str | None] = []
        self._script: dict[str, list[int | str]] = {"field": [], "assign": []}
        self.late_seconds = 1.0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL including the version, e.g. http://127.0.0.1:8081/v1/."""
        if self._server is not None:
            port = self._server.server_port
        elif self._port:
            port = self._port
        else:
            raise RuntimeError("port 0 picks a free port on start(): start the simulator first")
        # A wildcard bind is reached through loopback (a comparison, not a bind: hence noqa).
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host  # noqa: S104
        return f"http://{host}:{port}/v1/"

    def start(self) -> LandbotSimulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() returns within ~10 ms
            name="landbot-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping on slow faults or delays
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> LandbotSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state for tests ---------------------------------------------------------------------

    def add_customer(
        self, customer_id: int, fields: dict[str, dict[str, Any]] | None = None
    ) -> None:
        """Adds (or replaces) a customer; fields maps name -> {"type", "value", "extra"}."""
        stored: dict[str, dict[str, Any]] = {}
        for name, spec in (fields or {}).items():
            if errors := _field_errors(name, spec):
                raise ValueError(f"invalid field {name!r}: {errors}")
            stored[name] = self._field_record(name, spec)
        with self._lock:
            self._customers[customer_id] = {
                "id": customer_id,
                "fields": stored,
                "bot_id": None,
                "node": None,
                "launched": False,
            }

    def customer(self, customer_id: int) -> dict[str, Any]:
        """A copy of the customer: id, fields, and the bot_id/node/launch of the last jump."""
        with self._lock:
            return copy.deepcopy(self._customers[customer_id])

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        # Only the record: the rate limiter keeps its window, as the real API would.
        with self._lock:
            self._calls.clear()

    def answer_next(self, kind: str, *answers: int | str) -> None:
        """Script the next answers to field writes (`kind` "field") or jumps ("assign") made
        with a valid token: an error status whose body echoes the request (as some APIs do),
        or "late" (the normal answer, `late_seconds` late)."""
        with self._lock:
            self._script[kind] = list(answers)

    def set_tokens(self, *tokens: str) -> None:
        """Accept these agent tokens from now on, and no other: a revoked or rotated token
        (or, with none, a Landbot that answers 401 to every call until told otherwise)."""
        with self._lock:
            self._tokens = frozenset(tokens)
            self._known_tokens |= self._tokens

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = dataclasses.replace(faults)  # a copy: later edits don't race
            self._random = random.Random(faults.seed)  # noqa: S311 - repeatable faults
            self._deck = []

    def peak_rate(self, window: float = 1.0) -> int:
        """Most requests carrying one token within any `window` seconds (since the last
        reset_calls), counting those answered 429, 401 or faulted: what a client really sent.
        Only tokens accepted at some time count (not those of a test sending wrong ones)."""
        by_token: dict[str, list[float]] = collections.defaultdict(list)
        with self._lock:
            known = self._known_tokens
        for call in self.calls():
            if call.token in known:
                by_token[call.token].append(call.time)
        peak = 0
        for times in by_token.values():
            first = 0
            for last, moment in enumerate(times):
                while moment - times[first] >= window:
                    first += 1
                peak = max(peak, last - first + 1)
        return peak

    def inspect_url(self, customer_id: int) -> str:
        """Where a person sees the customer without a token (INSPECT_PREFIX)."""
        return f"{self.url.removesuffix('/v1/')}{INSPECT_PREFIX}{customer_id}/"

    # -- request handling (called by _Handler) -----------------------------------------------

    def _inspect(self, customer_id: int) -> _Reply:
        with self._lock:
            found = self._customers.get(customer_id)
            return _Reply(200, copy.deepcopy(found)) if found else _Reply(404, _NOT_FOUND)

    def _answer(self, request: _Request) -> _Reply:
        # One lock for decide + apply + record: calls() order and state always agree.
        with self._lock:
            now = time.monotonic()
            token = _presented_token(request.headers.get("Authorization"))
            reply = self._dispatch_scripted(request, token, now)
            reply.sleep += self._faults.delay
            self._calls.append(
                Call(
                    method=request.method,
                    path=request.path,
                    body=_parse_for_record(request.body),
                    status=reply.status,
                    time=now,
                    token=token,
                    fault=reply.fault,
                    applied=reply.applied,
                )
            )
            return reply

    def _dispatch_scripted(self, request: _Request, token: str | None, now: float) -> _Reply:
        route = _route(request.path)
        script = self._script.get(route.kind) if route else None
        if not script or token not in self._tokens:
            return self._dispatch(request, token, now)
        answer = script.pop(0)
        if answer == "late":
            reply = self._dispatch(request, token, now)
            reply.sleep = self.late_seconds
            return reply
        echoed = request.body.decode(errors="replace")
        return _Reply(
            int(answer), {"detail": f"Cannot process {echoed}", "errors": {"value": [echoed]}}
        )

    def _dispatch(self, request: _Request, token: str | None, now: float) -> _Reply:
        if not request.headers.get("Authorization"):
            return _Reply(401, _NO_CREDENTIALS, {"WWW-Authenticate": "Token"})
        if token is None or token not in self._tokens:
            return _Reply(401, _INVALID_TOKEN, {"WWW-Authenticate": "Token"})
        if not self._admit(token, now):
            return _Reply(429, _RATE_LIMITED)  # deliberately no Retry-After, like the real API
        route = _route(request.path)
        if route is None:
            return _Reply(404, _NOT_FOUND)
        if request.method not in route.methods:
            message = f'Method "{request.method}" not allowed.'
            return _Reply(405, {"detail": message}, {"Allow": ", ".join(route.methods)})
        fault = self._draw_fault()
        if fault == "error":
            return _Reply(500, _SERVER_ERROR, fault=fault)
        if fault == "throttle":
            return _Reply(429, _RATE_LIMITED, fault=fault)
        if fault == "drop":
            return _Reply(DROPPED, fault=fault)
        reply = self._apply(route, request)
        reply.applied = route.kind != "customer" and reply.status < 300
        if fault == "lost":
            reply.status, reply.fault = DROPPED, fault
        if fault == "slow":
            # The work is done, only the answer is late: the client's retry must be idempotent.
            reply.fault, reply.sleep = fault, self._faults.slow_seconds
        return reply

    def _admit(self, token: str, now: float) -> bool:
        """Sliding one-second window over the accepted requests of one token."""
        accepted = self._accepted.setdefault(token, collections.deque())
        while accepted and now - accepted[0] >= 1.0:
            accepted.popleft()
        if len(accepted) >= self._rate_limit:
            return False
        accepted.append(now)
        return True

    def _draw_fault(self) -> str | None:
        if not self._deck:
            faults = self._faults
            deck: list[str | None] = []
            for name, rate in (
                ("error", faults.error_rate),
                ("throttle", faults.throttle_rate),
                ("drop", faults.drop_rate),
                ("lost", faults.lost_rate),
                ("slow", faults.slow_rate),
            ):
                deck += [name] * round(rate * FAULT_DECK)
            deck += [None] * (FAULT_DECK - len(deck))
            self._random.shuffle(deck)
            self._deck = deck
        return self._deck.pop()

    def _apply(self, route: _Route, request: _Request) -> _Reply:
        if request.length is None:
            return _Reply(411, {"detail": "Content-Length required."})
        if request.length > MAX_BODY_BYTES:
            return _errors(413, "body", f"Request body is larger than {MAX_BODY_BYTES} bytes")
        customer = self._customers.get(route.customer_id)
        if customer is None:
            return _Reply(404, _NOT_FOUND)
        if route.kind == "customer":
            return _Reply(200, {"customer": copy.deepcopy(customer)})
        body = self._json_body(request)
        if isinstance(body, _Reply):
            return body
        if route.kind == "field":
            return self._write_field(customer, route.name, request.method, body)
        return self._assign_bot(customer, route.bot_id, body)

    @staticmethod
    def _json_body(request: _Request) -> dict[str, Any] | _Reply:
        if not request.body:
            return {}  # assign_bot needs nothing; a field write then fails validation
        media_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _errors(400, "body", "Content-Type must be application/json")
        try:
            body = _loads(request.body)
        except (ValueError, RecursionError):
            return _errors(400, "body", "Invalid JSON")
        if not isinstance(body, dict):
            return _errors(400, "body", "Expected a JSON object")
        return body

    @staticmethod
    def _field_record(name: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "type": body["type"],
            "value": copy.deepcopy(body["value"]),
            "extra": copy.deepcopy(body.get("extra", {})),
        }

    def _write_field(
        self, customer: dict[str, Any], name: str, method: str, body: dict[str, Any]
    ) -> _Reply:
        if errors := _field_errors(name, body):
            return _Reply(422, {"errors": errors})
        fields = customer["fields"]
        # Not documented whether PUT upserts: simulate the strict case so clients must POST.
        if method == "PUT" and name not in fields:
            return _Reply(404, _NOT_FOUND)
        if method == "POST" and name in fields:
            return _errors(400, "name", "Field already exists")
        fields[name] = self._field_record(name, body)
        field = copy.deepcopy(fields[name])
        return _Reply(201 if method == "POST" else 200, {"success": True, "field": field})

    @staticmethod
    def _assign_bot(customer: dict[str, Any], bot_id: int, body: dict[str, Any]) -> _Reply:
        launch = body.get("launch", True)
        node = body.get("node")
        errors: dict[str, list[str]] = {}
        if not isinstance(launch, bool):
            errors["launch"] = ["Must be a boolean."]
        if node is not None and not _node_is_valid(node):
            errors["node"] = [f"Must be a block id: 1-{MAX_NODE_LENGTH} characters, no spaces."]
        if errors:
            return _Reply(422, {"errors": errors})
        customer.update(bot_id=bot_id, node=node, launched=launch)
        return _Reply(200, {"success": True})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a local Landbot API simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument(
        "--token", action="append", help="accepted agent token, repeatable (sim-agent-token)"
    )
    parser.add_argument("--rate-limit", type=float, default=10.0, help="requests/s per token")
    parser.add_argument(
        "--customer", type=int, action="append", default=[], help="customer id to create"
    )
    args = parser.parse_args(argv)
    simulator = LandbotSimulator(
        args.host, args.port, args.token or ("sim-agent-token",), args.rate_limit
    )
    for customer_id in args.customer:
        simulator.add_customer(customer_id)
    with simulator:
        print(simulator.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
