"""Completion queue consumer: each record is a payment event or a plain completion message."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from landbot_resume.events import completion_from_message
from landbot_resume.landbot import CONNECT_TIMEOUT_SECONDS, LandbotClient
from landbot_resume.ratelimit import SharedRateLimiter
from landbot_resume.resume import (
    DEFAULT_LEASE_SECONDS,
    ProcessBusy,
    ResumeResult,
    held_seconds,
    resume_process,
)
from landbot_resume.secrets import get_secret
from landbot_resume.settings import ResumeSettings
from landbot_resume.store import DynamoDBProcessStore
from landbot_resume.token_gate import TokenGate

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

settings = ResumeSettings.from_environ()
logger = Logger()
# Traces the two things a resume waits for: DynamoDB (botocore) and Landbot (requests).
# Patching every library X-Ray knows would import (and trace) sqlite3, httplib and more.
tracer = Tracer(patch_modules=("botocore", "requests"))
metrics = Metrics()
# requests and boto3 block, so records run on threads: one per record of a batch (the event
# source's BatchSize is 10). The rate limiter, not the thread count, paces the Landbot calls,
# and a record waiting out a retry's backoff holds up none of the others.
RECORD_THREADS = 10
_threads = ThreadPoolExecutor(max_workers=RECORD_THREADS, thread_name_prefix="record")
# One client (and connection pool) for the process store and the rate limiter: a cold
# container opens its DynamoDB connections once. Every record thread, the limiter's picking
# and its background stamp writes may each hold a connection.
dynamodb = boto3.client("dynamodb", config=Config(max_pool_connections=RECORD_THREADS + 2))
store = DynamoDBProcessStore(settings.processes_table, client=dynamodb)
limiter = (
    SharedRateLimiter(settings.processes_table, settings.landbot_rate_limit, client=dynamodb)
    if settings.landbot_rate_limit > 0
    else None
)


def landbot_token(*, fresh: bool = False) -> str:
    return get_secret(
        settings.landbot_token_secret, max_age=settings.secret_max_age_seconds, fresh=fresh
    )


# While Landbot refuses the token, the container sends it nothing for a while.
gate = TokenGate(settings.landbot_auth_retry_seconds)
landbot = LandbotClient(
    token=landbot_token,
    fresh_token=lambda: landbot_token(fresh=True),
    gate=gate,
    base_url=settings.landbot_api_url,
    limiter=limiter,
    timeout=(CONNECT_TIMEOUT_SECONDS, settings.landbot_timeout_seconds),
)
_sqs: SQSClient | None = None
_sqs_lock = threading.Lock()
# A record found claimed by another delivery comes back this long after that claim's lease.
AFTER_LEASE_SECONDS = 2
# Stop starting Landbot calls this long before the invocation's end, so a record that
# cannot finish is handed back (and its claim released) instead of being cut off.
SAFETY_SECONDS = 3.0
_METRIC_OF_RESULT = {
    ResumeResult.RESUMED: "ProcessesResumed",
    ResumeResult.FAILED: "ProcessesFailed",
    ResumeResult.DUPLICATE: "DuplicateEvents",
    ResumeResult.LATE: "LateOutcomes",  # alarmed: money may be taken while the bot moved on
}


def lease_seconds() -> int:
    """A claim lasts until this invocation ends (a second more for the clocks): no work on
    it can outlive the invocation, so a concurrent duplicate comes back as soon as it could
    be needed, not after the domain's longer default."""
    left = landbot.deadline + SAFETY_SECONDS - time.time()
    if not math.isfinite(left):  # outside an invocation
        return DEFAULT_LEASE_SECONDS
    return max(1, min(DEFAULT_LEASE_SECONDS, math.ceil(left) + 1))


@tracer.capture_method
def resume_record(record: dict[str, Any]) -> bool:
    """Handles one record; False when it must come back later (it stays on the queue)."""
    message_id = record["messageId"]
    try:
        completion = completion_from_message(record["body"])
        if completion is None:
            logger.info("Event ignored: it is for no waiting process", message_id=message_id)
            metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
            return True
        if gate.refusing():  # no claim, no Landbot call: it would be refused too
            result = ResumeResult.HELD
        else:
            result = resume_process(
                completion,
                store,
                landbot,
                now=int(time.time()),
                resend_unconfirmed=settings.unconfirmed_jumps == "resend",
                lease_seconds=lease_seconds(),
            )
    except ProcessBusy as busy:
        # Another delivery of the same outcome is at work: routine with at-least-once queues.
        logger.info(
            "Process claimed by another delivery, will be retried after its lease",
            message_id=message_id,
            process_id=busy.process_id,
        )
        metrics.add_metric(name="ConcurrentDeliveries", unit=MetricUnit.Count, value=1)
        if busy.lease_until is not None:
            come_back_in(record, busy.lease_until - int(time.time()) + AFTER_LEASE_SECONDS)
        return False
    except Exception as error:
        # The record goes back to the queue (and to the DLQ once its receives run out).
        logger.warning(
            "Completion not handled, will be retried",
            message_id=message_id,
            error=type(error).__name__,
            reason=str(error),
        )
        metrics.add_metric(name="CompletionErrors", unit=MetricUnit.Count, value=1)
        raise
    if result is ResumeResult.HELD:
        deliveries = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
        seconds = held_seconds(deliveries, settings.landbot_auth_retry_seconds)
        logger.warning(
            "Landbot refuses the agent token: completion held, the process still waits",
            message_id=message_id,
            process_id=completion.process_id,
            retry_in_seconds=seconds,
        )
        metrics.add_metric(name="LandbotAuthFailures", unit=MetricUnit.Count, value=1)
        come_back_in(record, seconds)
        return False
    logger.info(
        "Completion handled",
        process_id=completion.process_id,
        outcome=completion.outcome,
        result=result,
    )
    metrics.add_metric(name=_METRIC_OF_RESULT[result], unit=MetricUnit.Count, value=1)
    return True


def come_back_in(record: dict[str, Any], seconds: int) -> None:
    """Schedule a record handed back (its visibility), instead of the queue's timeout."""
    try:
        sqs().change_message_visibility(
            QueueUrl=settings.completion_queue_url,
            ReceiptHandle=record["receiptHandle"],
            VisibilityTimeout=max(seconds, 1),
        )
    except (BotoCoreError, ClientError) as error:
        # It comes back after the queue's visibility timeout instead.
        logger.warning(
            "Record not rescheduled",
            message_id=record["messageId"],
            error=type(error).__name__,
            reason=str(error),
        )


def sqs() -> SQSClient:
    """Made on first use: most invocations never hand a record back."""
    global _sqs
    with _sqs_lock:
        if _sqs is None:
            _sqs = boto3.client("sqs")
        return _sqs


def handled(record: dict[str, Any]) -> bool:
    """False when the record must stay on the queue to be retried."""
    try:
        return resume_record(record)
    except Exception:
        return False  # already logged and counted; the record stays on the queue


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resumes the batch's records side by side and reports the failed ones (partial batch
    response). Every record failing (Landbot down) is reported like any partial failure,
    not as a crash: the records are retried either way, and the errors alarm stays for real
    faults."""
    landbot.deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
    records: list[dict[str, Any]] = event["Records"]
    results = list(_threads.map(handled, records))
    if limiter is not None:
        try:
            limiter.flush()  # before Lambda freezes the container
        except Exception as error:
            logger.warning(
                "Rate limiter stamp not moved", error=type(error).__name__, reason=str(error)
            )
    failed = [record["messageId"] for record, ok in zip(records, results, strict=True) if not ok]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
