"""Run the template's functions in this process, the way Lambda would call them."""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tests.cfn import ROOT, load_template

Handler = Callable[[dict[str, Any], Any], Any]


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
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One function of the template, imported from its CodeUri with the layer on the path:
    the inside of one execution environment (see ContainerPool).

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
        self.handler: Handler = getattr(importlib.import_module(module_name), attribute)
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


class ContainerPool:
    """`size` execution environments of one function, each a process of its own, as Lambda
    runs them: module state, caches and connections are per container, and invocations in
    different containers run in parallel (the shared rate limiter is tested for real)."""

    def __init__(self, logical_id: str, size: int, *, quiet: bool = False) -> None:
        self.logical_id = logical_id
        self.size = size
        self._pool = ProcessPoolExecutor(
            max_workers=size,
            # A fresh interpreter, like a cold start; forking a threaded server process is not.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_container,
            initargs=(logical_id, quiet),
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        return self._pool.submit(_invoke_container, event).result()

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_container: LocalFunction | None = None


def silence_if(quiet: bool) -> None:
    """In a container process: the function's logs and metrics (CloudWatch's part) go nowhere."""
    if quiet:
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process' life


def _start_container(logical_id: str, quiet: bool) -> None:
    global _container
    silence_if(quiet)
    _container = LocalFunction(logical_id)


def _invoke_container(event: dict[str, Any]) -> Any:
    assert _container is not None, "container not started"
    return _container.invoke(event)
