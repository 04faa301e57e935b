"""The whole service on one machine, without Docker: moto, the Landbot simulator, the HTTP
API, the queue poller and the scheduled functions (timeouts), wired from template.yaml."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

from devstack.aws import (
    CREDENTIALS,
    REGION,
    Resources,
    bus_entry,
    create_resources,
    register_stack,
)
from devstack.bots import create_processes
from devstack.gateway import Gateway
from devstack.lambdas import STOP_SECONDS, ContainerPool
from devstack.landbot_simulator import LandbotSimulator
from devstack.poller import PollingContainers, maximum_concurrency
from devstack.scheduler import Scheduler
from devstack.template import ROOT

warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


class MotoServer:
    """moto in server mode (with atomic DynamoDB writes, see moto_server.py), in a process of
    its own: it is the busiest part of the stack, and the simulator's clock (which measures
    Landbot's rate) must not wait for it."""

    def __init__(self, port: int = 5000) -> None:
        self.port = port or _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"port {self.port} is in use: is another stack running?")
        # A fixed command line: this interpreter and a module of this package.
        self._process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "devstack.moto_server",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: a Ctrl-C must not end it before the
            # functions still talking to it have stopped (stop() ends it last).
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._process.returncode}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not start within 30 s")

    def stop(self) -> None:
        # Its state lives in memory only: nothing to save, so no graceful shutdown to wait
        # for (which took seconds after a chaos run).
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Ports:
    api: int = 3000
    aws: int = 5000
    landbot: int = 8081

    @classmethod
    def ephemeral(cls) -> Ports:
        return cls(0, 0, 0)


DEFAULT_PORTS = Ports()


