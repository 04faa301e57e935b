"""The timeouts sweeper: on a schedule, each wait past its deadline gets a timeout message on
the completion queue (landbot_resume.timeouts: the mechanism, its precision and limits)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from landbot_resume.queue import SqsCompletionQueue
from landbot_resume.settings import TimeoutsSettings
from landbot_resume.store import DynamoDBProcessStore
from landbot_resume.timeouts import sweep

settings = TimeoutsSettings.from_environ()
logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
store = DynamoDBProcessStore(settings.processes_table)
queue = SqsCompletionQueue(settings.completion_queue_url)
# Stop postponing timeouts this long before the invocation's end: the batch in hand is
# still sent, and whatever is left is due for the next sweep.
SAFETY_SECONDS = 5.0


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    stop_at = time.time() + context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
    sent = sweep(store, queue, now=int(time.time()), stop_at=stop_at)
    if sent:  # a sweep with nothing due (most of them) writes no log line at all
        metrics.add_metric(name="TimeoutsSent", unit=MetricUnit.Count, value=sent)
        logger.info("Timeouts sent", count=sent)
    return {"sent": sent}
