"""The command line: `landbot-resume redrive|processes list|show|retry|cancel`.

Exit codes: 0 done, 1 done with a negative answer (a message stayed in the DLQ, no such
process, a process whose state refuses the move), 2 the command could not run (bad
options, no stack, no credentials, AWS errors).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib.metadata import version

from botocore.exceptions import BotoCoreError, ClientError

from landbot_resume.cli import processes, redrive
from landbot_resume.cli.stack import LOCAL_STACK, CliError, Stack, Target, explain, open_stack

Command = Callable[[argparse.Namespace, Stack], int]
DISTRIBUTION = "landbot-resume"


def _target_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    where = options.add_argument_group("which stack")
    where.add_argument("--stack", metavar="NAME", help="a deployed CloudFormation stack")
    where.add_argument("--region", help="its region (default: your AWS configuration's)")
    where.add_argument(
        "--endpoint-url",
        metavar="URL",
        help=f"an AWS endpoint, e.g. the local stack's http://127.0.0.1:5000 (alone: the"
        f" stack {LOCAL_STACK} there)",
    )
    return options


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="landbot-resume",
        description="Operate a landbot-resume stack: its processes and its dead-letter queue.",
    )
    # The installed distribution's version: pyproject.toml's, the one place it is written.
    top.add_argument("--version", action="version", version=f"%(prog)s {version(DISTRIBUTION)}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    target = [_target_options()]

    redrive_parser = commands.add_parser(
        "redrive", parents=target, help="replay the dead-letter queue into the completion queue"
    )
    redrive.add_arguments(redrive_parser)
    redrive_parser.set_defaults(run=redrive.command)

    process_commands = commands.add_parser("processes", help="the stored processes").add_subparsers(
        dest="processes_command", required=True, metavar="COMMAND"
    )
    list_parser = process_commands.add_parser(
        "list", parents=target, help="the newest processes (JSON lines, newest first)"
    )
    processes.add_list_arguments(list_parser)
    list_parser.set_defaults(run=processes.list_command)
    show_parser = process_commands.add_parser(
        "show", parents=target, help="one stored process with its history (JSON)"
    )
    processes.add_show_arguments(show_parser)
    show_parser.set_defaults(run=processes.show_command)
    retry_parser = process_commands.add_parser(
        "retry",
        parents=target,
        help="deliver the recorded outcome of a FAILED process again, through the queue",
    )
    processes.add_retry_arguments(retry_parser)
    retry_parser.set_defaults(run=processes.retry_command)
    cancel_parser = process_commands.add_parser(
        "cancel",
        parents=target,
        help="call a waiting process off (or resume it at a block of your choice)",
    )
    processes.add_cancel_arguments(cancel_parser)
    cancel_parser.set_defaults(run=processes.cancel_command, check=processes.check_cancel)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    check: Callable[[argparse.Namespace], str | None] | None = getattr(args, "check", None)
    if check is not None and (problem := check(args)):
        top.error(problem)  # exits 2, as argparse does for every bad option
    target = Target(stack=args.stack, region=args.region, endpoint_url=args.endpoint_url)
    run: Command = args.run
    try:
        return run(args, open_stack(target))
    except CliError as error:
        message = str(error)
    except (BotoCoreError, ClientError) as error:
        message = explain(error, target)
    print(f"landbot-resume: {' '.join(message.split())}", file=sys.stderr)
    return 2
