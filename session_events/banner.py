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
from session_events.tokens import generated_secret


@dataclass(frozen=True)
class MadeKeys:
    """The keys `serve` made because none is configured, shown in its banner."""

    write: str
    read: str
    kept_in: Path | None  # the folder they are kept in, for the embedded default database
    reused: bool  # kept by an earlier start rather than made by this one

    def where(self) -> str:
        """Where these keys are, for the 401s of a request without one of them."""
        if self.kept_in is None:
            return "this server made its keys at start-up and printed them"
        return (
            f"this server's keys are in {self.kept_in / WRITE_FILE} and "
            f"{self.kept_in / READ_FILE}, printed when it started"
        )


WRITE_FILE, READ_FILE, SECRET_FILE = "write-key", "read-key", "token-secret"


@dataclass(frozen=True)
class Launch:
    """What one `serve` hands its worker processes."""

    host: str
    port: int
    keyring: KeyRing
    made: MadeKeys | None  # the keys serve made (none was configured)
    demo_key: str | None  # the demo's own key, never shown
    # The session tokens' secrets: EVENTS_TOKEN_SECRETS, or one serve made (none was set).
    token_secrets: tuple[str, ...]
    token_note: str | None = None  # the banner's line about a secret serve made


def launch(settings: Settings, host: str, port: int, demo: bool) -> Launch:
    """The configured keys; with none configured, a write key and a read key: kept beside the
    embedded default database (so a restarted `make run` keeps an open viewer, and the README's
    examples, working), made anew for any other database."""
    read_keys, write_keys = set(settings.every_read_key), set(settings.every_write_key)
    made = None
    if not read_keys and not write_keys:
        made = _made_keys(settings.database_url)
        write_keys.add(made.write)
        read_keys.add(made.read)
    demo_key = KeyRing.generated_key() if demo else None
    if demo_key:
        write_keys.add(demo_key)
    keyring = KeyRing(read_keys, write_keys, where=made.where() if made else None)
    secrets, note = _token_secrets(settings)
    return Launch(host, port, keyring, made, demo_key, secrets, note)


def _token_secrets(settings: Settings) -> tuple[tuple[str, ...], str | None]:
    """EVENTS_TOKEN_SECRETS; with none set, a secret kept beside the embedded default database
    (tokens handed out survive a restart), made anew for any other database."""
    if settings.token_secrets:
        return settings.token_secrets, None
    if settings.database_url != DEFAULT_DATABASE_URL:
        return (generated_secret(),), (
            "No EVENTS_TOKEN_SECRETS set: session tokens are signed with a secret made for this "
            "run, and stop working when it stops"
        )
    path = DEFAULT_DATA_FOLDER / SECRET_FILE
    secret, _ = _kept_key(path, make=generated_secret)
    return (secret,), f"No EVENTS_TOKEN_SECRETS set: session tokens are signed with {path}"


def _made_keys(database_url: str) -> MadeKeys:
    if database_url != DEFAULT_DATABASE_URL:
        return MadeKeys(KeyRing.generated_key(), KeyRing.generated_key(), None, reused=False)
    folder = DEFAULT_DATA_FOLDER
    write, old_write = _kept_key(folder / WRITE_FILE)
    read, old_read = _kept_key(folder / READ_FILE)
    return MadeKeys(write, read, folder, reused=old_write and old_read)


def _kept_key(path: Path, make=KeyRing.generated_key) -> tuple[str, bool]:
    """The key kept in `path`, made and kept there if there is none; and whether it was there."""
    try:
        key = path.read_text().strip() if path.exists() else ""
        if key:
            return key, True
        key = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key + "\n")
    except (OSError, UnicodeDecodeError) as error:
        cause = getattr(error, "strerror", None) or str(error)
        raise StartupError(
            f"the key kept in {path} cannot be read or written ({cause}); remove it, or "
            f"set {'EVENTS_TOKEN_SECRETS' if path.name == SECRET_FILE else 'EVENTS_WRITE_KEYS'}"
        ) from None
    return key, False


def key_lines(made: MadeKeys) -> list[str]:
    """The banner's lines about the keys serve made."""
    if made.kept_in is None:
        how = "keys were made for this run"
    elif made.reused:
        how = f"using the keys kept in {made.kept_in}/"
    else:
        how = f"keys were made and kept in {made.kept_in}/"
    lines = [f"No EVENTS_READ_KEYS or EVENTS_WRITE_KEYS set: {how}"]
    for kind, key, file in (("write", made.write, WRITE_FILE), ("read", made.read, READ_FILE)):
        kept = f"  ({made.kept_in / file})" if made.kept_in else ""
        lines.append(f"  {kind + ':':<6} X-API-Key: {key}{kept}")
    return lines


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
    if start.made:
        lines += key_lines(start.made)
    if start.token_note:
        lines.append(start.token_note)
    if not start.demo_key:
        _say("\n".join([*lines, ""]))
        return
    key = start.made.write if start.made else "<your key>"
    hint = "the read or write X-API-Key above" if start.made else "one of your keys"

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

    # Imported here: the client and pydantic would slow the start of every command, and only a
    # demo needs them (the figure is in perf/RESULTS.md).
    from session_events.demo import run_demos

    await run_demos(root, start.demo_key, started)
