"""TokenGate: what a container knows of Landbot's verdict on its agent token, shared by the
threads that resume a batch's records, so that a token Landbot refuses costs one call, not
one per record.

- Unknown (at first, and once a cool-down is over): one call goes out and finds out, the
  others wait for its verdict.
- Accepted: every call goes out.
- Refused: no call goes out for `cooldown` seconds after the last refusal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# One wait's bound (a timeout may be infinite, which Condition.wait refuses).
MAX_WAIT_SECONDS = 60.0


class TokenGate:
    def __init__(self, cooldown: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._cooldown = cooldown
        self._clock = clock  # measures the cool-down
        self._condition = threading.Condition()
        self._accepted = False
        self._refused_until: float | None = None
        self._probe: int | None = None  # the thread whose call is finding out

    def refusing(self) -> bool:
        """True during the cool-down after Landbot refused the token: send nothing."""
        with self._condition:
            return self._refused_until is not None and self._clock() < self._refused_until

    def enter(self, timeout: float) -> bool:
        """Before a call: True to send it, False while Landbot refuses the token. While the
        verdict is unknown, waits (up to `timeout` seconds, then TimeoutError) for the call
        that is finding out. Every call that entered ends with leave()."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                if self._refused_until is not None:
                    if self._clock() < self._refused_until:
                        return False
                    self._refused_until = None  # the cool-down is over: find out again
                if self._accepted:
                    return True
                if self._probe is None:
                    self._probe = threading.get_ident()
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no verdict on the Landbot token in time")
                self._condition.wait(min(left, MAX_WAIT_SECONDS))

    def accepted(self) -> None:
        """Landbot answered a call with the token (other than 401/403): calls may go out."""
        with self._condition:
            self._accepted, self._refused_until = True, None
            self._condition.notify_all()

    def refused(self) -> None:
        """Landbot refused the token, even freshly read: no calls for the cool-down."""
        with self._condition:
            self._accepted, self._refused_until = False, self._clock() + self._cooldown
            self._condition.notify_all()

    def leave(self) -> None:
        """After a call that entered, whatever came of it: if it was finding out and got no
        verdict (not answered, or 5xx), the next waiting call finds out instead."""
        with self._condition:
            if self._probe == threading.get_ident():
                self._probe = None
                self._condition.notify_all()
