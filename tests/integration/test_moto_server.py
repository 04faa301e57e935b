"""The local stack's moto server keeps DynamoDB's and SQS's behaviour where it changes how
moto does the work: transactions still roll back, attribute reads still answer the same."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from botocore.exceptions import ClientError

from devstack.stack import LocalStack

_names = itertools.count(1)


def _table(stack: LocalStack) -> tuple[Any, str]:
    dynamodb = stack.resources.client("dynamodb")
    name = f"moto-server-test-{next(_names)}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb, name


def _items(dynamodb: Any, table: str) -> dict[str, str]:
    return {
        item["pk"]["S"]: item.get("v", {}).get("S", "")
        for item in dynamodb.scan(TableName=table)["Items"]
    }


def test_a_cancelled_transaction_leaves_every_item_as_it_was(stack: LocalStack) -> None:
    dynamodb, table = _table(stack)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "kept"}, "v": {"S": "old"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "taken"}, "v": {"S": "old"}})

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}, "v": {"S": "x"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "kept"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "changed"}},
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "taken"}, "v": {"S": "x"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _items(dynamodb, table) == {"kept": "old", "taken": "old"}


def test_a_transaction_that_succeeds_writes_every_item(stack: LocalStack) -> None:
    dynamodb, table = _table(stack)

    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": pk}, "v": {"S": "x"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for pk in ("a", "b")
        ]
    )

    assert _items(dynamodb, table) == {"a": "x", "b": "x"}


def test_queue_attributes_answer_what_was_asked(stack: LocalStack) -> None:
    sqs = stack.resources.client("sqs")
    url = sqs.create_queue(QueueName=f"moto-server-test-{next(_names)}")["QueueUrl"]
    for body in "ab":
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)

    asked = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert asked == {
        "ApproximateNumberOfMessages": "1",
        "ApproximateNumberOfMessagesNotVisible": "1",
    }
    assert (
        "VisibilityTimeout"
        in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    )
    with pytest.raises(ClientError):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])
