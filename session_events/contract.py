"""The contract as the app serves it: openapi/events-api.yaml with the configured limits.

The file is package data: session_events/openapi is a link to the repository's openapi/, which the
wheel holds as a folder.

The file states the default limits; an operator's EVENTS_MAX_* settings replace them in the loaded
document, so Connexion enforces the configured values and /api/v2/openapi.json shows them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from session_events.settings import Settings

SPEC = Path(__file__).parent / "openapi" / "events-api.yaml"

# setting -> where its value lives in the document
LIMITS = {
    "max_events_per_batch": ("EventBatch", "events", "maxItems"),
    "max_message_length": ("EventCreate", "message", "maxLength"),
    "max_event_data_bytes": ("EventCreate", "event_data", "x-max-bytes"),
    "token_ttl_seconds": ("TokenRequest", "ttl_seconds", "default"),
    "token_max_ttl_seconds": ("TokenRequest", "ttl_seconds", "maximum"),
}


def load_contract(settings: Settings | None = None, path: Path = SPEC) -> dict:
    # libyaml's loader: a sixth of the pure-Python one's time, the same document.
    document = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    if settings is not None:
        schemas = document["components"]["schemas"]
        for setting, (schema, field, keyword) in LIMITS.items():
            schemas[schema]["properties"][field][keyword] = getattr(settings, setting)
    return document
