"""Lambda execution environments of the template's functions, on this machine.

An ExecutionEnvironment is one fresh interpreter (spawned, like a cold start) that imports a
function's handler from its CodeUri with the layer on the path and handles one invocation at
a time, as Lambda's do. The local stack runs its functions in them (ContainerPool, and the
queue pollers); the benchmarks run them with moto inside (InProcessAws) and time work there.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from queue import Queue
from typing import Any, TypeVar

from devstack.aws import CREDENTIALS, REGION, Resources, create_resources
from devstack.template import ROOT, load_template

Handler = Callable[[dict[str, Any], Any], Any]
T = TypeVar("T")
# How long stop() waits for an environment to finish its invocation before killing it.
STOP_SECONDS = 2.0


@dataclass
class LambdaContext:
    """What the handlers read from Lambda's context object."""

    function_name: str
    timeout: float
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = 0.0

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One function of the template, imported from its CodeUri with the layer on the path:
    the inside of one execution environment.

    Calls are serialised: an execution environment handles one event at a time, and
    Powertools' Logger and Metrics rely on that.
    """

    def __init__(self, logical_id: str) -> None:
        template = load_template()
        spec = template["Resources"][logical_id]["Properties"]
        globals_ = template.get("Globals", {}).get("Function", {})
        self.logical_id = logical_id
        self.timeout = float(spec.get("Timeout", globals_.get("Timeout", 3)))
        module_name, _, attribute = spec["Handler"].rpartition(".")
        for path in [*_layer_paths(template), str(ROOT / spec["CodeUri"])]:
            if path not in sys.path:
                sys.path.insert(0, path)
        self.module = importlib.import_module(module_name)
        self.handler: Handler = getattr(self.module, attribute)
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        context = LambdaContext(function_name=self.logical_id, timeout=self.timeout)
        with self._lock:
            context._deadline = time.monotonic() + self.timeout
            return self.handler(event, context)


def _layer_paths(template: dict[str, Any]) -> list[str]:
    return [
        str(ROOT / spec["Properties"]["ContentUri"])
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Serverless::LayerVersion"
    ]


@dataclass(frozen=True)
class InProcessAws:
    """AWS as moto inside the environment (mock_aws, with the local stack's moto patches),
    the template's resources created there, the function pointed at this Landbot."""

    landbot_api_url: str
    landbot_token: str


class ExecutionEnvironment:
    """One execution environment of `logical_id`, started at once, ready on first use.

    `environment` is set before the handler is imported. Without `in_process_aws` the
    function uses whatever AWS that environment (and this process') points at, e.g. the
    local stack's moto server.
    """

    def __init__(
        self,
        logical_id: str,
        *,
        environment: dict[str, str] | None = None,
        quiet: bool = False,
        in_process_aws: InProcessAws | None = None,
    ) -> None:
        self.logical_id = logical_id
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, logical_id, environment or {}, quiet, in_process_aws),
            name=f"{logical_id}-environment",
            daemon=True,
        )
        self._lock = threading.Lock()
        self._ready = False
        self._process.start()
        child.close()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Invoke the handler with `event`; returns what it returned."""
        return self.run(invoke, event)

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run a module-level function (and its arguments, pickled) inside the environment."""
        with self._talking():
            self._connection.send((function, args))
            result: T = self._answer()
            return result

    def wait_ready(self) -> None:
        """Wait until the handler is imported (the cold start is over)."""
        with self._talking():
            pass

    @contextlib.contextmanager
    def _talking(self) -> Iterator[None]:
        """One exchange with the environment at a time, once it is ready; a process that
        died on the way is a RuntimeError."""
        with self._lock:
            try:
                if not self._ready:
                    self._answer()
                    self._ready = True
                yield
            except (EOFError, OSError) as error:
                raise RuntimeError(f"{self.logical_id}: the execution environment is gone") from (
                    error
                )

    def _answer(self) -> Any:
        kind, value = self._connection.recv()
        if kind == "ok":
            return value
        if kind == "error":
            raise value
        raise RuntimeError(f"{self.logical_id} did not start:\n{value}")

    def stop(self) -> None:
        """Ends the environment: at once when idle, after STOP_SECONDS at most otherwise."""
        self.request_stop()
        self.wait_stopped(time.monotonic() + STOP_SECONDS)

    def request_stop(self) -> None:
        """Ask the environment to end after its current invocation."""
        with contextlib.suppress(OSError):  # already gone
            self._connection.send(None)

    def wait_stopped(self, deadline: float) -> None:
        """Wait until `deadline` (monotonic) for it to end, then kill it."""
        self._process.join(max(0.0, deadline - time.monotonic()))
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()

    def __enter__(self) -> ExecutionEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ContainerPool:
    """`size` execution environments of one function behind one invoke(), as Lambda scales
    a function out: module state, caches and connections are per environment, and
    invocations in different environments run in parallel."""

    def __init__(
        self,
        logical_id: str,
        size: int,
        *,
        environment: dict[str, str] | None = None,
        quiet: bool = False,
    ) -> None:
        self.logical_id = logical_id
        self.size = size
        self.environments = [
            ExecutionEnvironment(logical_id, environment=environment, quiet=quiet)
            for _ in range(size)
        ]
        self._idle: Queue[ExecutionEnvironment] = Queue()
        for each in self.environments:
            self._idle.put(each)

    def invoke(self, event: dict[str, Any]) -> Any:
        environment = self._idle.get()
        try:
            return environment.invoke(event)
        finally:
            self._idle.put(environment)

    def wait_ready(self) -> None:
        for environment in self.environments:
            environment.wait_ready()

    def request_stop(self) -> None:
        for environment in self.environments:
            environment.request_stop()

    def wait_stopped(self, deadline: float) -> None:
        """Wait until `deadline` (monotonic) for every environment to end, then kill it."""
        for environment in self.environments:
            environment.wait_stopped(deadline)

    def stop(self) -> None:
        self.request_stop()
        self.wait_stopped(time.monotonic() + STOP_SECONDS)


