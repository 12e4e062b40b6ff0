"""`session-events serve`: uvicorn on uvloop, one process or several sharing one port.

Several workers need PostgreSQL: its LISTEN/NOTIFY wakes long-polls and streams in every process,
while SQLite's wake-ups stay inside the process that appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import socket

import uvicorn
import uvloop

from session_events.app import create_app
from session_events.demo import create_demo_session, run_demo
from session_events.http_protocol import HalfCloseHttpToolsProtocol
from session_events.security import KeyRing
from session_events.settings import Settings
from session_events.startup_checks import base_url, check_database, listening_socket


def serve(settings: Settings, host: str, port: int, *, demo: bool, workers: int) -> int:
    """Run until SIGTERM/SIGINT; returns the exit status."""
    if workers < 1:
        return _refuse("--workers must be 1 or more.")
    if workers > 1 and settings.database_url.startswith("sqlite"):
        return _refuse(
            "--workers above 1 needs PostgreSQL (EVENTS_DATABASE_URL=postgresql://...): on "
            "SQLite a waiting request would not hear of events appended in another process."
        )
    sock = listening_socket(host, port)  # first: nothing is made on disk if the port is taken
    try:
        asyncio.run(check_database(settings))
        demo_key = KeyRing.generated_key() if demo else None
        keyring, shown_key = _keyring(settings, demo_key)
        if workers == 1:
            _run_worker(settings, host, port, keyring, demo_key, shown_key, sock)
            return 0
        return _run_workers(settings, host, port, keyring, demo_key, shown_key, workers, sock)
    finally:
        sock.close()


def _refuse(message: str) -> int:
    print(f"session-events serve: {message}", flush=True)
    return 2


def _keyring(settings: Settings, demo_key: str | None) -> tuple[KeyRing, str | None]:
    """The configured keys, or one generated write key printed once when none is configured.

    The demo appends with a key of its own, never printed.
    """
    write_keys = set(settings.every_write_key)
    generated = None
    if not settings.every_read_key and not settings.every_write_key:
        generated = KeyRing.generated_key()
        write_keys.add(generated)
        print(
            "No EVENTS_READ_KEYS or EVENTS_WRITE_KEYS set: generated a write key for this run:\n"
            f"  X-API-Key: {generated}",
            flush=True,
        )
    if demo_key:
        write_keys.add(demo_key)
    return KeyRing(settings.every_read_key, write_keys), generated


def _run_workers(settings, host, port, keyring, demo_key, shown_key, workers, sock) -> int:
    """Start `workers` processes serving the one socket, pass SIGTERM/SIGINT on as SIGTERM (each
    finishes its requests), wait for them all."""
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(
            target=_run_worker,
            args=(settings, host, port, keyring, demo_key if n == 0 else None, shown_key, sock),
            name=f"session-events-worker-{n}",
        )
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    print(f"Serving on {base_url(host, port)} with {workers} worker processes.", flush=True)

    def stop(_signum, _frame):
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
    # uvicorn re-raises the signal it stopped on once it has finished: that exit is a clean one.
    clean = (0, -signal.SIGTERM, -signal.SIGINT)
    failed = [process.exitcode for process in processes if process.exitcode not in clean]
    return failed[0] if failed else 0


def _run_worker(settings, host, port, keyring, demo_key, shown_key, sock: socket.socket):
    # uvloop: the event loop uvicorn would pick itself when started by uvicorn.run().
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(settings, host, port, keyring, demo_key, shown_key, sock))


async def _serve(settings, host, port, keyring, demo_key, shown_key, sock) -> None:
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
        http=HalfCloseHttpToolsProtocol,
    )
    server = uvicorn.Server(config)
    tasks = [
        asyncio.create_task(_tell_when_stopping(server, stopping)),
        asyncio.create_task(_freeze_when_started(server)),
    ]
    if demo_key:
        tasks.append(asyncio.create_task(_demo(server, host, port, demo_key, shown_key)))
    try:
        await server.serve(sockets=[sock])
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _freeze_when_started(server: uvicorn.Server) -> None:
    """Once the app is loaded, keep its long-lived objects (the parsed contract, the compiled
    validators, SQLAlchemy's tables) out of the garbage collector's full passes, which otherwise
    walk them all again and again under load."""
    while not server.started:
        await asyncio.sleep(0.05)
    gc.collect()
    gc.freeze()


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
    root = base_url(host, port)
    session_id = await create_demo_session(root, api_key)
    events_url = f"{root}/api/v2/sessions/{session_id}/events"
    key_hint = "the X-API-Key above" if shown_key else "one of your keys"
    print(
        f"\nDemo session {session_id} receives an event every half second.\n"
        f"  Events:  {events_url}\n"
        f"  API UI:  {root}/api/v2/ui/\n"
        f"  Try:     curl -H 'X-API-Key: {shown_key or '<your key>'}' '{events_url}?per_page=5'\n"
        f"\nWatch it live in a browser (the page asks once for {key_hint}):\n"
        f"  {root}/viewer/#session={session_id}\n",
        flush=True,
    )
    await run_demo(root, api_key, session_id)
