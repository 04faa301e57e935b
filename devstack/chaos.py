"""A chaos run on the local stack: many processes, messy deliveries, a faulty Landbot.

Creates N processes through the webhook API a burst at a time and puts each burst's payment
events on the bus while the next burst starts; events for processes nobody created come
first, duplicates and late failures after successes last. Meanwhile the Landbot simulator
answers a share of calls with 500s, 429s, answers slower than the client waits, and dropped
connections. Then it accounts for every process: resumed, failed (by reason), waiting in the
DLQ, or lost; and for every jump Landbot applied."""

from __future__ import annotations

import multiprocessing
import random
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from devstack.aws import Resources, put_events
from devstack.bots import TIMEOUT_NODE_ID, cancel_processes, create_processes
from devstack.landbot_simulator import Faults
from devstack.samples import stripe_event
from devstack.stack import LocalStack, Ports
from landbot_resume.resume import UNCONFIRMED

CEILING_RESUMES_PER_SECOND = 5.0  # 10 Landbot requests/s, two per resume
FIRST_CUSTOMER = 500_000_001


@dataclass(frozen=True)
class ChaosConfig:
    processes: int = 500
    duplicates: float = 0.12  # share of processes whose event is delivered twice
    late_failures: float = 0.05  # share of paid processes that also get a failure afterwards
    unknown: int = 20  # events for processes nobody created
    burst: int = 150  # events put on the bus at once
    burst_pause: float = 2.0
    faults: Faults = field(
        default_factory=lambda: Faults(
            error_rate=0.08,
            throttle_rate=0.06,
            slow_rate=0.035,
            drop_rate=0.02,
            lost_rate=0.015,
            slow_seconds=1.5,
        )
    )
    # Waits that end otherwise: by their timeout (some paid after it), or called off by the
    # bot (some paid after that).
    timeouts: int = 30
    paid_after_timeout: int = 10
    timeout_seconds: int = 20
    cancels: int = 20
    concurrent_duplicates: float = 0.05  # share of processes whose event comes twice at once
    # A window in which Landbot refuses the agent token (401 on every call), then takes it.
    auth_fault_after: float = 3.0
    auth_fault_seconds: float = 20.0
    unconfirmed_jumps: str = "fail"  # or "resend": the template's UnconfirmedJumps
    client_timeout: float = 1.0  # the resume function's Landbot read timeout in this run
    visibility_timeout: int = 3  # so retried records come back within the run
    drain_timeout: float = 150.0
    seed: int = 7


