"""moto's server, with DynamoDB writes made atomic as DynamoDB's own are.

moto serves requests on threads and checks a write's condition, then applies it, without a
lock: two conditional writes to one item at the same moment can both succeed, which DynamoDB
never allows. The rate limiter and the process claims rely on that guarantee, so the local
stack serialises moto's DynamoDB writes. Run as `python -m tests.stack.moto_server -p PORT`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_writes = threading.RLock()


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _writes:
            return method(*args, **kwargs)

    return locked


for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))


if __name__ == "__main__":
    main()
