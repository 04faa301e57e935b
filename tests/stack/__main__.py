"""The local stack's command line:
`python -m tests.stack run|demo|send-event|chaos|openapi`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from tests.stack import chaos, demo, openapi
from tests.stack.aws import CREDENTIALS, REGION, bus_entry
from tests.stack.samples import STRIPE_SAMPLES, stripe_event
from tests.stack.stack import LocalStack, Ports

DEMO_CUSTOMER_ID = demo.CUSTOMER_ID


def run(args: argparse.Namespace) -> int:
    stack = LocalStack(
        Ports(api=args.api_port, aws=args.aws_port, landbot=args.landbot_port),
        landbot_api_url=os.environ.get("LANDBOT_API_URL") or None,
        landbot_token=os.environ.get("LANDBOT_API_TOKEN") or None,
    )
    with stack:
        if stack.simulator:
            stack.simulator.add_customer(
                DEMO_CUSTOMER_ID, {"data": {"type": "object", "value": {}, "extra": {}}}
            )
        body = json.dumps(
            {"bot_id": demo.BOT_ID, "node_id": demo.NODE_ID, "customer_id": DEMO_CUSTOMER_ID}
        )
        print(
            f"""landbot-resume local stack is up.

  Webhook URL    {stack.webhook_url}
  Header         X-Webhook-Token: {stack.webhook_token}
  OpenAPI        {stack.api_url}/openapi.json
  AWS (moto)     {stack.resources.endpoint}  bus: {stack.resources.bus}
  Landbot API    {stack.landbot_api_url}{"  (simulator)" if stack.simulator else ""}

Start a wait, as a Landbot Webhook block would:
  curl -s -X POST {stack.webhook_url} -H 'Content-Type: application/json' \\
    -H 'X-Webhook-Token: {stack.webhook_token}' -d '{body}'

Send a payment event for it (types: {", ".join(STRIPE_SAMPLES)}):
  python -m tests.stack send-event <process_id> --type checkout.session.completed

Then see the process, and the customer in the simulator:
  curl -s {stack.webhook_url}/<process_id> -H 'X-Webhook-Token: {stack.webhook_token}'
  curl -s {stack.landbot_api_url}customers/{DEMO_CUSTOMER_ID}/ \\
    -H 'Authorization: Token {stack.landbot_token}'

Ctrl-C stops the stack.""",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping")
    return 0


def send_event(args: argparse.Namespace) -> int:
    import boto3

    event = stripe_event(args.type, args.process_id)
    events = boto3.client("events", endpoint_url=args.aws, region_name=REGION, **CREDENTIALS)
    response = events.put_events(Entries=[bus_entry(event, args.bus)])
    print(json.dumps(response["Entries"]))
    return 1 if response.get("FailedEntryCount") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.stack")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the local stack in the foreground")
    run_parser.add_argument("--api-port", type=int, default=3000)
    run_parser.add_argument("--aws-port", type=int, default=5000)
    run_parser.add_argument("--landbot-port", type=int, default=8081)
    commands.add_parser("demo", help="play the whole story once and check the resume")
    send = commands.add_parser("send-event", help="put a Stripe event on the local bus")
    send.add_argument("process_id")
    send.add_argument("--type", choices=list(STRIPE_SAMPLES), default="checkout.session.completed")
    send.add_argument("--aws", default="http://127.0.0.1:5000")
    send.add_argument("--bus", default="default")
    commands.add_parser("chaos", help="the chaos run (options: chaos --help)", add_help=False)
    document = commands.add_parser("openapi", help="rewrite docs/openapi.json from the code")
    document.add_argument("--output", help="another file, or - for stdout")
    args, extra = parser.parse_known_args(argv)
    if args.command == "chaos":
        return chaos.main(extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "run":
        return run(args)
    if args.command == "demo":
        return demo.main()
    if args.command == "openapi":
        return openapi.main(args.output)
    return send_event(args)


if __name__ == "__main__":
    sys.exit(main())
