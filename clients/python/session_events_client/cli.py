"""session-events-client: create, list, show and delete sessions, emit their events, tail or
export them, watch the sessions change, mint and revoke session tokens.

The server and credential come from --url and --key or --token (before or after the command),
or EVENTS_URL and EVENTS_API_KEY or EVENTS_TOKEN. A key acts on every session, a session token
on its own; the command acts with one: --key or --token wins over the environment, where the
token wins over the key (the narrower grant, set for this command); both on the command line is
a usage error (2). A token is printed only by the commands that mint one (create --token-for,
token).
What a command found goes to stdout (as JSON with --json); what it did, to stderr.
A refusal prints the problem's detail on stderr and exits 1; a server that cannot be reached, 3.
`watch` runs until Ctrl-C, which ends it with 0."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys

import httpx

from session_events_client.client import DEFAULT_URL, Client
from session_events_client.errors import AuthExpired, Invalid, Refused
from session_events_client.models import SessionStatus, TokenScope
from session_events_client.operations import TERMINAL
from session_events_client.readable import (
    change_line,
    deleted,
    event_line,
    minted,
    page_lines,
    revoked,
    session_lines,
    snapshot_lines,
    stored,
)
from session_events_client.watching import LIMIT, Snapshot

WAIT_EXIT = {status: 0 if status is SessionStatus.completed else 1 for status in TERMINAL}
TIMED_OUT, UNREACHABLE = 2, 3
STATUSES = [status.value for status in SessionStatus]
SCOPES = [scope.value for scope in TokenScope]
DATA_EXAMPLE = """--data '{"goal": "verify"}'"""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="session-events-client", description=__doc__.split("\n")[0])
    top.add_argument("--url", default=os.environ.get("EVENTS_URL", DEFAULT_URL),
                     help="the server's root (EVENTS_URL; default %(default)s)")  # fmt: skip
    top.add_argument("--key", help="the X-API-Key to send (EVENTS_API_KEY)")
    top.add_argument("--token", help="or a session token, sent as Authorization: Bearer "
                     "(EVENTS_TOKEN)")  # fmt: skip
    # --url, --key and --token after the command too: refused there, argparse would print the
    # secret back.
    where = argparse.ArgumentParser(add_help=False)
    for name in ("--url", "--key", "--token"):
        where.add_argument(name, default=argparse.SUPPRESS, help="as before the command")
    commands = top.add_subparsers(dest="command", required=True)
    add_parser = functools.partial(commands.add_parser, parents=[where])

    create = add_parser("create", help="create a session and print its id (then its tokens)")
    create.add_argument("--type", required=True, dest="session_type", help="its session_type")
    create.add_argument("--project-path")
    create.add_argument("--token-for", action="append", choices=SCOPES, dest="scopes",
                        help="mint a token of this scope for it, printed on a line of its "
                        "own after the id (repeatable)")  # fmt: skip
    create.add_argument("--json", action="store_true", help="the session and its tokens")

    token = add_parser("token", help="mint a token limited to a session and print it")
    token.add_argument("session_id")
    token.add_argument("--scope", choices=SCOPES, default="read",
                       help="read, or append too (a write key); default %(default)s")  # fmt: skip
    token.add_argument("--ttl", type=int, dest="ttl_seconds", metavar="SECONDS",
                       help="its lifetime in seconds (default: the server's hour)")  # fmt: skip
    token.add_argument("--json", action="store_true", help="the token with its id and expiry")

    revoke = add_parser("revoke", help="revoke a session's token, or all of them (a write key)")
    revoke.add_argument("session_id")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="token_id", help="the token's id, as minting printed it")
    which.add_argument("--all", action="store_true", help="every token of the session")

    emit = add_parser("emit", help="append an event, or one JSON event a line of stdin")
    emit.add_argument("session_id")
    one = emit.add_mutually_exclusive_group(required=True)
    one.add_argument("--type", dest="event_type", help="the event's event_type")
    one.add_argument("--stdin", action="store_true", help="read JSON events, one a line")
    emit.add_argument("--message")
    emit.add_argument("--data", type=json_object, help=f"event_data, a JSON object: {DATA_EXAMPLE}")
    emit.add_argument("--step", help="the step_id, a UUID")
    emit.add_argument("--json", action="store_true", help="print the stored event (with --type)")

    tail = add_parser("tail", help="print a session's events as they arrive, until it ends")
    tail.add_argument("session_id")
    tail.add_argument(
        "--type", action="append", dest="event_types", help="only this type (repeatable)"
    )
    tail.add_argument("--after-seq", type=int, default=0, help="start after this seq (default 0)")
    tail.add_argument("--json", action="store_true", help="one JSON document a line")

    export = add_parser(
        "export", help="print every event of a session, oldest first, one JSON document a line"
    )
    export.add_argument("session_id")
    export.add_argument("--event-type", action="append", dest="event_types",
                        help="only this type (repeatable)")  # fmt: skip
    export.add_argument("--step-id", help="only the events of this step, a UUID")
    export.add_argument("--q", help="only events whose message contains this (ignoring case)")

    wait = add_parser(
        "wait", help="wait for a session to end: exit 0 completed, 1 failed or cancelled, 2 timeout"
    )
    wait.add_argument("session_id")
    wait.add_argument("--timeout", type=float, default=3600, help="seconds (default %(default)s)")

    status = add_parser("status", help="set a session's status, print the session")
    status.add_argument("session_id")
    status.add_argument("--set", required=True, choices=STATUSES, dest="status")

    listing = add_parser("list", help="list sessions, newest first, a page at a time")
    listing.add_argument("--status", choices=STATUSES, help="only sessions in this status")
    listing.add_argument("--page", type=int, help="the page, from 1 (default 1)")
    listing.add_argument("--per-page", type=int, help="sessions a page, 1 to 100 (default 20)")
    listing.add_argument("--json", action="store_true", help="the page as the server sent it")

    watch = add_parser("watch", help="show the sessions, then each change to them, until Ctrl-C")
    watch.add_argument("--status", choices=STATUSES, help="only sessions in this status")
    watch.add_argument("--session-type", action="append", dest="session_types", default=[],
                       help="only sessions of this type (repeatable)")  # fmt: skip
    watch.add_argument("--limit", type=int, default=LIMIT,
                       help="sessions shown first, newest first (default %(default)s)")  # fmt: skip
    watch.add_argument("--json", action="store_true",
                       help="a JSON document a message: its event, id and data")  # fmt: skip

    get = add_parser("get", help="show one session")
    get.add_argument("session_id")
    get.add_argument("--json", action="store_true", help="the session as the server sent it")

    delete = add_parser("delete", help="delete a session and its events (a write key)")
    delete.add_argument("session_id")
    return top


def json_object(text: str) -> dict:
    """--data's value: a JSON object, or a sentence saying what one looks like."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"the value must be a JSON object, such as {DATA_EXAMPLE} (got {text!r})"
        )
    return value


