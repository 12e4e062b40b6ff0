"""`session-events serve`: uvicorn on uvloop, one process or several sharing one port.

Several workers need PostgreSQL: its LISTEN/NOTIFY wakes long-polls and streams in every process,
while SQLite's wake-ups stay inside the process that appended. They keep their metrics in
prometheus_client's multiprocess files, in a private directory made for the run, so that a scrape
of any worker shows them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import importlib.util
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from multiprocessing.connection import wait

import uvicorn
import uvloop
from prometheus_client.multiprocess import mark_process_dead

from session_events.app import create_app
from session_events.banner import Launch, announce, launch
from session_events.db.engine import database_class
from session_events.http_protocol import StrictHttpToolsProtocol
from session_events.observability import MULTIPROC_VARIABLE
from session_events.settings import Settings
from session_events.startup_checks import base_url, check_database, listening_socket

# The server runs without the client; only its demo producer is one of the client's users.
DEMO_NEEDS_CLIENT = (
    "--demo runs its demo runs on the Python client, session-events-client, which is not "
    f"installed: in a clone of the repository, {sys.executable} -m pip install ./clients/python"
)

# uvicorn re-raises the signal it stopped on once it has finished: that exit is a clean one.
CLEAN_EXITS = (0, -signal.SIGTERM, -signal.SIGINT)


def serve(settings: Settings, host: str, port: int, *, demo: bool, workers: int) -> int:
    """Run until SIGTERM/SIGINT; returns the exit status."""
    if workers < 1:
        return _refuse("--workers must be 1 or more.")
    if workers > 1 and not database_class(settings.database_url).wakes_other_processes:
        return _refuse(
            "--workers above 1 needs PostgreSQL (EVENTS_DATABASE_URL=postgresql://...): on "
            "SQLite a waiting request would not hear of events appended in another process."
        )
    if demo and importlib.util.find_spec("session_events_client") is None:
        return _refuse(DEMO_NEEDS_CLIENT)
    sock = listening_socket(host, port)  # first: nothing is made on disk if the port is taken
    try:
        asyncio.run(check_database(settings, migrated=not settings.auto_migrate))
        start = launch(settings, host, port, demo)
        if workers == 1:
            _run_worker(settings, start, sock, True)
            return 0
        # Made anew (so empty) for this run, inherited by the workers through the environment,
        # which prometheus_client reads as they import it; removed when they have all stopped.
        metrics_dir = tempfile.mkdtemp(prefix="session-events-metrics-")
        os.environ[MULTIPROC_VARIABLE] = metrics_dir
        try:
            return _run_workers(settings, start, workers, sock, metrics_dir)
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    finally:
        sock.close()


def _refuse(message: str) -> int:
    print(f"session-events serve: {message}", file=sys.stderr, flush=True)
    return 2


def _run_workers(
    settings: Settings, start: Launch, workers: int, sock: socket.socket, metrics_dir: str
) -> int:
    """Start `workers` processes serving the one socket, pass SIGTERM/SIGINT on as SIGTERM (each
    finishes its requests), wait for them all; the live gauges of each that exits are dropped."""
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(
            target=_run_worker,
            # the first announces (and runs the demo)
            args=(settings, start, sock, n == 0, metrics_dir),
            name=f"session-events-worker-{n}",
        )
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    print(
        f"Serving on {base_url(start.host, start.port)} with {workers} worker processes.",
        flush=True,
    )

    def stop(_signum, _frame):
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running = {process.sentinel: process for process in processes}
    while running:
        for sentinel in wait(list(running)):
            process = running.pop(sentinel)
            process.join()
            # Its open streams and pool are gone; its counters stay (they only ever rise).
            mark_process_dead(process.pid, metrics_dir)
            if running and process.exitcode not in CLEAN_EXITS:
                print(
                    f"session-events serve: worker {process.pid} exited with status "
                    f"{process.exitcode}; {len(running)} serve on.",
                    file=sys.stderr,
                    flush=True,
                )
    failed = [process.exitcode for process in processes if process.exitcode not in CLEAN_EXITS]
    return failed[0] if failed else 0


def _run_worker(
    settings: Settings,
    start: Launch,
    sock: socket.socket,
    announces: bool,
    metrics_dir: str | None = None,
):
    # uvloop: the event loop uvicorn would pick itself when started by uvicorn.run().
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(settings, start, sock, announces, metrics_dir))


async def _serve(
    settings: Settings,
    start: Launch,
    sock: socket.socket,
    announces: bool,
    metrics_dir: str | None,
) -> None:
    stopping = asyncio.Event()
    settings = dataclasses.replace(settings, token_secrets=start.token_secrets)
    app = create_app(settings, start.keyring, shutdown=stopping, metrics_dir=metrics_dir)
    config = uvicorn.Config(
        app,
        host=start.host,
        port=start.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_timeout,
        http=StrictHttpToolsProtocol,
        ws="none",  # the service has no WebSocket route: an upgrade is served as HTTP/1.1
    )
    server = uvicorn.Server(config)
    tasks = [
        asyncio.create_task(_tell_when_stopping(server, stopping)),
        asyncio.create_task(_freeze_when_started(server)),
    ]
    if announces:
        tasks.append(asyncio.create_task(announce(server, start)))
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
