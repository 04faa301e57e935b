"""In-memory stand-ins for the ports (landbot_resume.ports), for tests of the domain alone.

InMemoryProcessStore keeps DynamoDBProcessStore's conditional semantics; tests/unit/
test_store.py runs the same cases against both, so that the fake stays honest.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from botocore.exceptions import ClientError

from landbot_resume.models import Process, Status, iso
from landbot_resume.ports import Claim, LandbotError, UnknownProcess


def _condition_failed(code: str, operation: str) -> ClientError:
    """What DynamoDB answers when a write's condition does not hold."""
    error: Any = {"Error": {"Code": code, "Message": "The conditional request failed"}}
    return ClientError(error, operation)


class InMemoryProcessStore:
    """The ProcessStore port in a dict, every operation atomic (as each DynamoDB write is).

    Processes are kept as the adapter stores them (the model's JSON without its empty
    fields), so that "if not exists" means what it means in DynamoDB.
    """

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._requests: dict[str, tuple[str, int]] = {}  # fingerprint -> (process, expires)
        self._lock = threading.Lock()

    def create(
        self, process: Process, *, fingerprint: str, retry_window: int, now: int
    ) -> tuple[Process, bool]:
        with self._lock:
            earlier = self._requests.get(fingerprint)
            if earlier is not None and earlier[1] > now:
                existing = self._items.get(earlier[0])
                if existing is None:
                    raise _condition_failed("TransactionCanceledException", "TransactWriteItems")
                return _process(existing), False
            if process.process_id in self._items:
                raise _condition_failed("TransactionCanceledException", "TransactWriteItems")
            self._requests[fingerprint] = (process.process_id, now + retry_window)
            self._items[process.process_id] = process.model_dump(mode="json", exclude_none=True)
            return process.model_copy(deep=True), True

    def get(self, process_id: str) -> Process | None:
        with self._lock:
            item = self._items.get(process_id)
            return _process(item) if item is not None else None

    def claim(
        self,
        process_id: str,
        *,
        outcome: str,
        result: dict[str, Any],
        event_id: str | None,
        claim_id: str,
        now: int,
        lease_seconds: int,
    ) -> Claim:
        with self._lock:
            item = self._items.get(process_id)
            if item is None:
                raise UnknownProcess(process_id)
            lease_over = item["status"] == Status.RESUMING and item.get("lease_until", now) < now
            if item["status"] != Status.PENDING and not lease_over:
                return Claim(_process(item), claimed=False)
            item.update(
                status=Status.RESUMING.value,
                claim_id=claim_id,
                lease_until=now + lease_seconds,
                updated_at=iso(now),
                attempts=item.get("attempts", 0) + 1,
            )
            # The first claim fixes what the process resumes with.
            item.setdefault("outcome", outcome)
            item.setdefault("result", copy.deepcopy(result))
            item.setdefault("event_id", event_id or "")
            return Claim(_process(item), claimed=True)

    def mark_jumping(self, process_id: str, claim_id: str, now: int) -> None:
        self._update_claimed(process_id, claim_id, now, {"field_set": True, "jump_pending": True})

    def mark_resumed(self, process_id: str, claim_id: str, now: int) -> None:
        self._update_claimed(
            process_id, claim_id, now, {"status": Status.RESUMED.value}, remove="lease_until"
        )

    def release(self, process_id: str, claim_id: str, now: int) -> None:
        self._update_claimed(process_id, claim_id, now, {"lease_until": now, "jump_pending": False})

    def mark_failed(self, process_id: str, claim_id: str, now: int, reason: str) -> None:
        changes = {"status": Status.FAILED.value, "failure_reason": reason[:500]}
        self._update_claimed(process_id, claim_id, now, changes, remove="lease_until")

    def _update_claimed(
        self,
        process_id: str,
        claim_id: str,
        now: int,
        changes: dict[str, Any],
        remove: str | None = None,
    ) -> None:
        # Only the holder of the current claim may move the process on.
        with self._lock:
            item = self._items.get(process_id)
            if item is None or item["status"] != Status.RESUMING or item["claim_id"] != claim_id:
                raise _condition_failed("ConditionalCheckFailedException", "UpdateItem")
            item.update(updated_at=iso(now), **changes)
            if remove is not None:
                item.pop(remove, None)


def _process(item: dict[str, Any]) -> Process:
    """A copy, as a read from the table is: changing it changes nothing stored."""
    data = copy.deepcopy(item)
    if data.get("event_id") == "":
        data["event_id"] = None
    return Process.model_validate(data)


class FakeLandbot:
    """Behaves like LandbotClient towards the domain: records calls, fails on request."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.failures: dict[str, list[LandbotError]] = {"set_field": [], "assign_bot": []}

    def fail_next(self, operation: str, error: LandbotError) -> None:
        self.failures[operation].append(error)

    def _maybe_fail(self, operation: str) -> None:
        if self.failures[operation]:
            raise self.failures[operation].pop(0)

    def set_field(self, customer_id: int, field: str, value: dict[str, Any]) -> None:
        self._maybe_fail("set_field")
        self.calls.append(("set_field", (customer_id, field, value)))

    def assign_bot(self, customer_id: int, bot_id: int, node_id: str) -> None:
        self._maybe_fail("assign_bot")
        self.calls.append(("assign_bot", (customer_id, bot_id, node_id)))