class LocalStack:
    """Start with `with LocalStack() as stack:`; everything stops on exit.

    `landbot_api_url` points the resume function at another Landbot-compatible server, with
    `landbot_token`, and then no simulator is started. The scheduled functions (the timeouts
    sweeper) run every `schedule_seconds` (0: never), not once a minute as on AWS.
    """

    def __init__(
        self,
        ports: Ports | None = None,
        *,
        landbot_api_url: str | None = None,
        landbot_token: str | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        poll: bool = True,
        quiet: bool = False,
        landbot_rate_limit: float = 10.0,
        environment: dict[str, str] | None = None,
        webhook_containers: int = 2,
        schedule_seconds: float = 1.0,
    ) -> None:
        self.ports = ports or Ports()
        self.landbot_api_url = landbot_api_url
        self.landbot_token = landbot_token or ""
        self.overrides = overrides
        self.poll = poll
        self.quiet = quiet
        self.landbot_rate_limit = landbot_rate_limit
        self.environment = environment or {}
        self.webhook_containers = webhook_containers
        self.schedule_seconds = schedule_seconds
        self.simulator: LandbotSimulator | None = None
        self._started: list[Any] = []

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.moto = MotoServer(self.ports.aws).start()
        self._started.append(self.moto)
        endpoint = self.moto.endpoint
        if self.landbot_api_url is None:
            self.landbot_token = self.landbot_token or secrets.token_hex(20)
            self.simulator = LandbotSimulator(
                port=self.ports.landbot,
                tokens=[self.landbot_token],
                rate_limit=self.landbot_rate_limit,
            ).start()
            self._started.append(self.simulator)
            self.landbot_api_url = self.simulator.url
        self.resources, environments = create_resources(
            endpoint,
            landbot_token=self.landbot_token,
            landbot_api_url=self.landbot_api_url,
            overrides=self.overrides,
        )
        aws = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        # Tests in this process use the same AWS as the functions (boto3's defaults).
        os.environ.update(aws)
        self.environments = {
            logical: {**aws, **environment, **self.environment}
            for logical, environment in environments.items()
        }
        # Each function runs in execution environments of its own, started now.
        self.webhook = self._pool("WebhookFunction", self.webhook_containers)
        # For invoking the resume function directly, as `sam local invoke` would.
        self.resume = self._pool("ResumeFunction", 1)
        # Up means ready: the first request does not wait for a cold start.
        self.webhook.wait_ready()
        self.resume.wait_ready()
        self.gateway = Gateway(self.webhook, port=self.ports.api).start()
        self._started.append(self.gateway)
        if self.poll:
            concurrency = maximum_concurrency("ResumeFunction", self.resources.parameters)
            pollers = PollingContainers(
                "ResumeFunction",
                self.resources,
                concurrency,
                environment=self.environments["ResumeFunction"],
                quiet=self.quiet,
            )
            self._started.append(pollers.start())
        if self.schedule_seconds > 0:
            scheduler = Scheduler(self.environments, self.schedule_seconds, quiet=self.quiet)
            self._started.append(scheduler.start())
        # What `landbot-resume --endpoint-url` finds the resources by, as on AWS.
        register_stack(self.resources, {"WebhookUrl": self.webhook_url})

    def _pool(self, logical_id: str, size: int) -> ContainerPool:
        pool = ContainerPool(
            logical_id, size, environment=self.environments[logical_id], quiet=self.quiet
        )
        self._started.append(pool)
        return pool

    def stop(self) -> None:
        # Every execution environment is told at once and given one deadline, so that their
        # last invocations (or a start still importing) end side by side; then each part
        # stops, the last started first (moto last of all).
        deadline = time.monotonic() + STOP_SECONDS
        for part in self._started:
            if isinstance(part, ContainerPool | PollingContainers | Scheduler):
                part.request_stop()
        while self._started:
            part = self._started.pop()
            if isinstance(part, ContainerPool | PollingContainers | Scheduler):
                part.wait_stopped(deadline)
            else:
                part.stop()

    @property
    def api_url(self) -> str:
        return self.gateway.url

    @property
    def webhook_url(self) -> str:
        return f"{self.gateway.url}/processes"

    @property
    def webhook_token(self) -> str:
        return self.resources.webhook_token

    def store_landbot_token(self, token: str) -> None:
        """Store an agent token in the stack's Landbot token secret, as an owner does on AWS
        (aws secretsmanager put-secret-value); the functions read it when Landbot refuses
        the one they hold."""
        self.resources.client("secretsmanager").put_secret_value(
            SecretId=self.resources.physical["LandbotTokenSecret"], SecretString=token
        )
        self.landbot_token = token

    def start_wait(self, customer_id: int) -> str:
        """A customer of the simulator (with @data = {}, as the bot's Set Variable block
        leaves it) whose bot starts a wait through the webhook API; returns its process id."""
        assert self.simulator is not None, "the customer lives in the Landbot simulator"
        self.simulator.add_customer(
            customer_id, {"data": {"type": "object", "value": {}, "extra": {}}}
        )
        (process_id,) = create_processes(self.webhook_url, self.webhook_token, [customer_id])
        return process_id

    def put_event(self, event: dict[str, Any]) -> None:
        """Put an event on the stack's bus the way a partner event source delivers it."""
        response = self.resources.client("events").put_events(
            Entries=[bus_entry(event, self.resources.bus)]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"event not accepted: {response['Entries']}")

    def send_completion(self, message: dict[str, Any]) -> None:
        """Put a plain completion message on the completion queue."""
        self.resources.client("sqs").send_message(
            QueueUrl=self.resources.queue_url, MessageBody=json.dumps(message)
        )

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Every process in the table: id -> its status, failure reason, outcome and late
        outcome."""
        dynamodb = self.resources.client("dynamodb")
        items: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {"TableName": self.resources.table}
        while True:
            page = dynamodb.scan(**kwargs)
            for item in page["Items"]:
                if "status" in item:
                    items[item["pk"]["S"]] = {
                        "status": item["status"]["S"],
                        "reason": item.get("failure_reason", {}).get("S"),
                        "outcome": item.get("outcome", {}).get("S"),
                        "late_outcome": item.get("late_outcome", {})
                        .get("M", {})
                        .get("outcome", {})
                        .get("S"),
                    }
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def wait_for_drain(self, *, dead_letters: int = 0, timeout: float = 60.0) -> bool:
        """Wait until every message has left the completion queue (handled, or at least
        `dead_letters` of them dead-lettered); False if that took longer than `timeout`.

        Only queue depths are read meanwhile: scanning the table is work for this process,
        which also hosts the simulator whose clock measures Landbot's rate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            depths = self.queue_depths()
            if depths["queue"] == 0 and depths["dlq"] >= dead_letters:
                return True
            time.sleep(0.5)
        return False

    def queue_depths(self) -> dict[str, int]:
        sqs = self.resources.client("sqs")
        depths = {}
        for name, url in (("queue", self.resources.queue_url), ("dlq", self.resources.dlq_url)):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            depths[name] = sum(int(value) for value in attributes.values())
        return depths


__all__ = ["LocalStack", "Ports", "Resources"]
