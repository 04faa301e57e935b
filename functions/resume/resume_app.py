"""Completion queue consumer: each record is a payment event or a plain completion message."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from landbot_resume.events import completion_from_message
from landbot_resume.landbot import DEFAULT_API_URL, LandbotClient
from landbot_resume.ratelimit import SharedRateLimiter
from landbot_resume.resume import ResumeResult, resume_process
from landbot_resume.secrets import get_secret
from landbot_resume.store import ProcessStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# The records of a batch are resumed side by side (the rate limiter paces their Landbot
# calls). Every record failing (Landbot down) is reported like any partial failure, not as
# a crash: the records are retried either way, and the errors alarm stays for real faults.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
store = ProcessStore(os.environ["PROCESSES_TABLE"])
RATE_LIMIT = int(os.environ.get("LANDBOT_RATE_LIMIT", "10"))
landbot = LandbotClient(
    token=lambda: get_secret(os.environ["LANDBOT_TOKEN_SECRET"]),
    base_url=os.environ.get("LANDBOT_API_URL", DEFAULT_API_URL),
    limiter=SharedRateLimiter(store.table_name, RATE_LIMIT) if RATE_LIMIT > 0 else None,
    timeout=(3.05, float(os.environ.get("LANDBOT_TIMEOUT_SECONDS", "10"))),
)
# Stop starting Landbot calls this long before the invocation's end, so a record that
# cannot finish is handed back (and its claim released) instead of being cut off.
SAFETY_SECONDS = 3.0
_METRIC_OF_RESULT = {
    ResumeResult.RESUMED: "ProcessesResumed",
    ResumeResult.FAILED: "ProcessesFailed",
    ResumeResult.DUPLICATE: "DuplicateEvents",
}


# requests and boto3 block, so records run on threads: one per record of a batch (the event
# source's BatchSize is 10). The rate limiter, not the thread count, paces the Landbot calls,
# and a record waiting out a retry's backoff holds up none of the others.
RECORD_THREADS = 10
_threads = ThreadPoolExecutor(max_workers=RECORD_THREADS, thread_name_prefix="record")


@tracer.capture_method
async def handle_record(record: SQSRecord) -> None:
    await asyncio.get_running_loop().run_in_executor(_threads, resume_record, record)


def resume_record(record: SQSRecord) -> None:
    try:
        completion = completion_from_message(record.body)
        if completion is None:
            logger.info("Event ignored: it is for no waiting process", message_id=record.message_id)
            metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
            return
        result = resume_process(completion, store, landbot, now=int(time.time()))
    except Exception as error:
        # The record goes back to the queue (and to the DLQ once its receives run out).
        logger.warning(
            "Completion not handled, will be retried",
            message_id=record.message_id,
            error=type(error).__name__,
            reason=str(error),
        )
        metrics.add_metric(name="CompletionErrors", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "Completion handled",
        process_id=completion.process_id,
        outcome=completion.outcome,
        result=result,
    )
    metrics.add_metric(name=_METRIC_OF_RESULT[result], unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    landbot.deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
    return async_process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