# ---------------------------------------------------------------- inside an environment

_function: LocalFunction | None = None
_resources: Resources | None = None


def local_function() -> LocalFunction:
    """The function of the environment this runs in."""
    assert _function is not None, "not inside an execution environment"
    return _function


def local_resources() -> Resources:
    """The resources created inside this environment (InProcessAws)."""
    assert _resources is not None, "not inside an execution environment with InProcessAws"
    return _resources


def invoke(event: dict[str, Any]) -> Any:
    return local_function().invoke(event)


def boot(
    logical_id: str,
    environment: dict[str, str],
    quiet: bool,
    in_process_aws: InProcessAws | None = None,
) -> LocalFunction:
    """Make this (fresh) process an execution environment of `logical_id`."""
    global _function, _resources
    # The process that started this one stops it; Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if quiet:  # the function's logs and metrics (CloudWatch's part) go nowhere
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process' life
    if in_process_aws is not None:
        _resources = _start_in_process_aws(logical_id, in_process_aws)
    os.environ.update(environment)
    _function = LocalFunction(logical_id)
    return _function


def _start_in_process_aws(logical_id: str, aws: InProcessAws) -> Resources:
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    from moto import mock_aws

    import devstack.moto_server  # noqa: F401 - the same patches as the local stack's moto

    mock_aws().start()  # for the process' life
    resources, environments = create_resources(
        None,  # boto3's own endpoints, which moto intercepts
        landbot_token=aws.landbot_token,
        landbot_api_url=aws.landbot_api_url,
    )
    os.environ.update(environments[logical_id])
    return resources


def _serve(
    connection: Connection,
    logical_id: str,
    environment: dict[str, str],
    quiet: bool,
    in_process_aws: InProcessAws | None,
) -> None:
    try:
        boot(logical_id, environment, quiet, in_process_aws)
    except BaseException:
        connection.send(("boot-failed", traceback.format_exc()))
        return
    connection.send(("ok", None))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        if request is None:
            return
        function, args = request
        try:
            answer = ("ok", function(*args))
        except Exception as error:
            answer = ("error", error)
        try:
            connection.send(answer)
        except Exception:  # an answer or error that does not pickle
            connection.send(("error", RuntimeError(traceback.format_exc())))
