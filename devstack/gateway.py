"""A local HTTP API: turns HTTP requests into API Gateway (HTTP API, payload 2.0) events."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devstack.lambdas import ContainerPool
from devstack.openapi import DOCUMENT
from devstack.template import load_template

# API Gateway's own limit for an HTTP API request body.
MAX_BODY_BYTES = 10 * 1024 * 1024


class Route:
    def __init__(self, method: str, path: str) -> None:
        self.method = method.upper()
        self.key = f"{self.method} {path}"
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        self._regex = re.compile(f"^{pattern}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self._regex.match(path) if method == self.method else None
        return found.groupdict() if found else None


def routes_of(logical_id: str) -> list[Route]:
    """The HttpApi events of a function, as the template declares them."""
    events = load_template()["Resources"][logical_id]["Properties"].get("Events", {})
    return [
        Route(spec["Properties"]["Method"], spec["Properties"]["Path"])
        for spec in events.values()
        if spec["Type"] == "HttpApi"
    ]


def http_api_event(
    route: Route, params: dict[str, str], method: str, target: str, headers: Any, body: bytes
) -> dict[str, Any]:
    url = urlsplit(target)
    merged: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()  # HTTP APIs lower-case header names and join repeats with commas
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": merged.get("host", "127.0.0.1"),
            "http": {
                "method": method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.key,
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if url.query:
        event["queryStringParameters"] = dict(parse_qsl(url.query, keep_blank_values=True))
    if params:
        event["pathParameters"] = params
    if body:
        try:
            event["body"] = body.decode()
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


class Gateway:
    def __init__(self, function: ContainerPool, host: str = "127.0.0.1", port: int = 3000) -> None:
        self.function = function
        self.routes = routes_of(function.logical_id)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms wait for a delayed ACK per answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                gateway.serve(self)

            def __getattr__(self, name: str) -> Any:
                # Every method (QUERY, TRACE, ...): without a route it is a 404, as on AWS.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> Gateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            return _reply(request, 413, {"message": "Request Entity Too Large"})
        body = request.rfile.read(length) if length else b""
        path = urlsplit(request.path).path
        if (request.command, path) == ("GET", "/openapi.json"):
            # The API's description, served here and not by the function: not deployed.
            return _send(request, 200, DOCUMENT.read_bytes(), {"Content-Type": "application/json"})
        for route in self.routes:
            params = route.match(request.command, path)
            if params is not None:
                break
        else:
            return _reply(request, 404, {"message": "Not Found"})
        event = http_api_event(route, params, request.command, request.path, request.headers, body)
        try:
            response = self.function.invoke(event)
        except Exception:
            return _reply(request, 500, {"message": "Internal Server Error"})
        raw = response.get("body") or ""
        payload = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        headers = {name: str(value) for name, value in (response.get("headers") or {}).items()}
        cookies = response.get("cookies") or []
        _send(request, int(response.get("statusCode", 200)), payload, headers, cookies)


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    _send(request, status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def _send(
    request: BaseHTTPRequestHandler,
    status: int,
    payload: bytes,
    headers: dict[str, str],
    cookies: list[str] | None = None,
) -> None:
    request.send_response(status)
    for name, value in headers.items():
        request.send_header(name, value)
    for cookie in cookies or []:
        request.send_header("Set-Cookie", cookie)
    request.send_header("Content-Length", str(len(payload)))
    request.end_headers()
    request.wfile.write(payload)
