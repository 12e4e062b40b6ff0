"""Composition root: settings -> logging -> database lifespan -> Connexion AsyncApp."""

from __future__ import annotations

from contextlib import asynccontextmanager

import structlog
from connexion import AsyncApp
from connexion.http_facts import HTTP_STATUS_CODES
from connexion.middleware import MiddlewarePosition
from connexion.problem import problem

from db import migrate
from db.engine import Database
from db.errors import (
    DataError,
    EventIdConflict,
    ForbiddenTransition,
    SessionAlreadyExists,
    SessionNotFound,
)
from db.notify import notifier_for
from session_events.logs import configure_logging
from session_events.middleware import AccessLog, BodyLimit
from session_events.query_strings import ExplodedFormURIParser
from session_events.routes import SPEC, Routes
from session_events.security import ApiKeyHandler, KeyRing
from session_events.settings import Settings
from session_events.validation import VALIDATOR_MAP

log = structlog.get_logger("session_events")

STATUS_OF_ERROR = {
    SessionNotFound: 404,
    SessionAlreadyExists: 409,
    EventIdConflict: 409,
    ForbiddenTransition: 409,
}


def data_error_problem(_request, error: DataError):
    status = STATUS_OF_ERROR[type(error)]
    return problem(status=status, title=HTTP_STATUS_CODES[status], detail=str(error))


def method_not_allowed(request, _error):
    """405 with an Allow header naming every method the contract gives the path."""
    allowed = request.scope["state"]["routes"].allowed_methods(request.url.path)
    return problem(
        status=405,
        title="Method Not Allowed",
        detail=f"{request.method} is not allowed here; use {', '.join(allowed)}.",
        headers={"Allow": ", ".join(allowed)},
    )


def create_app(settings: Settings, keyring: KeyRing | None = None) -> AsyncApp:
    """The ASGI application. The database is opened (and migrated) by the lifespan."""
    configure_logging(settings.log_format, settings.log_level)
    keyring = keyring or KeyRing(settings.read_keys, settings.write_keys)
    routes = Routes()

    @asynccontextmanager
    async def lifespan(_app):
        database = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout,
        )
        notifier = notifier_for(settings.database_url)
        try:
            if settings.auto_migrate:
                await migrate.upgrade(database)
            await notifier.start()
            log.info("database_ready", backend=database.backend)
            yield {
                "database": database,
                "notifier": notifier,
                "keyring": keyring,
                "routes": routes,
                "settings": settings,
            }
        finally:
            await notifier.stop()
            await database.dispose()

    app = AsyncApp(
        __name__,
        lifespan=lifespan,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        validator_map=VALIDATOR_MAP,
        security_map={"apiKey": ApiKeyHandler},
        uri_parser_class=ExplodedFormURIParser,
    )
    app.add_api(SPEC)
    for error_class in STATUS_OF_ERROR:
        app.add_error_handler(error_class, data_error_problem)
    app.add_error_handler(405, method_not_allowed)
    app.add_middleware(
        AccessLog, position=MiddlewarePosition.BEFORE_EXCEPTION, routes=routes.templates
    )
    app.add_middleware(
        BodyLimit,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        max_body_bytes=settings.max_body_bytes,
    )
    return app
