"""In-memory stand-ins for the ports (landbot_resume.ports), for tests of the domain alone.

InMemoryProcessStore keeps DynamoDBProcessStore's conditional semantics; tests/unit/
test_store.py runs the same cases against both, so that the fake stays honest.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from landbot_resume.models import (
    MAX_REASON_CHARS,
    CompletionMessage,
    HistoryEntry,
    LateOutcome,
    Process,
    Source,
    Status,
    history_with_claim,
    iso,
)
from landbot_resume.ports import Claim, LandbotError, Move, UnknownProcess


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
        source: Source,
        claim_id: str,
        now: int,
        lease_seconds: int,
    ) -> Claim:
        with self._lock:
            item = self._items.get(process_id)
            if item is None:
                raise UnknownProcess(process_id)
            process = _process(item)
            if not process.claimable(now):
                return Claim(process, claimed=False)
            reason = None
            if process.status is Status.RESUMING:
                reason = f"attempt {process.attempts + 1}: the last claim's lease ran out"
            entry = HistoryEntry.of(now, Status.RESUMING, source, event_id=event_id, reason=reason)
            item.update(
                status=Status.RESUMING.value,
                claim_id=claim_id,
                lease_until=now + lease_seconds,
                updated_at=iso(now),
                attempts=item.get("attempts", 0) + 1,
                history=_entries(history_with_claim(process.history, entry)),
            )
            item.pop("due_at", None)
            # The first claim fixes what the process resumes with.
            item.setdefault("outcome", outcome)
            item.setdefault("result", copy.deepcopy(result))
            item.setdefault("event_id", event_id or "")
            item.setdefault("outcome_source", source.value)
            return Claim(_process(item), claimed=True)

    def mark_jumping(self, process_id: str, claim_id: str, now: int) -> None:
        self._update_claimed(process_id, claim_id, now, {"field_set": True, "jump_pending": True})

    def mark_resumed(self, process_id: str, claim_id: str, now: int) -> None:
        entry = HistoryEntry.of(now, Status.RESUMED, Source.RESUME)
        self._update_claimed(
            process_id, claim_id, now, {"status": Status.RESUMED.value}, "lease_until", entry
        )

    def release(self, process_id: str, claim_id: str, now: int) -> None:
        self._update_claimed(process_id, claim_id, now, {"lease_until": now, "jump_pending": False})

    def mark_failed(self, process_id: str, claim_id: str, now: int, reason: str) -> None:
        changes = {"status": Status.FAILED.value, "failure_reason": reason[:MAX_REASON_CHARS]}
        entry = HistoryEntry.of(now, Status.FAILED, Source.RESUME, reason=reason)
        self._update_claimed(process_id, claim_id, now, changes, "lease_until", entry)

    def _update_claimed(
        self,
        process_id: str,
        claim_id: str,
        now: int,
        changes: dict[str, Any],
        remove: str | None = None,
        entry: HistoryEntry | None = None,
    ) -> None:
        # Only the holder of the current claim may move the process on.
        with self._lock:
            item = self._items.get(process_id)
            if item is None or item["status"] != Status.RESUMING or item["claim_id"] != claim_id:
                raise _condition_failed("ConditionalCheckFailedException", "UpdateItem")
            item.update(updated_at=iso(now), **changes)
            if entry is not None:
                item["history"] = [*item.get("history", []), *_entries([entry])]
            if remove is not None:
                item.pop(remove, None)

    def cancel(
        self, process_id: str, *, now: int, source: Source, reason: str | None = None
    ) -> Move:
        entry = HistoryEntry.of(now, Status.CANCELLED, source, reason=reason)
        return self._move(
            process_id,
            lambda item: item["status"] == Status.PENDING,
            {"status": Status.CANCELLED.value},
            entry,
            now,
            remove="due_at",
        )

    def set_outcome(
        self,
        process_id: str,
        *,
        outcome: str,
        node_id: str,
        now: int,
        due_at: int,
        source: Source,
        reason: str,
    ) -> Move:
        entry = HistoryEntry.of(now, Status.PENDING, source, reason=reason)
        changes = {
            "outcome": outcome,
            "result": {},
            "outcome_source": source.value,
            "resume_node_id": node_id,
            "due_at": due_at,
        }
        return self._move(
            process_id,
            lambda item: item["status"] == Status.PENDING and "outcome" not in item,
            changes,
            entry,
            now,
        )

    def retry(self, process_id: str, *, now: int, due_at: int, source: Source, reason: str) -> Move:
        entry = HistoryEntry.of(now, Status.PENDING, source, reason=reason)
        changes = {"status": Status.PENDING.value, "jump_pending": False, "due_at": due_at}
        return self._move(
            process_id,
            lambda item: item["status"] == Status.FAILED,
            changes,
            entry,
            now,
            remove=("failure_reason", "claim_id", "lease_until"),
        )

    def record_late_outcome(
        self, process_id: str, late: LateOutcome, *, status: Status, now: int
    ) -> bool:
        entry = HistoryEntry.of(
            now,
            status,
            late.source,
            event_id=late.event_id,
            reason=f"late outcome {late.outcome}: recorded, not replayed",
        )
        move = self._move(
            process_id,
            lambda item: item["status"] == status and "late_outcome" not in item,
            {"late_outcome": late.model_dump(mode="json", exclude_none=True)},
            entry,
            now,
        )
        return move.moved

    def _move(
        self,
        process_id: str,
        allowed: Callable[[dict[str, Any]], bool],
        changes: dict[str, Any],
        entry: HistoryEntry,
        now: int,
        remove: str | tuple[str, ...] = (),
    ) -> Move:
        with self._lock:
            item = self._items.get(process_id)
            if item is None:
                raise UnknownProcess(process_id)
            if not allowed(item):
                return Move(_process(item), moved=False)
            item.update(copy.deepcopy(changes), updated_at=iso(now))
            item["history"] = [*item.get("history", []), *_entries([entry])]
            for name in (remove,) if isinstance(remove, str) else remove:
                item.pop(name, None)
            return Move(_process(item), moved=True)

    def due(self, now: int, limit: int) -> list[tuple[str, int]]:
        with self._lock:
            found = [
                (process_id, item["due_at"])
                for process_id, item in self._items.items()
                if item["status"] == Status.PENDING and item.get("due_at", now + 1) <= now
            ]
        return sorted(found, key=lambda pair: (pair[1], pair[0]))[:limit]

    def postpone(self, process_id: str, due_at: int, *, until: int) -> bool:
        with self._lock:
            item = self._items.get(process_id)
            if item is None or item["status"] != Status.PENDING or item.get("due_at") != due_at:
                return False
            item["due_at"] = until
            return True


def _entries(history: list[HistoryEntry]) -> list[dict[str, Any]]:
    return [entry.model_dump(mode="json", exclude_none=True) for entry in history]


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


class FakeCompletionQueue:
    """Behaves like SqsCompletionQueue: keeps what it is sent, refuses on request."""

    def __init__(self) -> None:
        self.sent: list[CompletionMessage] = []
        self.refuse = False

    def send(self, messages: list[CompletionMessage]) -> list[CompletionMessage]:
        if self.refuse:
            return list(messages)
        self.sent += messages
        return []
