"""moto's server, with DynamoDB writes made atomic as DynamoDB's own are, and SQS attribute
reads that do not scan the queue over and over.

moto serves requests on threads and checks a write's condition, then applies it, without a
lock: two conditional writes to one item at the same moment can both succeed, which DynamoDB
never allows. The rate limiter and the process claims rely on that guarantee, so the local
stack serialises moto's DynamoDB writes.

moto also rolls a failed transaction back by restoring deep copies of whole tables, taken
before every TransactWriteItems: each process the webhook creates copied every process
before it, under the write lock, and starved the resume function's writes. Here only the
items a transaction touches are saved and restored, which is what a rollback needs.

moto computes every queue attribute (several of them scan all messages) up to three times
for each attribute asked for, and asks for one for every message it receives: with hundreds
of messages in flight that took half of the server's time in a chaos run, and slowed the
rate limiter's writes with it. Here each read computes the attributes once. Sending a message
also computed them all (to read one setting), so putting a burst of events on the queue took
time in proportion to the square of its size; here a send counts no messages.

moto's EventBridge builds a JSONPath parser (with its parser tables) for each path of a
rule target's input, for each event it delivers; here each path is parsed once.

Run as `python -m devstack.moto_server -p PORT`.
"""

from __future__ import annotations

import copy
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import jsonpath_ng.ext
import jsonpath_ng.ext.parser
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.server import main
from moto.sqs.exceptions import InvalidAttributeName
from moto.sqs.models import Queue, SQSBackend

_writes = threading.RLock()


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _writes:
            return method(*args, **kwargs)

    return locked


class _NoTableCopies:
    """moto's `copy` module, except that tables are not copied while `skip` is set."""

    skip = False

    @classmethod
    def deepcopy(cls, value: Any, memo: Any = None) -> Any:
        if cls.skip and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _save_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Any]:
    """The items a transaction touches, as they are before it (None: not there yet)."""
    saved = []
    for entry in transact_items:
        operation = next(iter(entry.values()))
        table = backend.get_table(operation["TableName"])
        if table.has_range_key:
            raise LookupError("only tables without a range key")
        key = operation.get("Key") or operation["Item"]
        hash_key = DynamoType(key[table.hash_key_attr])
        saved.append((table, hash_key, copy.deepcopy(table.items.get(hash_key))))
    return saved


_transact_write_items = DynamoDBBackend.transact_write_items


def _transact_write_items_rolling_back_items(
    self: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> None:
    try:
        saved = _save_items(self, transact_items)
    except Exception:  # a malformed request: moto's own way, and its own error
        return _transact_write_items(self, transact_items)
    _NoTableCopies.skip = True
    try:
        _transact_write_items(self, transact_items)
    except BaseException:
        for table, hash_key, item in reversed(saved):
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        raise
    finally:
        _NoTableCopies.skip = False


# moto's DynamoDB models copy tables through their module's `copy`.
setattr(dynamodb_models, "copy", _NoTableCopies)  # noqa: B010 - not re-exported by moto
DynamoDBBackend.transact_write_items = _transact_write_items_rolling_back_items  # type: ignore[method-assign]
for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))


def _get_queue_attributes(
    self: SQSBackend, queue_name: str, attribute_names: list[str]
) -> dict[str, Any]:
    queue = self.get_queue(queue_name)
    if not attribute_names:
        return {}
    valid = {"All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES}
    for name in attribute_names:
        if name not in valid:
            raise InvalidAttributeName(name)
    attributes: dict[str, Any] = queue.attributes
    if "All" in attribute_names:
        return attributes
    return {name: attributes[name] for name in attribute_names if attributes.get(name) is not None}


def _retained(self: SQSBackend, queue_name: str, message: Any) -> bool:
    # Set from the queue's attributes when it is created (not a declared attribute).
    retention = float(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention + message.sent_timestamp / 1000 > time.time())


_sending = threading.local()


def _not_counted_while_sending(count: property) -> property:
    """A message count, except 0 while this thread sends: a send reads Queue.attributes for
    one setting only, and each count is a scan of every message."""

    def counted(queue: Queue) -> int:
        return 0 if getattr(_sending, "active", False) else int(count.fget(queue))  # type: ignore[misc]

    return property(counted)


def _send_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
    _sending.active = True
    try:
        return _sqs_send_message(self, *args, **kwargs)
    finally:
        _sending.active = False


_sqs_send_message = SQSBackend.send_message
for _name in (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
):
    setattr(Queue, _name, _not_counted_while_sending(getattr(Queue, _name)))
SQSBackend.send_message = _send_message  # type: ignore[method-assign]
# The parsed expressions are only read (find) after parsing.
setattr(  # noqa: B010 - moto reads jsonpath_ng.ext.parse, which is not re-exported
    jsonpath_ng.ext, "parse", functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parser.parse)
)
SQSBackend.get_queue_attributes = _get_queue_attributes  # type: ignore[method-assign]
SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
