"""Composition root: settings -> logging -> database lifespan -> Connexion AsyncApp."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import structlog
from connexion import AsyncApp
from connexion.middleware import MiddlewarePosition
from starlette.middleware.cors import CORSMiddleware

from session_events.app_state import STATE_KEY, AppState
from session_events.contract import load_contract
from session_events.db import migrate
from session_events.db.engine import database_class, open_database
from session_events.errors import add_error_handlers
from session_events.fast_route import FastRoute
from session_events.handlers.sessions_hub import SessionsHub
from session_events.hubs import Hubs
from session_events.logs import configure_logging
from session_events.middleware import AccessLog
from session_events.observability import Metrics, OpsEndpoints
from session_events.query_strings import ExplodedFormURIParser
from session_events.request_context import RequestContext
from session_events.revocations import Revocations
from session_events.routes import LiteralPaths, Routes
from session_events.security import ApiKeyHandler, KeyRing
from session_events.settings import Settings
from session_events.tokens import TokenSigner, generated_secret
from session_events.validators import VALIDATOR_MAP
from session_events.viewer_files import ViewerFiles
from session_events.whole_request import WholeRequest

log = structlog.get_logger("session_events")

# How requests are checked against the contract, by Connexion's stack and the fast route.
CONNEXION_OPTIONS = {
    "strict_validation": True,
    "validator_map": VALIDATOR_MAP,
    "security_map": {"apiKey": ApiKeyHandler},
    "uri_parser_class": ExplodedFormURIParser,
}


# Seconds between a worker's live gauges (open streams, pool...) written for the others' scrapes.
GAUGES_PUBLISHED_EVERY = 1.0

# What a page on another origin needs: the API key, JSON bodies, conditional and resumed reads
# sent; cursors, links, ids and back-off read.
CORS_SENT = [
    "X-API-Key",
    "Authorization",
    "Content-Type",
    "If-None-Match",
    "Last-Event-ID",
    "X-Request-ID",
    "Events-Position",
]
CORS_READ = ["ETag", "Link", "Location", "X-Request-ID", "Retry-After", "Events-Position"]


def cors_options(settings: Settings, routes: Routes) -> dict:
    return {
        "allow_origins": sorted(settings.cors_origins),
        "allow_methods": routes.methods,
        "allow_headers": CORS_SENT,
        "expose_headers": CORS_READ,
        "max_age": 600,
    }


def create_app(
    settings: Settings,
    keyring: KeyRing | None = None,
    shutdown: asyncio.Event | None = None,
    *,
    fast_route: bool = True,
    metrics_dir: str | None = None,
) -> AsyncApp:
    """The ASGI application. The database is opened (and migrated) by the lifespan.

    Setting `shutdown` tells waiting long-polls to answer and streams to end, so that a stopping
    server can finish its requests (the `serve` command sets it on SIGTERM). `fast_route` off
    sends every request through Connexion's middleware stack (the tests compare the two).
    `metrics_dir` (a worker of `serve --workers N`) keeps the metrics in prometheus_client's
    multiprocess files there, so that /metrics in any worker shows the whole server.
    """
    configure_logging(settings.log_format, settings.log_level)
    keyring = keyring or KeyRing(settings.every_read_key, settings.every_write_key)
    contract = load_contract(settings)
    routes = Routes(contract)
    metrics = Metrics(metrics_dir)
    app = AsyncApp(
        __name__,
        lifespan=_lifespan(settings, keyring, metrics, shutdown),
        validate_responses=settings.validate_responses,
        **CONNEXION_OPTIONS,
    )
    app.add_api(contract)
    add_error_handlers(app, routes, database_class(settings.database_url))
    _add_middleware(app, settings, routes, metrics)
    app.add_middleware(LiteralPaths, position=MiddlewarePosition.BEFORE_SWAGGER, routes=routes)
    if fast_route:
        app.add_middleware(
            FastRoute,
            position=MiddlewarePosition.BEFORE_SWAGGER,
            contract=contract,
            validate_responses=settings.validate_responses,
            **CONNEXION_OPTIONS,
        )
    return app


def _lifespan(
    settings: Settings, keyring: KeyRing, metrics: Metrics, shutdown: asyncio.Event | None
):
    """Open (and migrate) the database and start its notifier for as long as the app serves."""

    @asynccontextmanager
    async def lifespan(_app):
        database = open_database(settings)
        notifier = database.notifier()
        sessions_hub = SessionsHub(database, notifier, settings.stream_queue_bytes)
        watching = revocations = publishing = None
        # An app made without secrets (tests, tools) signs with one of its own.
        signer = TokenSigner(settings.token_secrets or (generated_secret(),))
        try:
            if settings.auto_migrate:
                await migrate.upgrade(database)
            await database.start()
            await notifier.start()
            log.info("database_ready", backend=database.backend)
            hubs = Hubs(
                database,
                notifier,
                heartbeat=settings.stream_heartbeat_seconds,
                queue_bytes=settings.stream_queue_bytes,
                delivered=metrics.delivery.observe,
                ended_slow=metrics.ended_slow.inc,
            )
            revocations = Revocations(database)
            if shutdown:
                watching = asyncio.create_task(_close_on(shutdown, notifier, hubs))
            state = AppState(
                database=database,
                notifier=notifier,
                hubs=hubs,
                events_appended=metrics.appended,
                stream_heartbeat_seconds=settings.stream_heartbeat_seconds,
                sessions_hub=sessions_hub,
                session_tombstone_seconds=settings.session_tombstone_seconds,
                keyring=keyring,
                token_signer=signer,
                revocations=revocations,
                token_ttl_seconds=settings.token_ttl_seconds,
            )
            metrics.bind(state)
            if metrics.multiprocess_dir:  # the other workers' scrapes read this one's gauges
                publishing = asyncio.create_task(metrics.publish_every(GAUGES_PUBLISHED_EVERY))
            yield {STATE_KEY: state}
        finally:
            if watching:
                watching.cancel()
            if publishing:
                publishing.cancel()
            if revocations:
                revocations.close()
            await sessions_hub.stop()
            await notifier.stop()
            await database.dispose()

    return lifespan


def _add_middleware(app: AsyncApp, settings: Settings, routes: Routes, metrics: Metrics) -> None:
    """Outermost first: the current request (for everything inside), operator endpoints (not
    logged), the access log, CORS (preflights answered, refusals readable by other origins), the
    viewer's static files (logged, outside the contract), the request made whole."""
    outside_errors = MiddlewarePosition.BEFORE_EXCEPTION
    app.add_middleware(RequestContext, position=outside_errors)
    readiness = migrate.RevisionProbe(settings.database_url)
    app.add_middleware(OpsEndpoints, position=outside_errors, metrics=metrics, readiness=readiness)
    app.add_middleware(AccessLog, position=outside_errors, routes=routes.templates, metrics=metrics)
    if settings.cors_origins:
        cors = cors_options(settings, routes)
        app.add_middleware(CORSMiddleware, position=outside_errors, **cors)
    app.add_middleware(ViewerFiles, position=outside_errors, api_base=routes.base_path)
    app.add_middleware(
        WholeRequest,
        position=outside_errors,
        max_body_bytes=settings.max_body_bytes,
        timeout=settings.body_timeout,
    )


async def _close_on(shutdown: asyncio.Event, notifier, hubs: Hubs) -> None:
    await shutdown.wait()
    log.info("shutting_down")
    notifier.shutdown()
    hubs.shutdown()
