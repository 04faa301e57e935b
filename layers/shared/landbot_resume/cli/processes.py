"""`landbot-resume processes list|show`: the stored processes, through the layer's store.

`list` prints one JSON object per line (the public view of a process: no customer id, no
context), newest first, ready for jq or grep; `show` prints one stored process, whole.
"""

from __future__ import annotations

import argparse
import re
import sys

from landbot_resume.cli.stack import TABLE_OUTPUT, Stack
from landbot_resume.models import PROCESS_ID_PATTERN, Status
from landbot_resume.store import DynamoDBProcessStore

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
_PROCESS_ID = re.compile(PROCESS_ID_PATTERN)


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--status", choices=[status.value for status in Status], help="only those in this status"
    )
    parser.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        help=f"print at most this many (1-{MAX_LIMIT}, default: {DEFAULT_LIMIT})",
    )


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("process_id", metavar="ID", type=_process_id, help="e.g. pr_0123...")


def _limit(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to {MAX_LIMIT}")
    return int(text)


def _process_id(text: str) -> str:
    if not _PROCESS_ID.fullmatch(text):
        raise argparse.ArgumentTypeError("must be pr_ followed by 32 lowercase hex digits")
    return text


def _store(stack: Stack) -> DynamoDBProcessStore:
    (table,) = stack.outputs(TABLE_OUTPUT)
    return DynamoDBProcessStore(table, client=stack.dynamodb())


def list_command(args: argparse.Namespace, stack: Stack) -> int:
    status = Status(args.status) if args.status else None
    for view in _store(stack).list_newest(status=status, limit=args.limit):
        print(view.model_dump_json())
    return 0


def show_command(args: argparse.Namespace, stack: Stack) -> int:
    """Exit 1 when there is no such process."""
    store = _store(stack)
    process = store.get(args.process_id)
    if process is None:
        print(
            f"landbot-resume: no process {args.process_id} in table {store.table_name}"
            " (never created, or deleted after its expiry)",
            file=sys.stderr,
        )
        return 1
    print(process.model_dump_json(indent=2))
    return 0