@dataclass
class ChaosReport:
    created: int = 0
    resumed: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    in_dlq: int = 0
    unknown_in_dlq: int = 0
    lost: list[str] = field(default_factory=list)
    # RESUMED although no jump of theirs landed (the simulator's record of the customer).
    resumed_unlanded: list[str] = field(default_factory=list)
    unconfirmed_landed: int = 0  # FAILED "assign_bot unconfirmed", the jump did land
    unconfirmed_unlanded: int = 0  # ... and it never landed: the customer is still parked
    double_resumed: int = 0
    resend: bool = False  # UnconfirmedJumps=resend: double jumps are that policy's cost
    timed_out: int = 0
    timeouts_expected: int = 0
    paid_before_timeout: int = 0  # a payment meant for after the timeout won the race
    cancelled: int = 0
    jumped_after_cancel: int = 0
    late_recorded: int = 0
    late_sent: int = 0
    held_then_resumed: int = 0
    wrong_outcome: int = 0
    peak_rate: int = 0
    rate_limited: int = 0  # 429s Landbot's own limit gave (not injected ones)
    calls: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    start_seconds: float = 0.0  # the stack's start, until the first burst
    create_seconds: float = 0.0
    drain_seconds: float = 0.0
    tail_seconds: float = 0.0  # from Landbot's last call until every record is settled
    seconds: float = 0.0

    @property
    def drain_fraction(self) -> float:
        finished = self.resumed + sum(self.failed.values())
        if not self.drain_seconds:
            return 0.0
        return finished / self.drain_seconds / CEILING_RESUMES_PER_SECOND

    @property
    def parked(self) -> int:
        """Customers still waiting with nothing coming for them, or told they resumed when
        they did not: each needs a person, and none was told."""
        return len(self.lost) + len(self.resumed_unlanded)

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and not self.parked
            and not self.jumped_after_cancel
            and (self.resend or self.double_resumed == 0)
            and self.peak_rate <= 10
        )

    def table(self) -> str:
        fault_share = sum(self.faults.values()) / max(self.calls, 1)
        rows = [
            ("processes created", str(self.created)),
            ("resumed", str(self.resumed)),
            ("failed", str(sum(self.failed.values()))),
            *((f"  failed: {reason}", str(n)) for reason, n in self.failed.most_common()),
            ("in DLQ (unknown process)", f"{self.in_dlq} ({self.unknown_in_dlq})"),
            ("lost (must be 0)", str(len(self.lost))),
            ("customers parked with nobody told (must be 0)", str(self.parked)),
            (
                "FAILED unconfirmed: jump landed / never landed",
                f"{self.unconfirmed_landed} / {self.unconfirmed_unlanded}",
            ),
            (
                "double jumps (the resend policy's cost)"
                if self.resend
                else "double-resumed (must be 0)",
                str(self.double_resumed),
            ),
            (
                "timed out, resumed at the timeout block",
                f"{self.timed_out} of {self.timeouts_expected}"
                + (f" ({self.paid_before_timeout} paid first)" if self.paid_before_timeout else ""),
            ),
            ("cancelled by the bot", str(self.cancelled)),
            ("jumped after a cancel (must be 0)", str(self.jumped_after_cancel)),
            ("late outcomes recorded, not replayed", f"{self.late_recorded} of {self.late_sent}"),
            ("held during the auth fault, then resumed", str(self.held_then_resumed)),
            ("resumed with another outcome", str(self.wrong_outcome)),
            ("peak Landbot requests/s (<= 10)", str(self.peak_rate)),
            ("429s from the rate limit", str(self.rate_limited)),
            ("Landbot calls / faults injected", f"{self.calls} / {fault_share:.0%}"),
            *((f"  fault: {kind}", str(n)) for kind, n in sorted(self.faults.items())),
            (
                "drain rate (of 5 resumes/s)",
                f"{self.drain_fraction:.2f} ({self.drain_seconds:.1f} s)",
            ),
            (
                "run time (starting / creating / after the last call)",
                f"{self.seconds:.1f} s ({self.start_seconds:.1f} / {self.create_seconds:.1f}"
                f" / {self.tail_seconds:.1f} s)",
            ),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value:>12}" for name, value in rows]
        return "\n".join([*lines, "PASS" if self.ok else "FAIL"])


