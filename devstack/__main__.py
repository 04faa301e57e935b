"""The local stack's command line: `python -m devstack run|demo|chaos|send-event|...`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from types import FrameType

from devstack import chaos, demo, generated
from devstack.aws import CREDENTIALS, REGION, bus_entry
from devstack.bots import BOT_ID, CUSTOMER_ID, NODE_ID, TIMEOUT_NODE_ID
from devstack.samples import STRIPE_SAMPLES, stripe_event
from devstack.stack import DEFAULT_PORTS, LocalStack, Ports

DEFAULT_AWS = f"http://127.0.0.1:{DEFAULT_PORTS.aws}"


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: leave the `with LocalStack()` block, which stops it all."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def stop_on_signals() -> None:
    """SIGINT and SIGTERM stop the stack, also when started in the background: a shell
    starts background jobs with SIGINT ignored, and SIGTERM would end this process alone,
    leaving the moto server (and its port) and the functions' processes behind."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)


def run(args: argparse.Namespace) -> int:
    landbot_api_url = os.environ.get("LANDBOT_API_URL") or None
    landbot_token = os.environ.get("LANDBOT_API_TOKEN") or None
    if landbot_api_url and not landbot_token:
        print(
            "devstack run: LANDBOT_API_URL is set but LANDBOT_API_TOKEN is not:"
            " give the agent token for that Landbot too",
            file=sys.stderr,
        )
        return 2
    stop_on_signals()
    stack = LocalStack(
        Ports(api=args.api_port, aws=args.aws_port, landbot=args.landbot_port),
        landbot_api_url=landbot_api_url,
        landbot_token=landbot_token,
    )
    try:
        with stack:
            if stack.simulator:
                stack.simulator.add_customer(
                    CUSTOMER_ID, {"data": {"type": "object", "value": {}, "extra": {}}}
                )
            print(banner(stack), flush=True)
            threading.Event().wait()  # until a signal
    except Stopped as stopped:
        print(f"\nstopping ({stopped})", flush=True)
    return 0


def banner(stack: LocalStack) -> str:
    """What is up and the commands to try it, right for the ports in use. The webhook token
    is the local stack's own; the Landbot agent token is never shown."""
    aws = stack.resources.endpoint
    body = json.dumps({"bot_id": BOT_ID, "node_id": NODE_ID, "customer_id": CUSTOMER_ID})
    timed = json.dumps(
        {
            "bot_id": BOT_ID,
            "node_id": NODE_ID,
            "customer_id": CUSTOMER_ID,
            "timeout_seconds": 30,
            "timeout_node_id": TIMEOUT_NODE_ID,
        }
    )
    token = stack.webhook_token
    send_event = f"python -m devstack send-event <process_id> --aws {aws}"
    if stack.resources.bus != "default":
        send_event += f" --bus {stack.resources.bus}"
    if stack.simulator:
        landbot = f"{stack.landbot_api_url}  (the Landbot simulator)"
        customer = (
            "Then see the process, and the customer as the simulator holds it:\n"
            f"  curl -s {stack.webhook_url}/<process_id> -H 'X-Webhook-Token: {token}'\n"
            f"  curl -s {stack.simulator.inspect_url(CUSTOMER_ID)}"
        )
    else:
        landbot = f"{stack.landbot_api_url}  (LANDBOT_API_URL: real calls, with your token)"
        customer = (
            "Then see the process (and the conversation in Landbot's inbox):\n"
            f"  curl -s {stack.webhook_url}/<process_id> -H 'X-Webhook-Token: {token}'"
        )
    return f"""landbot-resume local stack is up.

  Webhook URL    {stack.webhook_url}
  Header         X-Webhook-Token: {token}
  OpenAPI        {stack.api_url}/openapi.json
  AWS (moto)     {aws}  bus: {stack.resources.bus}
  Landbot API    {landbot}

Start a wait, as a Landbot Webhook block would:
  curl -s -X POST {stack.webhook_url} -H 'Content-Type: application/json' \\
    -H 'X-Webhook-Token: {token}' -d '{body}'

Or one that ends at block {TIMEOUT_NODE_ID} if no outcome comes within 30 s (timeouts fire
within a second or two here; on AWS within about 90 s):
  curl -s -X POST {stack.webhook_url} -H 'Content-Type: application/json' \\
    -H 'X-Webhook-Token: {token}' -d '{timed}'

Send a payment event for it (types: {", ".join(STRIPE_SAMPLES)}):
  {send_event} --type checkout.session.completed

Or call the wait off, as the bot would when the customer moves on:
  curl -s -X POST {stack.webhook_url}/<process_id>/cancel -H 'X-Webhook-Token: {token}'

{customer}

List the processes as an operator would, see one's history, retry a FAILED one:
  landbot-resume processes list --endpoint-url {aws}
  landbot-resume processes show <process_id> --endpoint-url {aws}
  landbot-resume processes retry <process_id> --endpoint-url {aws}

Ctrl-C (or SIGTERM) stops the stack."""


def send_event(args: argparse.Namespace) -> int:
    import boto3

    event = stripe_event(args.type, args.process_id)
    events = boto3.client(
        "events",
        endpoint_url=args.aws,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    response = events.put_events(Entries=[bus_entry(event, args.bus)])
    print(json.dumps(response["Entries"]))
    return 1 if response.get("FailedEntryCount") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the local stack in the foreground")
    run_parser.add_argument("--api-port", type=int, default=DEFAULT_PORTS.api)
    run_parser.add_argument("--aws-port", type=int, default=DEFAULT_PORTS.aws)
    run_parser.add_argument("--landbot-port", type=int, default=DEFAULT_PORTS.landbot)
    commands.add_parser("demo", help="play the whole story once and check the resume")
    send = commands.add_parser("send-event", help="put a Stripe event on the local bus")
    send.add_argument("process_id")
    send.add_argument("--type", choices=list(STRIPE_SAMPLES), default="checkout.session.completed")
    send.add_argument("--aws", default=DEFAULT_AWS, help=f"the stack's AWS (default {DEFAULT_AWS})")
    send.add_argument("--bus", default="default")
    commands.add_parser("chaos", help="the chaos run (options: chaos --help)", add_help=False)
    write = commands.add_parser("generate", help="rewrite the committed generated files")
    write.add_argument("what", choices=sorted(generated.FILES), nargs="*", help="default: all")
    write.add_argument("--check", action="store_true", help="only say which ones are stale")
    args, extra = parser.parse_known_args(argv)
    if args.command == "chaos":
        return chaos.main(extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "run":
        return run(args)
    if args.command == "demo":
        return demo.main()
    if args.command == "generate":
        return generated.main(args.what or sorted(generated.FILES), check=args.check)
    return send_event(args)


if __name__ == "__main__":
    sys.exit(main())
