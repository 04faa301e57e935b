"""Runs the template's scheduled functions, as EventBridge would (moto stores schedules and
rules but never fires them): each function with a Schedule event gets an execution
environment of its own, invoked with a Scheduled Event every `period` seconds. The period
is the local stack's, not the template's rate, so that short local timeouts fire within a
second or two of their deadline."""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

from devstack.aws import ACCOUNT, REGION, STACK_NAME
from devstack.lambdas import STOP_SECONDS, ContainerPool
from devstack.template import load_template

SCHEDULE_EVENTS = ("Schedule", "ScheduleV2")


def scheduled_functions() -> list[str]:
    """The template's functions that a schedule invokes."""
    return sorted(
        logical
        for logical, spec in load_template()["Resources"].items()
        if spec["Type"] == "AWS::Serverless::Function"
        and any(
            event["Type"] in SCHEDULE_EVENTS
            for event in spec["Properties"].get("Events", {}).values()
        )
    )


def scheduled_event(logical_id: str) -> dict[str, Any]:
    """What an EventBridge schedule hands the function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK_NAME}-{logical_id}"],
        "detail": {},
    }


class Scheduler:
    """One execution environment per scheduled function, each invoked every `period`
    seconds from a thread of its own (an invocation that runs long delays the next one; on
    AWS the next one may overlap it)."""

    def __init__(
        self,
        environments: dict[str, dict[str, str]],
        period: float,
        *,
        quiet: bool = False,
    ) -> None:
        self.period = period
        self._stopping = threading.Event()
        self.functions = {
            logical: ContainerPool(logical, 1, environment=environments[logical], quiet=quiet)
            for logical in scheduled_functions()
        }
        self._threads = [
            threading.Thread(target=self._run, args=(logical,), daemon=True, name=logical)
            for logical in self.functions
        ]

    def start(self) -> Scheduler:
        for thread in self._threads:
            thread.start()
        return self

    def request_stop(self) -> None:
        self._stopping.set()
        for function in self.functions.values():
            function.request_stop()

    def stop(self) -> None:
        self.request_stop()
        self.wait_stopped(time.monotonic() + STOP_SECONDS)

    def wait_stopped(self, deadline: float) -> None:
        for function in self.functions.values():
            function.wait_stopped(deadline)

    def _run(self, logical_id: str) -> None:
        function = self.functions[logical_id]
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                function.invoke(scheduled_event(logical_id))
            except Exception:  # Lambda logs it and the next tick comes anyway
                if self._stopping.is_set():
                    return
                traceback.print_exc()
            self._stopping.wait(max(0.0, self.period - (time.monotonic() - started)))
