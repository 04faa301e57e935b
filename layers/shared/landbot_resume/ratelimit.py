"""SharedRateLimiter: Landbot's 10 requests/s per token, kept by every container together.

Landbot counts requests per token in a sliding second and answers 429 past the limit. The
limiter holds `limit` permits as items of the processes table, each stamped with when it was
last used. A call takes a permit free for a window with one conditional write that marks it
in use until the call is over; done() stamps it with the moment the call ended. Landbot saw
the call at some moment before its answer came back, so a permit's next call goes out at
least a second after that: no second ever sees more than `limit` calls, whichever container
makes them, however late a call reached Landbot, and a burst drains at the ceiling.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from landbot_resume.ports import RateLimitTimeout

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A little over a second: the margin absorbs the delay between taking a permit and the
# request reaching Landbot (scheduling, network jitter) on busy machines.
DEFAULT_WINDOW_SECONDS = 1.05
# How long a permit stays marked in use when its holder never says the call is over (the
# container froze or died): longer than any call (the Landbot client's connect + read
# timeouts).
DEFAULT_HOLD_SECONDS = 15.0
# How often a caller asks again about a permit that another call still holds: it frees when
# that call ends.
HELD_POLL_SECONDS = 0.1
# Permit items outlive any window, then DynamoDB's TTL removes them.
_PERMIT_TTL_SECONDS = 3600


@dataclass(frozen=True)
class Permit:
    index: int
    stamped: float  # when the call was allowed to go out
    held: float  # the in-use mark written with it, which done() replaces


class SharedRateLimiter:
    def __init__(
        self,
        table_name: str,
        limit: int,
        *,
        key: str = "landbot",
        window: float = DEFAULT_WINDOW_SECONDS,
        hold: float = DEFAULT_HOLD_SECONDS,
        client: DynamoDBClient | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.table_name = table_name
        # One deployment uses one Landbot token, so one set of permits per table.
        self._key = key
        self.limit = limit
        self.window = window
        self.hold = hold
        self._client = client or boto3.client("dynamodb")
        self._clock = clock
        self._sleep = sleep
        # When each permit was last used (or until when a call holds it), as far as this
        # container knows.
        self._last_used = [0.0] * limit
        self._picking = threading.Lock()
        # The stamps done() moves are written in the background, each on a thread of its own
        # (a permit is not used again within its window: one write per permit at most).
        self._movers = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="permit-stamp")
        self._moving: dict[int, Future[None]] = {}  # by permit
        self._state = threading.Lock()

    def acquire(self, deadline: float) -> Permit:
        """Wait for a free permit and take it; RateLimitTimeout if none frees before deadline.

        Hand it back with done() once the call has been answered (or has failed)."""
        # One thread of this container picks at a time: threads racing for the same permit
        # would only burn conditional writes.
        with self._picking:
            return self._acquire(deadline)

    def _acquire(self, deadline: float) -> Permit:
        while True:
            permit = min(range(self.limit), key=self._last_used.__getitem__)
            last_used = self._last_used[permit]
            now = self._clock()
            free_at = last_used + self.window
            if last_used > now:
                # Every permit is held by this container's own calls: one frees when its
                # call ends (done()).
                if now + HELD_POLL_SECONDS > deadline:
                    raise RateLimitTimeout("no Landbot request slot before the deadline")
                self._sleep(HELD_POLL_SECONDS)
                continue
            if free_at > now:
                if free_at > deadline:
                    raise RateLimitTimeout("no Landbot request slot before the deadline")
                self._sleep(free_at - now)
                now = self._clock()
            with self._state:
                moving = self._moving.get(permit)
            if moving is not None:
                wait([moving])  # this container's own record of the permit's last call first
            held = now + self.hold
            taken_by_other = self._take(permit, now, held)
            if taken_by_other is None:
                self._last_used[permit] = held
                return Permit(permit, now, held)
            # Another call holds it: it frees when that call ends, which only the table tells,
            # so ask again soon rather than wait for its mark to run out.
            in_use = taken_by_other > now
            self._last_used[permit] = (
                now + HELD_POLL_SECONDS - self.window if in_use else taken_by_other
            )

    def done(self, permit: Permit) -> None:
        """The call is over: Landbot saw it at the latest now. Stamp the permit so that its
        next call goes out at least a second after that (or a window after the call went
        out, if it was answered within the window's margin).

        This container keeps to the new stamp at once. The write that tells the others
        starts at once too, on a thread of its own; only the caller goes on instead of
        waiting for it (flush() waits). Until it lands, the others see the permit in use."""
        margin = self.window - 1.0
        ended = max(permit.stamped, self._clock() - margin)
        with self._state:
            if self._last_used[permit.index] == permit.held:
                self._last_used[permit.index] = ended
            moving = self._movers.submit(self._move_after_call, permit, ended)
            self._moving[permit.index] = moving
        moving.add_done_callback(functools.partial(self._moved, permit.index))

    def flush(self) -> None:
        """Wait until every stamp moved so far is written, and raise the first write that
        failed. A handler calls it before returning, so that no write is in flight while
        Lambda freezes the container."""
        with self._state:
            moving = dict(self._moving)
        wait(moving.values())
        with self._state:
            for permit, future in moving.items():
                if self._moving.get(permit) is future:
                    del self._moving[permit]
        for future in moving.values():
            future.result()

    def _move_after_call(self, permit: Permit, ended: float) -> None:
        try:
            self._move_stamp(permit.index, permit.held, ended)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Already reused: the call outlasted its hold.

    def _moved(self, permit: int, moving: Future[None]) -> None:
        if moving.exception() is None:
            with self._state:
                if self._moving.get(permit) is moving:
                    del self._moving[permit]

    def _move_stamp(self, permit: int, stamped: float, to: float) -> None:
        """Re-stamp a permit this caller holds (its stamp is still `stamped`)."""
        self._client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": self._item_key(permit)}},
            UpdateExpression="SET used_at = :to",
            ConditionExpression="used_at = :stamped",
            ExpressionAttributeValues={":to": _stamp(to), ":stamped": _stamp(stamped)},
        )

    def _item_key(self, permit: int) -> str:
        return f"ratelimit#{self._key}#{permit}"

    def _take(self, permit: int, now: float, held: float) -> float | None:
        """Mark the permit in use until `held`; returns its stamp instead if another caller
        holds it or used it less than a window ago."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": self._item_key(permit)}},
                UpdateExpression="SET used_at = :held, expires_at = :expires",
                ConditionExpression="attribute_not_exists(used_at) OR used_at <= :free_before",
                ExpressionAttributeValues={
                    ":held": _stamp(held),
                    ":free_before": _stamp(now - self.window),
                    ":expires": {"N": str(int(held) + _PERMIT_TTL_SECONDS)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item: Any = error.response.get("Item") or {}
            return float(item.get("used_at", {}).get("N", now))
        return None


def _stamp(moment: float) -> dict[str, str]:
    return {"N": f"{moment:.3f}"}
