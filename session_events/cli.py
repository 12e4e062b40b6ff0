"""The `session-events` command: serve, migrate, prune."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version

from session_events.db import migrate
from session_events.db.engine import open_database
from session_events.db.sessions import TERMINAL, Finished
from session_events.logs import configure_logging
from session_events.prune import parse_age, parse_statuses, prune
from session_events.serving import serve
from session_events.settings import Settings, SettingsError, environment_help, load_settings
from session_events.startup_checks import StartupError, check_database


def _version() -> str:
    try:
        return version("session-events")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _port(text: str) -> int:
    """A TCP port to listen on: 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number from 1 to 65535, not {text!r}"
        ) from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, not {port}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="session-events",
        description="Store and serve the events of workflow sessions. Configured by EVENTS_* "
        "environment variables (see README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    described = {"formatter_class": argparse.RawDescriptionHelpFormatter}
    serve = commands.add_parser(
        "serve", help="run the HTTP service", epilog=environment_help(), **described
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also run a simulated workflow that appends events to a demo session",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (more than 1 needs PostgreSQL; default 1)",
    )
    commands.add_parser(
        "migrate",
        help="apply pending database migrations and exit",
        description="Bring the database of EVENTS_DATABASE_URL to the newest revision and exit.",
        epilog=environment_help("database_url", "log_format", "log_level"),
        **described,
    )
    prune = commands.add_parser(
        "prune",
        help="delete finished sessions (and their events) older than an age",
        epilog=environment_help("database_url", "db_statement_timeout", "log_level"),
        **described,
    )
    prune.add_argument(
        "--older-than",
        required=True,
        help="age since the session finished: a number and s, min, h, d or w (90min, 12h, 30d)",
    )
    prune.add_argument(
        "--dry-run",
        action="store_true",
        help="list the sessions that would go, with their events, and delete nothing",
    )
    prune.add_argument(
        "--status",
        default=",".join(TERMINAL),
        help="comma-separated finished statuses to prune (default: %(default)s)",
    )
    return parser


async def _prune(
    settings: Settings, age: timedelta, finished: tuple[str, ...], older_than: str, dry_run: bool
) -> int:
    def found(session: Finished) -> None:
        if dry_run:
            stamp = session.finished_at.isoformat(timespec="seconds")
            print(f"{session.id}  {session.status:<9}  finished {stamp}  {session.events:,} events")

    def progress(sessions: int, events: int) -> None:
        if not dry_run:
            print(f"  pruned {sessions:,} session(s), {events:,} event(s) so far", file=sys.stderr)

    database = open_database(settings)
    try:
        removed, events = await prune(
            database,
            age,
            finished,
            dry_run=dry_run,
            found=found,
            progress=progress,
            tombstones_kept=timedelta(seconds=settings.session_tombstone_seconds),
        )
    finally:
        await database.dispose()
    verb = "Would prune" if dry_run else "Pruned"
    print(
        f"{verb} {removed:,} session(s) and {events:,} event(s) that finished more than "
        f"{older_than} ago with status {', '.join(finished)}."
    )
    return 0


async def _migrate(settings: Settings) -> None:
    database = open_database(settings)
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
    try:
        if args.command == "serve":
            return serve(settings, args.host, args.port, demo=args.demo, workers=args.workers)
        if args.command == "prune":
            try:  # before the database: a typo costs nothing
                age, finished = parse_age(args.older_than), parse_statuses(args.status)
            except ValueError as error:
                print(f"session-events prune: {error}", file=sys.stderr)
                return 2
            asyncio.run(check_database(settings, migrated=True))
            return asyncio.run(_prune(settings, age, finished, args.older_than, args.dry_run))
        asyncio.run(check_database(settings))
        asyncio.run(_migrate(settings))
        return 0
    except StartupError as error:
        if settings.log_level == "debug":
            raise
        print(f"session-events {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
