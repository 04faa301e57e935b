"""SharedRateLimiter: Landbot's 10 requests/s per token, kept by every container together.

Landbot counts requests per token in a sliding second and answers 429 past the limit. The
limiter holds `limit` permits as items of the processes table, each stamped with when it was
last used; a call takes a permit last used at least `window` ago, with one conditional write.
So no `window` ever sees more than `limit` calls, whichever container makes them, and a
burst drains at the ceiling instead of a fraction of it.
"""

from __future__ import annotations

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
# A permit stamped this long before the call can go out is stamped again: a slow write must
# not make its call arrive late and crowd the next second.
RESTAMP_AFTER_SECONDS = 0.02
# Permit items outlive any window, then DynamoDB's TTL removes them.
_PERMIT_TTL_SECONDS = 3600


@dataclass(frozen=True)
class Permit:
    index: int
    stamped: float


class SharedRateLimiter:
    def __init__(
        self,
        table_name: str,
        limit: int,
        *,
        key: str = "landbot",
        window: float = DEFAULT_WINDOW_SECONDS,
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
        self._client = client or boto3.client("dynamodb")
        self._clock = clock
        self._sleep = sleep
        # When each permit was last used, as far as this container knows.
        self._last_used = [0.0] * limit
        self._picking = threading.Lock()
        # The stamps done() moves are written in the background, each on a thread of its own
        # (a permit is not used again within its window: one write per permit at most).
        self._movers = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="permit-stamp")
        self._moving: set[Future[None]] = set()
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
            free_at = self._last_used[permit] + self.window
            now = self._clock()
            if free_at > now:
                if free_at > deadline:
                    raise RateLimitTimeout("no Landbot request slot before the deadline")
                self._sleep(free_at - now)
                now = self._clock()
            taken_by_other = self._take(permit, now)
            if taken_by_other is None:
                self._last_used[permit] = self._restamp_if_late(permit, now)
                return Permit(permit, self._last_used[permit])
            self._last_used[permit] = taken_by_other

    def done(self, permit: Permit) -> None:
        """The call is over. If it took longer than the window's margin, it may have reached
        Landbot late (the process stalled before sending): stamp the permit so that its next
        use is at least a second after the latest moment the call can have arrived.

        This container keeps to the new stamp at once. The write that tells the others
        starts at once too, on a thread of its own, so it lands when the caller's own write
        would have; only the caller goes on instead of waiting for it (flush() waits)."""
        margin = self.window - 1.0
        latest = self._clock() - margin
        if latest <= permit.stamped:
            return
        with self._state:
            self._last_used[permit.index] = max(self._last_used[permit.index], latest)
            moving = self._movers.submit(self._move_after_call, permit, latest)
            self._moving.add(moving)
        moving.add_done_callback(self._moved)

    def flush(self) -> None:
        """Wait until every stamp moved so far is written, and raise the first write that
        failed. A handler calls it before returning, so that no write is in flight while
        Lambda freezes the container."""
        with self._state:
            moving = list(self._moving)
        wait(moving)
        with self._state:
            self._moving.difference_update(moving)
        for future in moving:
            future.result()

    def _move_after_call(self, permit: Permit, latest: float) -> None:
        try:
            self._move_stamp(permit.index, permit.stamped, latest)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Already reused: the call took longer than a whole window.

    def _moved(self, moving: Future[None]) -> None:
        if moving.exception() is None:
            with self._state:
                self._moving.discard(moving)

    def _restamp_if_late(self, permit: int, stamped: float) -> float:
        """Move the permit's stamp up to now while writing it took long (a cold container's
        first request, a busy table): the call goes out now, not when the write began."""
        for _ in range(3):
            now = self._clock()
            if now - stamped <= RESTAMP_AFTER_SECONDS:
                break
            self._move_stamp(permit, stamped, now)
            stamped = now
        return stamped

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

    def _take(self, permit: int, now: float) -> float | None:
        """Stamp the permit; returns when another caller last used it if that was too recent."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": self._item_key(permit)}},
                UpdateExpression="SET used_at = :now, expires_at = :expires",
                ConditionExpression="attribute_not_exists(used_at) OR used_at <= :free_before",
                ExpressionAttributeValues={
                    ":now": _stamp(now),
                    ":free_before": _stamp(now - self.window),
                    ":expires": {"N": str(int(now) + _PERMIT_TTL_SECONDS)},
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
