"""The `session-events` command: serve, migrate, prune."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import uvicorn

from db import migrate
from db.engine import Database
from db.sessions import TERMINAL
from session_events.app import create_app
from session_events.demo import create_demo_session, run_demo
from session_events.logs import configure_logging
from session_events.prune import parse_age, parse_statuses, prune
from session_events.security import KeyRing
from session_events.settings import Settings, SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="session-events",
        description="Store and serve the events of workflow sessions. Configured by EVENTS_* "
        "environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also run a simulated workflow that appends events to a demo session",
    )
    commands.add_parser("migrate", help="apply pending database migrations and exit")
    prune = commands.add_parser(
        "prune", help="delete finished sessions (and their events) older than an age"
    )
    prune.add_argument(
        "--older-than", required=True, help="age since the session finished: 30d, 12h, 90m, 2w"
    )
    prune.add_argument(
        "--status",
        default=",".join(TERMINAL),
        help="comma-separated finished statuses to prune (default: %(default)s)",
    )
    return parser


def _keyring(settings: Settings, demo_key: str | None) -> tuple[KeyRing, str | None]:
    """The configured keys, or one generated write key printed once when none is configured.

    The demo appends with a key of its own, never printed.
    """
    write_keys = set(settings.write_keys)
    generated = None
    if not settings.read_keys and not settings.write_keys:
        generated = KeyRing.generated_key()
        write_keys.add(generated)
        print(
            "No EVENTS_READ_KEYS or EVENTS_WRITE_KEYS set: generated a write key for this run:\n"
            f"  X-API-Key: {generated}",
            flush=True,
        )
    if demo_key:
        write_keys.add(demo_key)
    return KeyRing(settings.read_keys, write_keys), generated


async def _serve(settings: Settings, host: str, port: int, demo: bool) -> None:
    demo_key = KeyRing.generated_key() if demo else None
    keyring, shown_key = _keyring(settings, demo_key)
    stopping = asyncio.Event()
    app = create_app(settings, keyring, shutdown=stopping)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    server = uvicorn.Server(config)
    tasks = [asyncio.create_task(_tell_when_stopping(server, stopping))]
    if demo_key:
        tasks.append(asyncio.create_task(_demo(server, host, port, demo_key, shown_key)))
    try:
        await server.serve()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _tell_when_stopping(server: uvicorn.Server, stopping: asyncio.Event) -> None:
    """On SIGTERM/SIGINT uvicorn stops accepting and waits for open requests; this makes waiting
    long-polls answer and streams end, so that wait is short."""
    while not server.should_exit:
        await asyncio.sleep(0.1)
    stopping.set()


async def _demo(
    server: uvicorn.Server, host: str, port: int, api_key: str, shown_key: str | None
) -> None:
    while not server.started:
        await asyncio.sleep(0.05)
    base_url = f"http://{host}:{port}"
    session_id = await create_demo_session(base_url, api_key)
    events_url = f"{base_url}/api/v2/sessions/{session_id}/events"
    key_hint = "the X-API-Key above" if shown_key else "one of your keys"
    print(
        f"\nDemo session {session_id} receives an event every half second.\n"
        f"  Events:  {events_url}\n"
        f"  API UI:  {base_url}/api/v2/ui/\n"
        f"  Try:     curl -H 'X-API-Key: {shown_key or '<your key>'}' '{events_url}?per_page=5'\n"
        f"\nWatch it live in a browser (the page asks once for {key_hint}):\n"
        f"  {base_url}/viewer/#session={session_id}\n",
        flush=True,
    )
    await run_demo(base_url, api_key, session_id)


async def _prune(settings: Settings, older_than: str, statuses: str) -> int:
    try:
        age, finished = parse_age(older_than), parse_statuses(statuses)
    except ValueError as error:
        print(f"session-events prune: {error}", file=sys.stderr)
        return 2
    database = Database(settings.database_url, statement_timeout=settings.db_statement_timeout)
    try:
        removed, events = await prune(database, age, finished)
    finally:
        await database.dispose()
    print(
        f"Pruned {removed} session(s) and {events} event(s) that finished more than "
        f"{older_than} ago with status {', '.join(finished)}."
    )
    return 0


async def _migrate(settings: Settings) -> None:
    database = Database(settings.database_url)
    try:
        await migrate.upgrade(database)
        print(f"Database at revision {await migrate.current_revision(database)}.")
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"session-events: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    if args.command == "serve":
        asyncio.run(_serve(settings, args.host, args.port, args.demo))
    elif args.command == "prune":
        return asyncio.run(_prune(settings, args.older_than, args.status))
    else:
        asyncio.run(_migrate(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
