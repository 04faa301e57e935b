"""DynamoDBProcessStore: the process store port on the processes table; nothing above it
touches boto3.

Every state change is a conditional write, so two deliveries of one event, or two events for
one process, can never both resume it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from landbot_resume.models import (
    MAX_REASON_CHARS,
    HistoryEntry,
    LateOutcome,
    Process,
    ProcessView,
    Source,
    Status,
    history_with_claim,
    iso,
)
from landbot_resume.ports import Claim, Move, UnknownProcess

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_JSON_ATTRIBUTES = ("context", "result")
# A claim that finds the process changed between its read and its write judges again.
CLAIM_TRIES = 3
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoDBProcessStore:
    """The ProcessStore port (ports.py) on DynamoDB. A move by anyone but the claim holder
    raises botocore's ClientError (ConditionalCheckFailedException)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb")

    def create(
        self, process: Process, *, fingerprint: str, retry_window: int, now: int
    ) -> tuple[Process, bool]:
        """Store a new PENDING process unless an identical request made one recently.

        One transaction writes the process and a fingerprint of the request that made it; the
        fingerprint item expires after `retry_window` seconds. Returns (process, created).
        """
        marker = {
            "pk": {"S": f"request#{fingerprint}"},
            "process_id": {"S": process.process_id},
            "expires_at": _number(now + retry_window),
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": marker,
                            "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
                            "ExpressionAttributeValues": {":now": _number(now)},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": _to_item(process),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons: Any = error.response.get("CancellationReasons", [])
            previous = reasons[0].get("Item") if reasons else None
            if not previous or reasons[0].get("Code") != "ConditionalCheckFailed":
                raise
            existing = self.get(previous["process_id"]["S"])
            if existing is None:
                raise
            return existing, False
        return process, True

    def get(self, process_id: str) -> Process | None:
        item = self._item(process_id)
        return _from_item(item) if item else None

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
        """Take a PENDING process (or one whose last claim's lease ran out) for resuming.

        The first claim fixes the outcome: a later claim after an expired lease finishes the
        same resume rather than starting a different one. It reads the process first (a
        duplicate costs a read, not a write) and writes the history it read, trimmed
        (models.history_with_claim), on the condition that nobody changed it meanwhile:
        otherwise it judges again what the failed write found (CLAIM_TRIES times).
        """
        item = self._item(process_id)
        for attempt in range(CLAIM_TRIES):
            if item is None:
                raise UnknownProcess(process_id)
            process = _from_item(item)
            if not process.claimable(now):
                return Claim(process, claimed=False)
            reason = None
            if process.status is Status.RESUMING:
                reason = f"attempt {process.attempts + 1}: the last claim's lease ran out"
            entry = HistoryEntry.of(now, Status.RESUMING, source, event_id=event_id, reason=reason)
            history = history_with_claim(process.history, entry)
            values: dict[str, Any] = {
                ":resuming": {"S": Status.RESUMING},
                ":seen": {"S": process.status},
                ":claim": {"S": claim_id},
                ":lease": _number(now + lease_seconds),
                ":now_iso": {"S": iso(now)},
                ":outcome": {"S": outcome},
                ":result": {"S": json.dumps(result, separators=(",", ":"))},
                ":event": {"S": event_id or ""},
                ":source": {"S": source},
                ":history": _history(history),
                ":one": {"N": "1"},
            }
            condition = "#status = :seen"
            if process.status is Status.RESUMING:
                condition += " AND claim_id = :seen_claim AND lease_until < :now"
                values[":seen_claim"] = {"S": process.claim_id or ""}
                values[":now"] = _number(now)
            if "history" in item:
                condition += " AND size(history) = :length"
                values[":length"] = _number(len(process.history))
            else:
                condition += " AND attribute_not_exists(history)"
            try:
                response = self._client.update_item(
                    TableName=self.table_name,
                    Key={"pk": {"S": process_id}},
                    UpdateExpression=(
                        "SET #status = :resuming, claim_id = :claim, lease_until = :lease,"
                        " updated_at = :now_iso, outcome = if_not_exists(outcome, :outcome),"
                        " #result = if_not_exists(#result, :result),"
                        " event_id = if_not_exists(event_id, :event),"
                        " outcome_source = if_not_exists(outcome_source, :source),"
                        " history = :history REMOVE due_at ADD attempts :one"
                    ),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#status": "status", "#result": "result"},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if not _condition_failed(error) or attempt == CLAIM_TRIES - 1:
                    raise
                found: Any = error.response.get("Item")
                item = found if found and "status" in found else None
                continue
            return Claim(_from_item(response["Attributes"]), claimed=True)
        raise AssertionError("unreachable")  # the last try returns or raises

    def mark_jumping(self, process_id: str, claim_id: str, now: int) -> None:
        """Record that the field is set and a jump is about to be sent."""
        self._update_claimed(
            process_id,
            claim_id,
            now,
            "field_set = :true, jump_pending = :true",
            {":true": {"BOOL": True}},
        )

    def mark_resumed(self, process_id: str, claim_id: str, now: int) -> None:
        self._update_claimed(
            process_id,
            claim_id,
            now,
            "#status = :resumed, history = list_append(if_not_exists(history, :no_history),"
            " :entry) REMOVE lease_until",
            {
                ":resumed": {"S": Status.RESUMED},
                ":entry": _history([HistoryEntry.of(now, Status.RESUMED, Source.RESUME)]),
            },
        )

    def release(self, process_id: str, claim_id: str, now: int) -> None:
        """Give a claim up after a failure Landbot surely did not act on, so the next
        delivery may retry at once."""
        self._update_claimed(
            process_id,
            claim_id,
            now,
            "lease_until = :now, jump_pending = :false",
            {":now": _number(now), ":false": {"BOOL": False}},
        )

    def mark_failed(self, process_id: str, claim_id: str, now: int, reason: str) -> None:
        entry = HistoryEntry.of(now, Status.FAILED, Source.RESUME, reason=reason)
        self._update_claimed(
            process_id,
            claim_id,
            now,
            "#status = :failed, failure_reason = :reason,"
            " history = list_append(if_not_exists(history, :no_history), :entry)"
            " REMOVE lease_until",
            {
                ":failed": {"S": Status.FAILED},
                ":reason": {"S": reason[:MAX_REASON_CHARS]},
                ":entry": _history([entry]),
            },
        )

    def _update_claimed(
        self,
        process_id: str,
        claim_id: str,
        now: int,
        update: str,
        values: dict[str, Any],
    ) -> None:
        # Only the holder of the current claim may move the process on (and its claim wrote
        # the history these moves append to).
        self._client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": process_id}},
            UpdateExpression=f"SET updated_at = :now_iso, {update}",
            ConditionExpression="#status = :resuming AND claim_id = :claim",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":now_iso": {"S": iso(now)},
                ":resuming": {"S": Status.RESUMING},
                ":claim": {"S": claim_id},
                **values,
                **({":no_history": {"L": []}} if ":no_history" in update else {}),
            },
        )

    def cancel(
        self, process_id: str, *, now: int, source: Source, reason: str | None = None
    ) -> Move:
        """PENDING -> CANCELLED, out of the deadline index; Landbot is not called."""
        entry = HistoryEntry.of(now, Status.CANCELLED, source, reason=reason)
        return self._move(
            process_id,
            "#status = :pending",
            "#status = :cancelled REMOVE due_at",
            {":pending": {"S": Status.PENDING}, ":cancelled": {"S": Status.CANCELLED}},
            entry,
            now,
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
        """Fix the outcome (and block) of a PENDING process that has none yet."""
        entry = HistoryEntry.of(now, Status.PENDING, source, reason=reason)
        return self._move(
            process_id,
            "#status = :pending AND attribute_not_exists(outcome)",
            "outcome = :outcome, #result = :result, outcome_source = :source,"
            " resume_node_id = :node, due_at = :due",
            {
                ":pending": {"S": Status.PENDING},
                ":outcome": {"S": outcome},
                ":result": {"S": "{}"},
                ":source": {"S": source},
                ":node": {"S": node_id},
                ":due": _number(due_at),
            },
            entry,
            now,
        )

    def retry(self, process_id: str, *, now: int, due_at: int, source: Source, reason: str) -> Move:
        """FAILED -> PENDING with the recorded outcome, its claim and failure forgotten."""
        entry = HistoryEntry.of(now, Status.PENDING, source, reason=reason)
        return self._move(
            process_id,
            "#status = :failed",
            "#status = :pending, jump_pending = :false, due_at = :due"
            " REMOVE failure_reason, claim_id, lease_until",
            {
                ":failed": {"S": Status.FAILED},
                ":pending": {"S": Status.PENDING},
                ":false": {"BOOL": False},
                ":due": _number(due_at),
            },
            entry,
            now,
        )

    def record_late_outcome(
        self, process_id: str, late: LateOutcome, *, status: Status, now: int
    ) -> bool:
        """Keep the first late outcome of a process still in `status`."""
        entry = HistoryEntry.of(
            now,
            status,
            late.source,
            event_id=late.event_id,
            reason=f"late outcome {late.outcome}: recorded, not replayed",
        )
        moved = self._move(
            process_id,
            "#status = :seen AND attribute_not_exists(late_outcome)",
            "late_outcome = :late",
            {
                ":seen": {"S": status},
                ":late": _serializer.serialize(late.model_dump(mode="json", exclude_none=True)),
            },
            entry,
            now,
        )
        return moved.moved

    def _move(
        self,
        process_id: str,
        condition: str,
        update: str,
        values: dict[str, Any],
        entry: HistoryEntry,
        now: int,
    ) -> Move:
        """One conditional UpdateItem that also appends `entry` to the history."""
        set_part, _, remove_part = update.partition(" REMOVE ")
        expression = (
            f"SET {set_part}, updated_at = :now_iso,"
            " history = list_append(if_not_exists(history, :no_history), :entry)"
        )
        if remove_part:
            expression += f" REMOVE {remove_part}"
        condition = f"attribute_exists(#status) AND {condition}"
        try:
            response = self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": process_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(expression, condition),
                ExpressionAttributeValues={
                    **values,
                    ":now_iso": {"S": iso(now)},
                    ":no_history": {"L": []},
                    ":entry": _history([entry]),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            item: Any = error.response.get("Item")
            if not item or "status" not in item:
                raise UnknownProcess(process_id) from error
            return Move(_from_item(item), moved=False)
        return Move(_from_item(response["Attributes"]), moved=True)

    # template.yaml: ProcessesTable's index of waiting processes by due time. Only processes
    # that wait with a timeout (or a delivery to make) have due_at; every move out of
    # PENDING removes it. It projects the keys only: the sweeper needs no more.
    DEADLINE_INDEX: Final = "ByDeadline"

    def due(self, now: int, limit: int) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        start: dict[str, Any] | None = None
        while len(found) < limit:
            page: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            response = self._client.query(
                TableName=self.table_name,
                IndexName=self.DEADLINE_INDEX,
                KeyConditionExpression="#status = :pending AND due_at <= :now",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": Status.PENDING},
                    ":now": _number(now),
                },
                Limit=limit - len(found),
                **page,
            )
            found += [(item["pk"]["S"], int(item["due_at"]["N"])) for item in response["Items"]]
            start = response.get("LastEvaluatedKey")
            if start is None:
                break
        return found

    def postpone(self, process_id: str, due_at: int, *, until: int) -> bool:
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": process_id}},
                UpdateExpression="SET due_at = :until",
                ConditionExpression="#status = :pending AND due_at = :due",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": Status.PENDING},
                    ":due": _number(due_at),
                    ":until": _number(until),
                },
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return False
        return True

    def _item(self, process_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self.table_name, Key={"pk": {"S": process_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item if item and "status" in item else None

    # template.yaml: ProcessesTable's index of processes by status, newest first. Only
    # processes have these attributes, and it projects what a ProcessView shows.
    STATUS_INDEX = "ByStatus"

    def list_newest(
        self, *, status: Status | None = None, limit: int, late_only: bool = False
    ) -> list[ProcessView]:
        """The `limit` newest processes, of one status or of any, newest first; with
        `late_only`, only those with a late outcome.

        Queries the status index, never scans the table: without a status, each status is
        queried and the answers merged. The index is eventually consistent: a process just
        created or moved may show there a moment later.
        """
        statuses = [status] if status else list(Status)
        found = [view for each in statuses for view in self._newest_of(each, limit, late_only)]
        found.sort(key=lambda view: (view.created_at, view.process_id), reverse=True)
        return found[:limit]

    def _newest_of(self, status: Status, limit: int, late_only: bool) -> list[ProcessView]:
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.STATUS_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status}},
            "ScanIndexForward": False,
        }
        if late_only:  # a filter: the pages below go on until enough matched
            query["FilterExpression"] = "attribute_exists(late_outcome)"
        views: list[ProcessView] = []
        while len(views) < limit:  # one answer holds at most 1 MB: page on if needed
            response = self._client.query(**query, Limit=limit - len(views))
            for item in response["Items"]:
                data = {key: _deserializer.deserialize(value) for key, value in item.items()}
                data["process_id"] = data.pop("pk")
                views.append(ProcessView.model_validate(data))
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return views


def _condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _names(*expressions: str) -> dict[str, str]:
    return {
        f"#{name}": name
        for name in ("status", "result")
        if any(f"#{name}" in e for e in expressions)
    }


def _history(entries: list[HistoryEntry]) -> dict[str, Any]:
    """History entries as a DynamoDB list (of maps), which list_append extends."""
    return {
        "L": [
            _serializer.serialize(entry.model_dump(mode="json", exclude_none=True))
            for entry in entries
        ]
    }


def _number(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _to_item(process: Process) -> dict[str, Any]:
    data = process.model_dump(mode="json", exclude_none=True)
    for name in _JSON_ATTRIBUTES:
        if name in data:
            data[name] = json.dumps(data[name], separators=(",", ":"))
    data["pk"] = data.pop("process_id")
    return {key: _serializer.serialize(value) for key, value in data.items()}


def _from_item(item: dict[str, Any]) -> Process:
    data = {key: _deserializer.deserialize(value) for key, value in item.items()}
    data["process_id"] = data.pop("pk")
    for name in _JSON_ATTRIBUTES:
        if isinstance(data.get(name), str):
            data[name] = json.loads(data[name])
    if data.get("event_id") == "":
        data["event_id"] = None
    return Process.model_validate(data)