def run(config: ChaosConfig) -> ChaosReport:
    started = time.monotonic()
    rng = random.Random(config.seed)  # noqa: S311 - a seeded, repeatable run, not a secret
    stack = LocalStack(
        Ports.ephemeral(),
        quiet=True,
        overrides={"CompletionQueue": {"VisibilityTimeout": config.visibility_timeout}},
        webhook_containers=4,  # a burst of bots starting processes: Lambda would scale out
        environment={
            "LANDBOT_TIMEOUT_SECONDS": str(config.client_timeout),
            "UNCONFIRMED_JUMPS": config.unconfirmed_jumps,
            # 5, 10, 20 s between deliveries while Landbot refuses the token.
            "LANDBOT_AUTH_RETRY_SECONDS": "5",
            # Retries are the point of this run; their warnings would bury the table.
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        },
    )
    report = ChaosReport(resend=config.unconfirmed_jumps == "resend")
    with stack:
        simulator = stack.simulator
        assert simulator is not None
        waits = config.timeouts + config.paid_after_timeout + config.cancels
        customers = list(range(FIRST_CUSTOMER, FIRST_CUSTOMER + config.processes + waits))
        for customer in customers:
            # Most bots set @data = {} before the webhook; some never did (POST path).
            fields = {"data": {"type": "object", "value": {}, "extra": {}}}
            simulator.add_customer(customer, fields if rng.random() > 0.1 else {})
        simulator.set_faults(config.faults)  # the webhook never calls Landbot: safe already
        # The bot side runs in another process: this one hosts the simulator, whose clock
        # measures Landbot's rate and must not wait behind bursts of HTTP and boto3 calls.
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        driver = context.Process(
            target=_drive,
            args=(
                stack.webhook_url,
                stack.webhook_token,
                stack.resources,
                customers,
                config,
                results,
            ),
            daemon=True,
        )
        driver.start()
        drain_started = results.get(timeout=config.drain_timeout)
        token = stack.landbot_token
        refuse = threading.Timer(config.auth_fault_after, simulator.set_tokens)
        accept = threading.Timer(
            config.auth_fault_after + config.auth_fault_seconds, simulator.set_tokens, (token,)
        )
        if config.auth_fault_seconds > 0:
            refuse.start()
            accept.start()
        processes, expected, kinds, report.create_seconds = results.get(
            timeout=config.drain_timeout
        )
        driver.join()
        if config.auth_fault_seconds > 0:
            accept.join()
        report.created = len(processes)
        stack.wait_for_drain(dead_letters=config.unknown, timeout=config.drain_timeout)
        # The drain runs from the first burst to the last call Landbot saw.
        last_call = max(call.time for call in simulator.calls())
        report.drain_seconds = last_call - drain_started
        _wait_for_timeouts(stack, [pid for pid, kind in kinds.items() if kind in TIMED], 60.0)
        report.start_seconds = drain_started - started
        report.tail_seconds = time.monotonic() - last_call
        _account(stack, report, processes, expected, kinds)
    report.seconds = time.monotonic() - started
    return report


def _drive(
    webhook_url: str,
    webhook_token: str,
    resources: Resources,
    customers: list[int],
    config: ChaosConfig,
    results: Any,
) -> None:
    """The bots and Stripe: a burst of bots start their processes, their payment events go
    on the bus at once while the next burst starts; duplicates and late failures last.

    Puts the moment of the first burst on `results`, then the processes, what each one must
    end with, and how long creating them took in all."""
    rng = random.Random(config.seed)  # noqa: S311 - a seeded, repeatable run, not a secret
    client = resources.client("events")

    def emit(events: list[dict[str, Any]]) -> None:
        put_events(client, resources.bus, events)

    processes: dict[str, int] = {}
    expected: dict[str, str] = {}
    kinds: dict[str, str] = {}
    later: list[dict[str, Any]] = []
    create_seconds = 0.0
    # First the waits that end without an event: their timeouts come due during the drain.
    waits = config.timeouts + config.paid_after_timeout + config.cancels
    special, customers = customers[:waits], customers[waits:]
    timed_at = time.monotonic()
    timed = create_processes(
        webhook_url,
        webhook_token,
        special[: config.timeouts + config.paid_after_timeout],
        extra={"timeout_seconds": config.timeout_seconds, "timeout_node_id": TIMEOUT_NODE_ID},
    )
    for index, process_id in enumerate(timed):
        kinds[process_id] = "timeout" if index < config.timeouts else "paid_after_timeout"
        expected[process_id] = "timeout"
    called_off = create_processes(
        webhook_url, webhook_token, special[config.timeouts + config.paid_after_timeout :]
    )
    cancel_processes(webhook_url, webhook_token, list(called_off))
    for index, process_id in enumerate(called_off):
        kinds[process_id] = "cancelled_paid" if index % 2 else "cancelled"
        if index % 2:  # the customer paid after all, after the bot moved on
            later.append(stripe_event("checkout.session.completed", process_id))
    processes.update(timed)
    processes.update(called_off)
    create_seconds += time.monotonic() - timed_at
    # Events for unknown processes go first: each needs maxReceiveCount receives to reach the
    # DLQ, which must not stretch the end of the run.
    unknown = _unknown_events(config.unknown)
    for start in range(0, len(customers), config.burst):
        started = time.monotonic()
        created = create_processes(
            webhook_url, webhook_token, customers[start : start + config.burst]
        )
        create_seconds += time.monotonic() - started
        burst_expected, burst, burst_later = _plan(created, config, rng)
        processes.update(created)
        expected.update(burst_expected)
        later += burst_later
        if not start:
            results.put(time.monotonic())
        emit(unknown + burst)
        unknown = []
    rng.shuffle(later)
    time.sleep(config.burst_pause)
    emit(later)
    # Payments for the timed-out waits, well after their deadline.
    time.sleep(max(0.0, timed_at + config.timeout_seconds + 15 - time.monotonic()))
    emit(
        [
            stripe_event("checkout.session.completed", process_id)
            for process_id, kind in kinds.items()
            if kind == "paid_after_timeout"
        ]
    )
    results.put((processes, expected, kinds, create_seconds))


