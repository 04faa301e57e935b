"""Timeouts: a wait that gets no outcome in time is resumed with the outcome "timeout".

Mechanism: a sweeper over a sparse index of deadlines. A process that waits with a deadline
carries `due_at` (epoch seconds), the sort key of the table's ByDeadline index (hash key:
status); every move out of PENDING removes it, so the index holds only the processes that
still wait. The timeouts function runs once a minute (an EventBridge schedule), queries the
index for PENDING processes due now or earlier, and for each one:
1. postpones its due time by REFIRE_SECONDS, on the condition that it still waits with the
   due time the index showed (the index is eventually consistent, and two sweeps may
   overlap: only one of them gets past this write);
2. puts a timeout message on the completion queue, the path every outcome takes: the
   resume function claims the process (the first outcome wins: a payment that arrived
   first resumes it, and the timeout is a duplicate), sets the field with
   `status: "timeout"` and jumps to `timeout_node_id`.
If that message never claims the process (it was lost, or dead-lettered before a delivery
claimed the process), the postponed due time fires again REFIRE_SECONDS later; once claimed,
the process is the resume function's, with its retries, dead-letter queue and alarms.

Precision: a deadline is seen by the first sweep after it, so its message is queued within
about 60 s of the deadline (a rate(1 minute) schedule fires once a minute, at a second of
its own choosing), and the customer is resumed within about 90 s when the queue is not
backed up (the resume function gets a batch within a second or two and needs a second or
two per resume). Behind a backlog (Landbot's 10 requests/s per token paces every resume) a
timeout waits its turn like any outcome. The local stack sweeps every second: measured
there, 40 waits of 2-6 s started 3 a second reached Landbot -0.2 to 0.8 s after their
deadlines (median 0.3 s: a deadline is a whole second, so a wait may end up to a second
before its timeout_seconds ran out in full); started 8 a second, above the 5 resumes a second
Landbot's limit allows, 0.2-3.2 s (median 1.2 s): the backlog, not the sweep.

Limits: a sweep sends at most MAX_PER_SWEEP timeouts and stops early when its invocation's
time runs short (the rest are due for the next sweep): some thousands a minute, far above
the 600 resumes a minute Landbot's rate limit allows. The index keeps every waiting process
with a deadline under one key (status PENDING): DynamoDB takes about 1,000 writes a second
on one key (process starts plus ends), a hundred times Landbot's resume rate.

Failure modes: a failed or throttled sweep leaves the processes due (the next sweep sends
them; the function's errors alarm); a disabled schedule sends nothing (its invocations
alarm). A timeout travels the completion queue, so the queue's retries, dead-letter queue
and alarms apply to it as to any outcome.

Cost per million processes that wait with a timeout (on-demand list prices of us-east-1:
$0.625 per million DynamoDB write units, $0.40 per million SQS requests): the index costs
one write unit when a process starts and one when it stops waiting, 2M units or about $1.25,
whether or not the timeout fires. A timeout that fires adds the conditional postpone (one
write on the table, two on the index: 3M units, about $1.90 per million) and a tenth of a
SendMessageBatch (about $0.04 per million), then the resume any outcome costs. The sweeps
cost the same whatever the volume: one query and one short invocation a minute, some 43,800
a month, a few cents.
"""

from __future__ import annotations

import time

from landbot_resume.models import TIMEOUT_OUTCOME, CompletionMessage
from landbot_resume.ports import CompletionQueue, ProcessStore

# How long a fired timeout (or an operator's delivery) waits before it is sent again, while
# the process still waits: longer than a busy queue takes to hand it to the resume function.
REFIRE_SECONDS = 300
MAX_PER_SWEEP = 5000
SEND_EVERY = 10  # timeouts: the first ones are queued before the last ones are postponed


def timeout_message(process_id: str) -> CompletionMessage:
    return CompletionMessage(process_id=process_id, status=TIMEOUT_OUTCOME, sent_by="timeout")


def sweep(store: ProcessStore, queue: CompletionQueue, *, now: int, stop_at: float) -> int:
    """Send a timeout for every process due at `now`, the most overdue first, ten to a
    batch; stops at `stop_at` (a time.time()). Returns how many were sent."""
    sent = 0
    batch: list[CompletionMessage] = []
    for process_id, due_at in store.due(now, MAX_PER_SWEEP):
        if time.time() >= stop_at:
            break
        if store.postpone(process_id, due_at, until=now + REFIRE_SECONDS):
            batch.append(timeout_message(process_id))
        if len(batch) == SEND_EVERY:
            sent += _send(queue, batch)
            batch = []
    return sent + _send(queue, batch)


def _send(queue: CompletionQueue, batch: list[CompletionMessage]) -> int:
    """How many were sent; the others fire again after REFIRE_SECONDS."""
    return len(batch) - len(queue.send(batch)) if batch else 0
