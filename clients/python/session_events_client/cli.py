"""session-events-client: create a session, emit its events, tail it, wait for its end.

The server and key come from --url and --key, or EVENTS_URL and EVENTS_API_KEY. A refusal prints
the problem's detail on stderr and exits 1; a server that cannot be reached, 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import httpx

from session_events_client.client import Client
from session_events_client.errors import Refused

DEFAULT_URL = "http://127.0.0.1:8000"
WAIT_EXIT = {"completed": 0, "failed": 1, "cancelled": 1}
TIMED_OUT, UNREACHABLE = 2, 3
STATUSES = ["pending", "in_progress", "paused", "completed", "failed", "cancelled"]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="session-events-client", description=__doc__.split("\n")[0])
    top.add_argument("--url", default=os.environ.get("EVENTS_URL", DEFAULT_URL),
                     help="the server's root (EVENTS_URL; default %(default)s)")  # fmt: skip
    top.add_argument("--key", default=os.environ.get("EVENTS_API_KEY"),
                     help="the X-API-Key to send (EVENTS_API_KEY)")  # fmt: skip
    commands = top.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create a session and print its id")
    create.add_argument("--type", required=True, dest="session_type", help="its session_type")
    create.add_argument("--project-path")

    emit = commands.add_parser("emit", help="append an event, or one JSON event a line of stdin")
    emit.add_argument("session_id")
    one = emit.add_mutually_exclusive_group(required=True)
    one.add_argument("--type", dest="event_type", help="the event's event_type")
    one.add_argument("--stdin", action="store_true", help="read JSON events, one a line")
    emit.add_argument("--message")
    emit.add_argument("--data", type=json.loads, help="event_data, a JSON object")
    emit.add_argument("--step", help="the step_id, a UUID")

    tail = commands.add_parser(
        "tail", help="print a session's events as they arrive, until it ends"
    )
    tail.add_argument("session_id")
    tail.add_argument(
        "--type", action="append", dest="event_types", help="only this type (repeatable)"
    )
    tail.add_argument("--after-seq", type=int, default=0, help="start after this seq (default 0)")
    tail.add_argument("--json", action="store_true", help="one JSON document a line")

    wait = commands.add_parser(
        "wait", help="wait for a session to end: exit 0 completed, 1 failed or cancelled, 2 timeout"
    )
    wait.add_argument("session_id")
    wait.add_argument("--timeout", type=float, default=3600, help="seconds (default %(default)s)")

    status = commands.add_parser("status", help="set a session's status, print the session")
    status.add_argument("session_id")
    status.add_argument("--set", required=True, choices=STATUSES, dest="status")
    return top


def line(event) -> str:
    """local time with its zone, seq, type, message"""
    when = event.timestamp.astimezone().isoformat(sep=" ", timespec="milliseconds")
    return f"{when}  {event.seq:>6}  {event.event_type}  {event.message or ''}".rstrip()


def run(args: argparse.Namespace, client: Client) -> int:
    if args.command == "create":
        print(client.create_session(args.session_type, args.project_path).id)
    elif args.command == "emit" and args.stdin:
        producer = client.producer(args.session_id)
        try:
            with producer:  # what was emitted before a bad line is still sent
                for number, text in enumerate(sys.stdin, 1):
                    if text.strip():
                        try:
                            producer.emit(**json.loads(text))
                        except (TypeError, ValueError) as error:
                            raise ValueError(f"line {number} is no event: {error}") from None
        finally:
            print(f"{producer.stored} events stored", file=sys.stderr)
    elif args.command == "emit":
        (stored,) = client.append_events(
            args.session_id,
            [{"event_type": args.event_type, "message": args.message,
              "event_data": args.data, "step_id": args.step}],
        )  # fmt: skip
        print(stored.seq)
    elif args.command == "tail":
        for event in client.follow(args.session_id, args.after_seq, args.event_types):
            print(event.model_dump_json() if args.json else line(event), flush=True)
    elif args.command == "wait":
        try:
            session = client.wait_until_finished(args.session_id, args.timeout)
        except TimeoutError as error:
            print(error, file=sys.stderr)
            return TIMED_OUT
        print(session.status)
        return WAIT_EXIT[session.status]
    elif args.command == "status":
        print(client.update_session(args.session_id, status=args.status).model_dump_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with Client(args.url, api_key=args.key) as client:
            return run(args, client)
    except Refused as refused:
        print(f"session-events-client {args.command}: {refused.detail}", file=sys.stderr)
        return 1
    except (httpx.TransportError, ConnectionError) as error:
        print(f"session-events-client {args.command}: {args.url} cannot be reached: {error}",
              file=sys.stderr)  # fmt: skip
        return UNREACHABLE
    except ValueError as error:  # a line of --stdin that is no event
        print(f"session-events-client {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
