"""DynamoDBProcessStore: the process store port on the processes table; nothing above it
touches boto3.

Every state change is a conditional write, so two deliveries of one event, or two events for
one process, can never both resume it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from landbot_resume.models import Process, ProcessView, Status, iso
from landbot_resume.ports import Claim, UnknownProcess

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_JSON_ATTRIBUTES = ("context", "result")
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
        response = self._client.get_item(
            TableName=self.table_name, Key={"pk": {"S": process_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _from_item(item) if item and "status" in item else None

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
        """Take a PENDING process (or one whose last claim's lease ran out) for resuming.

        The first claim fixes the outcome: a later claim after an expired lease finishes the
        same resume rather than starting a different one.
        """
        try:
            response = self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": process_id}},
                UpdateExpression=(
                    "SET #status = :resuming, claim_id = :claim, lease_until = :lease,"
                    " updated_at = :now_iso, outcome = if_not_exists(outcome, :outcome),"
                    " #result = if_not_exists(#result, :result),"
                    " event_id = if_not_exists(event_id, :event) ADD attempts :one"
                ),
                ConditionExpression=(
                    "attribute_exists(#status) AND (#status = :pending"
                    " OR (#status = :resuming AND lease_until < :now))"
                ),
                ExpressionAttributeNames={"#status": "status", "#result": "result"},
                ExpressionAttributeValues={
                    ":resuming": {"S": Status.RESUMING},
                    ":pending": {"S": Status.PENDING},
                    ":claim": {"S": claim_id},
                    ":lease": _number(now + lease_seconds),
                    ":now": _number(now),
                    ":now_iso": {"S": iso(now)},
                    ":outcome": {"S": outcome},
                    ":result": {"S": json.dumps(result, separators=(",", ":"))},
                    ":event": {"S": event_id or ""},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            if not item or "status" not in item:
                raise UnknownProcess(process_id) from error
            return Claim(_from_item(item), claimed=False)
        return Claim(_from_item(response["Attributes"]), claimed=True)

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
            "#status = :resumed REMOVE lease_until",
            {":resumed": {"S": Status.RESUMED}},
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
        self._update_claimed(
            process_id,
            claim_id,
            now,
            "#status = :failed, failure_reason = :reason REMOVE lease_until",
            {":failed": {"S": Status.FAILED}, ":reason": {"S": reason[:500]}},
        )

    def _update_claimed(
        self,
        process_id: str,
        claim_id: str,
        now: int,
        update: str,
        values: dict[str, Any],
    ) -> None:
        # Only the holder of the current claim may move the process on.
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
            },
        )

    # template.yaml: ProcessesTable's index of processes by status, newest first. Only
    # processes have these attributes, and it projects what a ProcessView shows.
    STATUS_INDEX = "ByStatus"

    def list_newest(self, *, status: Status | None = None, limit: int) -> list[ProcessView]:
        """The `limit` newest processes, of one status or of any, newest first.

        Queries the status index, never scans the table: without a status, each status is
        queried and the answers merged. The index is eventually consistent: a process just
        created or moved may show there a moment later.
        """
        statuses = [status] if status else list(Status)
        found = [view for each in statuses for view in self._newest_of(each, limit)]
        found.sort(key=lambda view: (view.created_at, view.process_id), reverse=True)
        return found[:limit]

    def _newest_of(self, status: Status, limit: int) -> list[ProcessView]:
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.STATUS_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status}},
            "ScanIndexForward": False,
        }
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