def _plan(
    processes: dict[str, int], config: ChaosConfig, rng: random.Random
) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """The outcome each process should be resumed with, its events, and the ones to deliver
    late (duplicates, failures after a success)."""
    kinds = [
        ("checkout.session.completed", "paid", 0.85),
        ("checkout.session.async_payment_failed", "failed", 0.10),
        ("checkout.session.expired", "expired", 0.05),
    ]
    expected: dict[str, str] = {}
    first: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []
    for process_id in processes:
        event_type, outcome, _ = rng.choices(kinds, weights=[k[2] for k in kinds])[0]
        expected[process_id] = outcome
        event = stripe_event(event_type, process_id)
        first.append(event)
        if rng.random() < config.concurrent_duplicates:
            first.append(event)  # the same event twice in one burst: two deliveries at once
        if rng.random() < config.duplicates:
            later.append(event)  # the very same event, delivered again
        if outcome == "paid" and rng.random() < config.late_failures:
            later.append(stripe_event("checkout.session.async_payment_failed", process_id))
    rng.shuffle(first)
    return expected, first, later


def _unknown_events(count: int) -> list[dict[str, Any]]:
    """Payment events for processes nobody created."""
    return [
        stripe_event("checkout.session.completed", f"pr_{uuid.uuid4().hex}") for _ in range(count)
    ]


# Kinds of waits that end by their timeout.
TIMED = ("timeout", "paid_after_timeout")