def run(args: argparse.Namespace, client: Client) -> int:
    if args.command == "create":
        session = client.create_session(args.session_type, args.project_path, tokens=args.scopes)
        print(session.model_dump_json(exclude_unset=True) if args.json else session.id)
        for made in session.tokens or []:
            print(minted(made), file=sys.stderr)
            if not args.json:
                print(made.token)
    elif args.command == "token":
        made = client.create_token(args.session_id, args.scope, args.ttl_seconds)
        print(made.model_dump_json() if args.json else made.token)
        print(minted(made), file=sys.stderr)
    elif args.command == "revoke":
        if args.all:
            client.revoke_tokens(args.session_id)
        else:
            client.revoke_token(args.session_id, args.token_id)
        print(revoked(args.session_id, None if args.all else args.token_id), file=sys.stderr)
    elif args.command == "emit" and args.stdin:
        producer = client.producer(args.session_id)
        try:
            with producer:  # what was emitted before a bad line is still sent
                for number, text in enumerate(sys.stdin, 1):
                    if text.strip():
                        try:
                            producer.emit(**json.loads(text))
                        except (TypeError, ValueError) as error:  # Invalid among them
                            why = error.detail if isinstance(error, Invalid) else error
                            raise ValueError(f"line {number} is no event: {why}") from None
        finally:
            print(stored(args.session_id, producer.stored), file=sys.stderr)
    elif args.command == "emit":
        (event,) = client.append_events(
            args.session_id,
            [{"event_type": args.event_type, "message": args.message,
              "event_data": args.data, "step_id": args.step}],
        )  # fmt: skip
        if args.json:
            print(event.model_dump_json())
        print(stored(args.session_id, 1, event.seq), file=sys.stderr)
    elif args.command == "tail":
        for event in client.follow(args.session_id, args.after_seq, args.event_types):
            print(event.model_dump_json() if args.json else event_line(event), flush=True)
    elif args.command == "export":
        filters = {"event_type": args.event_types, "step_id": args.step_id, "q": args.q}
        for event in client.export(args.session_id, **filters):
            sys.stdout.write(event.model_dump_json() + "\n")
        sys.stdout.flush()
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
    elif args.command == "list":
        page = client.list_sessions(status=args.status, page=args.page, per_page=args.per_page)
        print(page.model_dump_json() if args.json else "\n".join(page_lines(page, args.status)))
    elif args.command == "watch":
        watch(args, client)
    elif args.command == "get":
        session = client.get_session(args.session_id)
        print(session.model_dump_json() if args.json else "\n".join(session_lines(session)))
    elif args.command == "delete":
        client.delete_session(args.session_id)
        print(deleted(args.session_id), file=sys.stderr)
    return 0


