"""`landbot-resume processes list|show|retry|cancel`: the stored processes, through the
layer's store and its moves (landbot_resume.operations), never a second implementation.

`list` prints one JSON object per line (the public view of a process: no customer id, no
context), newest first, ready for jq or grep; `show` prints one stored process, whole, with
its history (every move: when, to which status, its cause and reason). `retry` and `cancel`
print what they did in one line.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

from landbot_resume import operations
from landbot_resume.cli.stack import QUEUE_OUTPUT, TABLE_OUTPUT, CliError, Stack
from landbot_resume.models import (
    NODE_ID_PATTERN,
    OUTCOME_PATTERN,
    PROCESS_ID_PATTERN,
    Process,
    Source,
    Status,
)
from landbot_resume.ports import UnknownProcess
from landbot_resume.queue import SqsCompletionQueue
from landbot_resume.store import DynamoDBProcessStore

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MAX_REASON = 200
# The field's status when an operator resumes a customer at a block of their choice.
DEFAULT_RESUME_STATUS = "cancelled"
_PROCESS_ID = re.compile(PROCESS_ID_PATTERN)
_NODE_ID = re.compile(NODE_ID_PATTERN)
_OUTCOME = re.compile(OUTCOME_PATTERN)


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--status", choices=[status.value for status in Status], help="only those in this status"
    )
    parser.add_argument(
        "--late",
        action="store_true",
        help="only those an outcome reached after their wait ended (late_outcome)",
    )
    parser.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        help=f"print at most this many (1-{MAX_LIMIT}, default: {DEFAULT_LIMIT})",
    )


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("process_id", metavar="ID", type=_process_id, help="e.g. pr_0123...")


def add_retry_arguments(parser: argparse.ArgumentParser) -> None:
    add_show_arguments(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help='also a process FAILED "assign_bot unconfirmed": its jump may have landed'
        " (check the conversation in Landbot first), and is sent again",
    )


def add_cancel_arguments(parser: argparse.ArgumentParser) -> None:
    add_show_arguments(parser)
    parser.add_argument(
        "--resume-at",
        metavar="NODE",
        type=_node_id,
        help="resume the customer at this block (through the completion queue) instead of"
        " leaving the bot where it is",
    )
    parser.add_argument(
        "--status",
        metavar="S",
        type=_outcome,
        help=f"with --resume-at: the field's status (default: {DEFAULT_RESUME_STATUS})",
    )
    parser.add_argument(
        "--reason", type=_reason, help=f"kept in the history (at most {MAX_REASON} characters)"
    )


def _limit(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to {MAX_LIMIT}")
    return int(text)


def _process_id(text: str) -> str:
    if not _PROCESS_ID.fullmatch(text):
        raise argparse.ArgumentTypeError("must be pr_ followed by 32 lowercase hex digits")
    return text


def _node_id(text: str) -> str:
    if not _NODE_ID.fullmatch(text):
        raise argparse.ArgumentTypeError("must be a Landbot block id (letters, digits, - and _)")
    return text


def _outcome(text: str) -> str:
    if not _OUTCOME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "must start with a lowercase letter, then lowercase letters, digits or _ (at most 32)"
        )
    return text


def _reason(text: str) -> str:
    if len(text) > MAX_REASON:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_REASON} characters")
    return text


def _store(stack: Stack) -> DynamoDBProcessStore:
    (table,) = stack.outputs(TABLE_OUTPUT)
    return DynamoDBProcessStore(table, client=stack.dynamodb())


def _queue(stack: Stack) -> SqsCompletionQueue:
    (queue_url,) = stack.outputs(QUEUE_OUTPUT)
    return SqsCompletionQueue(queue_url, client=stack.sqs())


def list_command(args: argparse.Namespace, stack: Stack) -> int:
    status = Status(args.status) if args.status else None
    for view in _store(stack).list_newest(status=status, limit=args.limit, late_only=args.late):
        print(view.model_dump_json())
    return 0


def show_command(args: argparse.Namespace, stack: Stack) -> int:
    """Exit 1 when there is no such process."""
    store = _store(stack)
    process = store.get(args.process_id)
    if process is None:
        return _no_such_process(args.process_id, store)
    print(process.model_dump_json(indent=2))
    return 0


def retry_command(args: argparse.Namespace, stack: Stack) -> int:
    """Exit 1 when there is no such process or its state does not allow a retry."""
    store = _store(stack)
    try:
        process = operations.retry(
            store, _queue(stack), args.process_id, now=int(time.time()), force=args.force
        )
    except UnknownProcess:
        return _no_such_process(args.process_id, store)
    except operations.NotAllowed as refused:
        return _refused("not retried", refused)
    except operations.NotDelivered as lost:
        raise CliError(str(lost)) from None
    print(
        f"{process.process_id}: PENDING again, its outcome {process.outcome} sent to the"
        f" completion queue (landbot-resume processes show {process.process_id})"
    )
    return 0


def check_cancel(args: argparse.Namespace) -> str | None:
    """What is wrong with the options together, if anything."""
    if args.status and not args.resume_at:
        return "--status goes with --resume-at (the field is set only on a resume)"
    return None


def cancel_command(args: argparse.Namespace, stack: Stack) -> int:
    """Exit 1 when there is no such process or it is no longer waiting."""
    store = _store(stack)
    now = int(time.time())
    try:
        if args.resume_at:
            process = operations.resume_at(
                store,
                _queue(stack),
                args.process_id,
                node_id=args.resume_at,
                outcome=args.status or DEFAULT_RESUME_STATUS,
                now=now,
            )
            done = (
                f"called off; resuming at {process.resume_node_id} with status"
                f" {process.outcome} (through the completion queue)"
            )
        else:
            move = operations.cancel(
                store, args.process_id, now=now, source=Source.OPERATOR, reason=args.reason
            )
            process = move.process
            done = "CANCELLED" if move.moved else "already CANCELLED"
    except UnknownProcess:
        return _no_such_process(args.process_id, store)
    except operations.NotAllowed as refused:
        return _refused("not cancelled", refused)
    except operations.NotDelivered as lost:
        raise CliError(str(lost)) from None
    print(f"{process.process_id}: {done}")
    return 0


def _no_such_process(process_id: str, store: DynamoDBProcessStore) -> int:
    print(
        f"landbot-resume: no process {process_id} in table {store.table_name}"
        " (never created, or deleted after its expiry)",
        file=sys.stderr,
    )
    return 1


def _refused(what: str, refused: operations.NotAllowed) -> int:
    process: Process = refused.process
    print(f"landbot-resume: {process.process_id} {what}: {refused}", file=sys.stderr)
    return 1