def _wait_for_timeouts(stack: LocalStack, process_ids: list[str], timeout: float) -> None:
    """Wait until none of these waits is PENDING any more (their timeouts have fired)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = stack.statuses()
        if all(statuses.get(pid, {}).get("status") != "PENDING" for pid in process_ids):
            stack.wait_for_drain(timeout=max(0.0, deadline - time.monotonic()))
            return
        time.sleep(1.0)


def _account(
    stack: LocalStack,
    report: ChaosReport,
    processes: dict[str, int],
    expected: dict[str, str],
    kinds: dict[str, str],
) -> None:
    simulator = stack.simulator
    assert simulator is not None
    statuses = stack.statuses()
    in_dlq = _dlq_process_ids(stack)
    report.in_dlq = len(in_dlq)
    report.unknown_in_dlq = sum(1 for pid in in_dlq if pid not in processes)
    calls = simulator.calls()
    # Where each customer really is: the jumps the simulator applied, answered or not.
    landed = Counter(
        call.customer_id for call in calls if "/assign_bot/" in call.path and call.applied
    )
    for process_id, state in statuses.items():
        if process_id not in processes:
            continue
        customer = processes[process_id]
        kind = kinds.get(process_id)
        report.late_recorded += state.get("late_outcome") is not None
        if state["status"] == "RESUMED":
            report.resumed += 1
            paid_first = kind == "paid_after_timeout" and state["outcome"] == "paid"
            report.paid_before_timeout += paid_first
            report.wrong_outcome += state["outcome"] != expected[process_id] and not paid_first
            report.timed_out += state["outcome"] == "timeout"
            if not landed[customer]:
                report.resumed_unlanded.append(process_id)
        elif state["status"] == "CANCELLED":
            report.cancelled += 1
            report.jumped_after_cancel += bool(landed[customer])
        elif state["status"] == "FAILED":
            reason = state["reason"] or "?"
            report.failed[reason] += 1
            if reason.startswith(UNCONFIRMED):
                if landed[customer]:
                    report.unconfirmed_landed += 1
                else:
                    report.unconfirmed_unlanded += 1
        elif process_id not in in_dlq:
            report.lost.append(process_id)
    report.lost += [pid for pid in processes if pid not in statuses]
    report.double_resumed = sum(n - 1 for n in landed.values() if n > 1)
    report.timeouts_expected = sum(kind in TIMED for kind in kinds.values())
    report.late_sent = sum(
        kind in ("paid_after_timeout", "cancelled_paid") for kind in kinds.values()
    )
    refused = {
        call.customer_id
        for call in calls
        if call.status == 401 and call.token == stack.landbot_token and call.customer_id
    }
    report.held_then_resumed = sum(
        1
        for pid, state in statuses.items()
        if pid in processes and processes[pid] in refused and state["status"] == "RESUMED"
    )
    report.calls = len(calls)
    report.faults = Counter(call.fault for call in calls if call.fault)
    report.rate_limited = sum(1 for call in calls if call.status == 429 and not call.fault)
    report.peak_rate = simulator.peak_rate()


def _dlq_process_ids(stack: LocalStack) -> list[str]:
    """The process id each dead-lettered message is for (messages stay in the DLQ)."""
    sqs = stack.resources.client("sqs")
    ids: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=stack.resources.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return ids
        for message in messages:
            found = re.search(r"pr_[0-9a-f]{32}", message["Body"])
            ids.append(found.group(0) if found else "?")


def main(argv: list[str] | None = None) -> int:
    import argparse

    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m devstack chaos", description=__doc__)
    parser.add_argument("--processes", type=int, default=defaults.processes)
    parser.add_argument("--unknown", type=int, default=defaults.unknown)
    parser.add_argument("--burst", type=int, default=defaults.burst)
    parser.add_argument("--visibility-timeout", type=int, default=defaults.visibility_timeout)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--timeouts", type=int, default=defaults.timeouts)
    parser.add_argument("--paid-after-timeout", type=int, default=defaults.paid_after_timeout)
    parser.add_argument("--timeout-seconds", type=int, default=defaults.timeout_seconds)
    parser.add_argument("--cancels", type=int, default=defaults.cancels)
    parser.add_argument(
        "--auth-fault-seconds",
        type=float,
        default=defaults.auth_fault_seconds,
        help="how long Landbot refuses the agent token (0: never)",
    )
    parser.add_argument(
        "--unconfirmed-jumps", choices=("fail", "resend"), default=defaults.unconfirmed_jumps
    )
    args = parser.parse_args(argv)
    config = ChaosConfig(
        processes=args.processes,
        unknown=args.unknown,
        burst=args.burst,
        visibility_timeout=args.visibility_timeout,
        seed=args.seed,
        timeouts=args.timeouts,
        paid_after_timeout=args.paid_after_timeout,
        timeout_seconds=args.timeout_seconds,
        cancels=args.cancels,
        auth_fault_seconds=args.auth_fault_seconds,
        unconfirmed_jumps=args.unconfirmed_jumps,
    )
    print(
        f"chaos run: {config.processes} processes paid or failed, {config.timeouts} timing out"
        f" (+{config.paid_after_timeout} paid after), {config.cancels} cancelled,"
        f" {config.unknown} unknown; faults on, Landbot refuses the token for"
        f" {config.auth_fault_seconds:g} s; unconfirmed jumps: {config.unconfirmed_jumps}",
        flush=True,
    )
    report = run(config)
    print(report.table())
    return 0 if report.ok else 1
