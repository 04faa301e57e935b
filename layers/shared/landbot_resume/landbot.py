"""LandbotClient: the LandbotApi port (ports.py) over HTTP, the two Landbot API calls that
resume a parked bot (Set, then Go)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from landbot_resume.ports import LandbotError, LandbotRefusedToken, RateLimiter
from landbot_resume.token_gate import TokenGate

# Connect and read timeouts: a Landbot call that hangs must not eat the function's time.
CONNECT_TIMEOUT_SECONDS = 3.05
DEFAULT_TIMEOUT = (CONNECT_TIMEOUT_SECONDS, 10.0)
# Landbot's answers to a token it does not accept: the deployment's fault, not the customer's.
REFUSED_TOKEN_STATUSES = (401, 403)
_jitter = random.SystemRandom()


class LandbotClient:
    """One HTTP session for the container's life; retries with backoff and full jitter.

    `deadline` (epoch seconds) bounds retries, waits for the rate limiter and timeouts; the
    handler sets it from the invocation's remaining time.

    When Landbot refuses the token, `fresh_token` (the secret read again, bypassing any
    cache) is tried once before LandbotRefusedToken is raised; `gate` keeps the container's
    other calls from going out meanwhile (token_gate.py).
    """

    def __init__(
        self,
        token: Callable[[], str],
        base_url: str,
        *,
        fresh_token: Callable[[], str] | None = None,
        gate: TokenGate | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_attempts: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 3.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._token = token
        self._fresh_token = fresh_token
        self._gate = gate
        self._base_url = base_url.rstrip("/") + "/"
        self._session = session or requests.Session()
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._limiter = limiter
        self.deadline = float("inf")

    def set_field(self, customer_id: int, field: str, value: dict[str, Any]) -> None:
        """Write an object into a customer field, creating the field if the customer lacks it.

        Writing the same value again changes nothing, so every failure worth retrying is.
        """
        path = f"customers/{_segment(customer_id)}/fields/{_segment(field)}/"
        body = {"type": "object", "extra": {}, "value": value}
        try:
            self._call("set field", "PUT", path, body, repeatable=True)
        except LandbotError as error:
            # PUT is documented to update; a field the customer does not have yet needs POST.
            if error.status != 404:
                raise
            try:
                self._call("create field", "POST", path, body, repeatable=True)
            except LandbotError as create_error:
                # A retried POST whose first try did create the field: update it instead.
                if create_error.status != 400:
                    raise
                self._call("set field", "PUT", path, body, repeatable=True)

    def assign_bot(self, customer_id: int, bot_id: int, node_id: str) -> None:
        """Jump the customer to a block of the bot and continue from there at once.

        A jump is not repeatable: a second one replays the block to the customer. So it is
        retried only when Landbot surely did not act on it (429, 5xx, no connection); after
        an ambiguous failure the LandbotError says so and the caller decides.
        """
        path = f"customers/{_segment(customer_id)}/assign_bot/{_segment(bot_id)}/"
        self._call("assign_bot", "PUT", path, {"launch": True, "node": node_id}, repeatable=False)

    def _call(
        self, operation: str, method: str, path: str, body: dict[str, Any], *, repeatable: bool
    ) -> None:
        gate = self._gate
        if gate is not None:
            try:
                admitted = gate.enter(self.deadline - time.time())
            except TimeoutError as error:
                raise LandbotError(operation, "not sent: no time left", retryable=True) from error
            if not admitted:
                raise LandbotRefusedToken(
                    operation, "not sent: Landbot refused the agent token moments ago"
                )
        try:
            try:
                self._attempts(operation, method, path, body, repeatable, self._token)
            except LandbotRefusedToken:
                if self._fresh_token is None:
                    raise
                # The token may have been rotated since it was cached: read it afresh, once.
                fresh = self._fresh_token()
                self._attempts(operation, method, path, body, repeatable, lambda: fresh)
        except LandbotRefusedToken:
            if gate is not None:
                gate.refused()
            raise
        finally:
            if gate is not None:
                gate.leave()

    def _attempts(
        self,
        operation: str,
        method: str,
        path: str,
        body: dict[str, Any],
        repeatable: bool,
        token: Callable[[], str],
    ) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                self._send(operation, method, path, body, token)
                return
            except LandbotError as error:
                if not error.retryable or (error.ambiguous and not repeatable):
                    raise
                # Full jitter: Landbot sends no Retry-After, and callers share one token.
                pause = _jitter.uniform(0, min(self._max_backoff, self._backoff * 2**attempt))
                if attempt == self._max_attempts or time.time() + pause >= self.deadline:
                    raise
                time.sleep(pause)

    def _send(
        self,
        operation: str,
        method: str,
        path: str,
        body: dict[str, Any],
        token: Callable[[], str],
    ) -> None:
        # Everything slow comes before the permit, so the call goes out right after it.
        headers = {"Authorization": f"Token {token()}"}
        if self._limiter is None:
            return self._request(operation, method, path, body, headers)
        try:
            permit = self._limiter.acquire(self.deadline)
        except Exception as error:
            raise LandbotError(operation, f"not sent: {error}", retryable=True) from error
        try:
            self._request(operation, method, path, body, headers)
        finally:
            self._limiter.done(permit)

    def _request(
        self,
        operation: str,
        method: str,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
    ) -> None:
        left = self.deadline - time.time()
        if left <= 0:
            raise LandbotError(operation, "not sent: no time left", retryable=True)
        connect, read = self._timeout
        try:
            response = self._session.request(
                method,
                self._base_url + path,
                json=body,
                headers=headers,
                timeout=(min(connect, left), min(read, left)),
            )
        except requests.ConnectTimeout as error:
            raise LandbotError(operation, "not sent: connect timed out", retryable=True) from error
        except requests.Timeout as error:
            raise LandbotError(operation, "timed out", retryable=True, ambiguous=True) from error
        except requests.ConnectionError as error:
            sent = not _never_connected(error)
            problem = "connection dropped" if sent else "not sent: connection failed"
            raise LandbotError(operation, problem, retryable=True, ambiguous=sent) from error
        status = response.status_code
        if status in REFUSED_TOKEN_STATUSES:
            raise LandbotRefusedToken(
                operation, f"answered {status}: {_error_message(response)}", status=status
            )
        if self._gate is not None and status < 500:
            self._gate.accepted()  # (a 5xx may come from in front of Landbot's checks)
        if status < 300:
            return
        raise LandbotError(
            operation,
            f"answered {response.status_code}: {_error_message(response)}",
            status=response.status_code,
            # Landbot: only 429 and 5xx are safe to retry.
            retryable=response.status_code == 429 or response.status_code >= 500,
        )


def _never_connected(error: requests.ConnectionError) -> bool:
    """True when no connection was made, so the request cannot have reached Landbot."""
    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


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
