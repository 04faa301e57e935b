"""`make run` behaves like a service: a signal stops every process it started and frees its
ports within 5 s; its banner's commands are right for its ports and never show the agent
token; a Landbot URL without a token is a one-line error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from devstack import ROOT, LandbotSimulator, LocalStack, Ports
from devstack.__main__ import banner
from tests.e2e.conftest import stack_command_env

STOP_SECONDS = 5.0
START_SECONDS = 90.0


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@dataclass
class Running:
    process: subprocess.Popen[str]
    ports: list[int]
    output: list[str] = field(default_factory=list)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.output):
            assert self.process.poll() is None, "".join(self.output)
            assert time.monotonic() < deadline, f"no {text!r} in:\n{''.join(self.output)}"
            time.sleep(0.1)

    def stopped_within(self, seconds: float) -> float:
        """Seconds until every process of the group is gone and every port is free."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            self.process.poll()  # reaps it once it exited (a zombie still counts)
            if group_is_gone(self.process.pid) and all(map(port_is_free, self.ports)):
                return time.monotonic() - started
            time.sleep(0.05)
        leftover = subprocess.run(
            ["ps", "-o", "pid,args", "-g", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        pytest.fail(f"still running after {seconds} s:\n{leftover}")


@pytest.fixture
def start() -> Iterator[Start]:
    started: list[Running] = []

    def run(command: list[str]) -> Running:
        ports = free_ports(3)
        api, aws, landbot = ports
        args = f"--api-port {api} --aws-port {aws} --landbot-port {landbot}"
        process = subprocess.Popen(
            [part.replace("{args}", args) for part in command],
            cwd=ROOT,
            env=stack_command_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's job is
        )
        running = Running(process, ports)
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: running.output.extend(stdout), daemon=True).start()
        started.append(running)
        running.wait_for("local stack is up", START_SECONDS)
        return running

    yield run
    for running in started:  # whatever a failed test left behind
        if not group_is_gone(running.process.pid):
            os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait()


Start = Callable[[list[str]], Running]
MAKE_RUN = ["make", "--no-print-directory", "run", "RUN_ARGS={args}"]


def test_ctrl_c_stops_make_run_and_everything_it_started(
    start: Callable[[list[str]], Running],
) -> None:
    running = start(MAKE_RUN)
    os.killpg(running.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
    assert running.stopped_within(STOP_SECONDS) < STOP_SECONDS
    assert any("stopping (SIGINT)" in line for line in running.output)


def test_sigterm_to_make_run_stops_everything_it_started(
    start: Callable[[list[str]], Running],
) -> None:
    running = start(MAKE_RUN)
    running.process.send_signal(signal.SIGTERM)  # make passes SIGTERM on to the stack
    assert running.stopped_within(STOP_SECONDS) < STOP_SECONDS
    assert any("stopping (SIGTERM)" in line for line in running.output)


def test_sigint_stops_a_stack_started_in_the_background(
    start: Callable[[list[str]], Running],
) -> None:
    """A shell starts a background job with SIGINT ignored; the stack still stops on it."""
    running = start(["bash", "-c", "make --no-print-directory run RUN_ARGS='{args}' & wait"])
    os.killpg(running.process.pid, signal.SIGINT)
    assert running.stopped_within(STOP_SECONDS) < STOP_SECONDS


def test_a_landbot_url_without_a_token_is_a_one_line_error() -> None:
    env = {**stack_command_env(), "LANDBOT_API_URL": "https://api.landbot.io/v1/"}
    env.pop("LANDBOT_API_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "LANDBOT_API_TOKEN" in done.stderr and "Traceback" not in done.stderr


def test_the_banner_fits_the_ports_and_never_shows_the_agent_token(stack: LocalStack) -> None:
    text = banner(stack)
    assert stack.landbot_token not in text
    aws = stack.resources.endpoint
    assert aws is not None and f"send-event <process_id> --aws {aws}" in text
    assert f"--endpoint-url {aws}" in text
    assert f"curl -s -X POST {stack.webhook_url}" in text
    assert stack.simulator is not None and stack.simulator.inspect_url(298537154) in text


def test_with_another_landbot_the_banner_speaks_of_no_simulator() -> None:
    token = "an-agent-token-of-another-landbot"
    with (
        LandbotSimulator(port=0, tokens=[token]) as other,
        LocalStack(Ports.ephemeral(), landbot_api_url=other.url, landbot_token=token) as stack,
    ):
        text = banner(stack)
        url = other.url
    assert token not in text
    assert "simulator" not in text
    assert url in text
