"""LandbotClient: the two Landbot API calls that resume a parked bot (Set, then Go)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

import requests

DEFAULT_API_URL = "https://api.landbot.io/v1/"
# Connect and read timeouts: a Landbot call that hangs must not eat the function's time.
DEFAULT_TIMEOUT = (3.05, 10.0)
_RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
_jitter = random.SystemRandom()


class LandbotError(Exception):
    """A Landbot call that did not succeed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, status: int | None, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class LandbotApi(Protocol):
    """The port the domain resumes bots through; LandbotClient is the real adapter."""

    def set_field(self, customer_id: int, field: str, value: dict[str, Any]) -> None: ...

    def assign_bot(self, customer_id: int, bot_id: int, node_id: str) -> None: ...


class LandbotClient:
    def __init__(
        self,
        token: Callable[[], str],
        base_url: str = DEFAULT_API_URL,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_attempts: int = 3,
        backoff: float = 0.2,
    ) -> None:
        self._token = token
        self._base_url = base_url.rstrip("/") + "/"
        self._session = session or requests.Session()
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff

    def set_field(self, customer_id: int, field: str, value: dict[str, Any]) -> None:
        """Write an object into a customer field, creating the field if the customer lacks it."""
        path = f"customers/{_segment(customer_id)}/fields/{_segment(field)}/"
        body = {"type": "object", "extra": {}, "value": value}
        try:
            self._call("set field", "PUT", path, body)
        except LandbotError as error:
            # PUT is documented to update; a field the customer does not have yet needs POST.
            if error.status != 404:
                raise
            self._call("create field", "POST", path, body)

    def assign_bot(self, customer_id: int, bot_id: int, node_id: str) -> None:
        """Jump the customer to a block of the bot and continue from there at once."""
        path = f"customers/{_segment(customer_id)}/assign_bot/{_segment(bot_id)}/"
        self._call("assign_bot", "PUT", path, {"launch": True, "node": node_id})

    def _call(self, operation: str, method: str, path: str, body: dict[str, Any]) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._send(operation, method, path, body)
                return
            except LandbotError as error:
                if not error.retryable or attempt == self._max_attempts:
                    raise
                # Full jitter: Landbot sends no Retry-After, and callers share one token.
                time.sleep(_jitter.uniform(0, self._backoff * 2 ** (attempt - 1)))

    def _send(self, operation: str, method: str, path: str, body: dict[str, Any]) -> None:
        try:
            response = self._session.request(
                method,
                self._base_url + path,
                json=body,
                headers={"Authorization": f"Token {self._token()}"},
                timeout=self._timeout,
            )
        except requests.Timeout as error:
            raise LandbotError(f"{operation} timed out", status=None, retryable=True) from error
        except requests.ConnectionError as error:
            raise LandbotError(
                f"{operation}: connection failed", status=None, retryable=True
            ) from error
        if response.status_code < 300:
            return
        raise LandbotError(
            f"{operation} answered {response.status_code}: {_error_message(response)}",
            status=response.status_code,
            retryable=response.status_code in _RETRYABLE_STATUSES,
        )


def _segment(value: int | str) -> str:
    # Ids are validated before they get here; quoting is the second line of defence.
    return quote(str(value), safe="")


def _error_message(response: requests.Response) -> str:
    """Landbot's own words: {"errors": {field: [messages]}} or {"detail": message}."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "no body"
    if isinstance(body, dict):
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
        errors = body.get("errors")
        if isinstance(errors, dict):
            return "; ".join(
                f"{name}: {' '.join(map(str, words)) if isinstance(words, list) else words}"
                for name, words in errors.items()
            )[:300]
    return response.reason or "unexpected body"