def watch(args: argparse.Namespace, client: Client) -> None:
    """The snapshot as a table, then a line a change (or, with --json, a document a message)."""
    for change in client.follow_sessions(args.status, args.session_types, args.limit):
        if args.json:
            document = change.document().model_dump(mode="json")
            message = {"event": change.EVENT, "id": change.cursor, "data": document}
            print(json.dumps(message, separators=(",", ":")))  # compact, as the server's JSON
        elif isinstance(change, Snapshot):
            if change.reason:
                print(f"A fresh snapshot, since {change.reason}", file=sys.stderr)
            print("\n".join(snapshot_lines(change, args.status)))
        else:
            print(change_line(change))
        sys.stdout.flush()


def explained(refused: Refused, args: argparse.Namespace) -> str:
    """The refusal's detail, or how to give the command a key where none was given."""
    if refused.status == 401 and not (args.key or args.token):
        return (
            "no API key was given: set EVENTS_API_KEY or pass --key, as in "
            f"`session-events-client --key KEY {args.command} ...` (a read key reads; a write key "
            "also creates, changes and deletes), or a session token (EVENTS_TOKEN, --token)."
        )
    if isinstance(refused, AuthExpired):
        return f"{refused.detail} Mint a new token (`token SESSION_ID`, with a key) to go on."
    return refused.detail


def credential(args: argparse.Namespace, top: argparse.ArgumentParser) -> None:
    """args.key or args.token, the other None: the command line's, else the environment's, where
    EVENTS_TOKEN wins, so a job given a token beside an inherited key acts with the token."""
    if args.key and args.token:
        top.error("--key and --token were both given: pass one (a key acts on every session, a "
                  "token on its own)")  # fmt: skip
    if not (args.key or args.token):
        args.token = os.environ.get("EVENTS_TOKEN") or None
        args.key = None if args.token else os.environ.get("EVENTS_API_KEY") or None


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        top.error(
            f"--url must start with http:// or https://, such as {DEFAULT_URL} (got {args.url!r})"
        )
    if args.command == "emit" and args.stdin and args.json:
        top.error("emit --json prints the event a --type stored; --stdin reports on stderr only")
    credential(args, top)
    try:
        with Client(args.url, api_key=args.key, token=args.token) as client:
            return run(args, client)
    except Refused as refused:
        print(f"session-events-client {args.command}: {explained(refused, args)}", file=sys.stderr)
        return 1
    except (httpx.TransportError, ConnectionError) as error:
        print(f"session-events-client {args.command}: {args.url} cannot be reached: {error}",
              file=sys.stderr)  # fmt: skip
        return UNREACHABLE
    except ValueError as error:  # a line of --stdin that is no event
        print(f"session-events-client {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0 if args.command == "watch" else 130  # Ctrl-C is how a watch is ended


if __name__ == "__main__":
    sys.exit(main())
