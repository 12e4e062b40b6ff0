"""What `serve` tells its user once it is up, in one block after the start-up logs: where it
serves, the write key it made when none is configured, and the demo runs it drives."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from session_events.security import KeyRing
from session_events.settings import DEFAULT_DATA_FOLDER, DEFAULT_DATABASE_URL, Settings
from session_events.startup_checks import StartupError, base_url


@dataclass(frozen=True)
class Launch:
    """What one `serve` hands its worker processes."""

    host: str
    port: int
    keyring: KeyRing
    made_key: str | None  # the write key serve made (none was configured), shown once
    kept_in: Path | None  # where that key is kept, for the embedded default database
    demo_key: str | None  # the demo's own key, never shown


def launch(settings: Settings, host: str, port: int, demo: bool) -> Launch:
    """The configured keys; with none configured, one write key: kept beside the embedded
    default database (so a restarted `make run` keeps an open viewer working), made anew for
    any other database."""
    write_keys = set(settings.every_write_key)
    made = kept_in = None
    if not settings.every_read_key and not settings.every_write_key:
        if settings.database_url == DEFAULT_DATABASE_URL:
            kept_in = DEFAULT_DATA_FOLDER / "write-key"
            made = _kept_key(kept_in)
        else:
            made = KeyRing.generated_key()
        write_keys.add(made)
    demo_key = KeyRing.generated_key() if demo else None
    if demo_key:
        write_keys.add(demo_key)
    keyring = KeyRing(settings.every_read_key, write_keys)
    return Launch(host, port, keyring, made, kept_in, demo_key)


def _kept_key(path: Path) -> str:
    try:
        key = path.read_text().strip() if path.exists() else ""
        if not key:
            key = KeyRing.generated_key()
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(key + "\n")
    except (OSError, UnicodeDecodeError) as error:
        cause = getattr(error, "strerror", None) or str(error)
        raise StartupError(
            f"the write key kept in {path} cannot be read or written ({cause}); remove it, or "
            "set EVENTS_WRITE_KEYS"
        ) from None
    return key


def _say(text: str) -> None:
    print(text, flush=True)


async def announce(server: uvicorn.Server, start: Launch) -> None:
    """Once the server is up: the banner, then (with --demo) the demo runs, until cancelled."""
    while not server.started:
        await asyncio.sleep(0.05)
    root = base_url(start.host, start.port)
    lines = [
        "",
        f"session-events is serving on {root}",
        f"  API UI:  {root}/api/v2/ui/",
        f"  Viewer:  {root}/viewer/",
    ]
    if start.made_key:
        where = f"kept in {start.kept_in}" if start.kept_in else "for this run"
        lines += [
            f"No EVENTS_READ_KEYS or EVENTS_WRITE_KEYS set: a write key was made, {where}:",
            f"  X-API-Key: {start.made_key}",
        ]
    if not start.demo_key:
        _say("\n".join([*lines, ""]))
        return
    key = start.made_key or "<your key>"
    hint = "the X-API-Key above" if start.made_key else "one of your keys"

    def started(session_id: str, number: int) -> None:
        events_url = f"{root}/api/v2/sessions/{session_id}/events"
        if number > 1:
            _say(f"Demo run {number}: {root}/viewer/#session={session_id}")
            return
        _say(
            "\n".join(
                [
                    *lines,
                    "",
                    "Demo runs, one after another: each a session that starts, runs for about a",
                    "minute (an event every half second) and completes or fails.",
                    f"  Events:  {events_url}",
                    f"  Try:     curl -H 'X-API-Key: {key}' '{events_url}?per_page=5'",
                    "",
                    f"Watch it live in a browser (the page asks once for {hint}):",
                    f"  {root}/viewer/#session={session_id}",
                    "",
                ]
            )
        )

    # Imported here: the demo's client (and pydantic) cost 65 ms at every start of a command
    # that has no demo to run.
    from session_events.demo import run_demos

    await run_demos(root, start.demo_key, started)
