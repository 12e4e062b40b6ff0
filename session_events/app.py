"""Composition root: settings -> logging -> database lifespan -> Connexion AsyncApp."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import structlog
import yaml
from connexion import AsyncApp
from connexion.http_facts import HTTP_STATUS_CODES
from connexion.middleware import MiddlewarePosition
from connexion.problem import problem

from db import migrate
from db.engine import Database
from db.errors import (
    DataError,
    EventIdConflict,
    SessionAlreadyExists,
    SessionNotFound,
    UnstorableText,
)
from session_events.logs import configure_logging
from session_events.middleware import AccessLog, BodyLimit
from session_events.security import ApiKeyHandler, KeyRing
from session_events.settings import Settings
from session_events.validation import VALIDATOR_MAP

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "events-api.yaml"
log = structlog.get_logger("session_events")

STATUS_OF_ERROR = {
    SessionNotFound: 404,
    SessionAlreadyExists: 409,
    EventIdConflict: 409,
    UnstorableText: 400,
}


def data_error_problem(_request, error: DataError):
    status = STATUS_OF_ERROR[type(error)]
    return problem(status=status, title=HTTP_STATUS_CODES[status], detail=str(error))


def route_templates(spec_path: Path = SPEC) -> dict[str, str]:
    """operationId -> 'METHOD /api/v2/path/{param}', the route label of access logs."""
    spec = yaml.safe_load(spec_path.read_text())
    base = spec["servers"][0]["url"]
    return {
        operation["operationId"]: f"{method.upper()} {base}{path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def create_app(settings: Settings, keyring: KeyRing | None = None) -> AsyncApp:
    """The ASGI application. The database is opened (and migrated) by the lifespan."""
    configure_logging(settings.log_format, settings.log_level)
    keyring = keyring or KeyRing(settings.read_keys, settings.write_keys)

    @asynccontextmanager
    async def lifespan(_app):
        database = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout,
        )
        try:
            if settings.auto_migrate:
                await migrate.upgrade(database)
            log.info("database_ready", backend=database.backend)
            yield {"database": database, "keyring": keyring}
        finally:
            await database.dispose()

    app = AsyncApp(
        __name__,
        lifespan=lifespan,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        validator_map=VALIDATOR_MAP,
        security_map={"apiKey": ApiKeyHandler},
    )
    app.add_api(SPEC)
    for error_class in STATUS_OF_ERROR:
        app.add_error_handler(error_class, data_error_problem)
    app.add_middleware(
        AccessLog, position=MiddlewarePosition.BEFORE_EXCEPTION, routes=route_templates()
    )
    app.add_middleware(
        BodyLimit,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        max_body_bytes=settings.max_body_bytes,
    )
    return app
