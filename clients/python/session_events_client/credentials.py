"""The one header that carries a client's credential: an API key or a session token, never both.

A key goes in X-API-Key, a token in `Authorization: Bearer` (which httpx shows as [secure] in a
request's repr). No error here quotes the secret.
"""

from __future__ import annotations

import re

BEARER = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # RFC 6750's b64token, which a JWT is


def header(api_key: str | None, token: str | None) -> dict[str, str]:
    """The header that carries the one credential given. The errors never hold the secret: a
    header value httpx refuses would be quoted whole in its error."""
    if api_key and token:
        raise ValueError("pass api_key or token, not both: pick the one this client acts with")
    if api_key:
        return {"X-API-Key": api_key}
    if not token:
        return {}
    token = token.strip()  # a file's line break
    if not BEARER.fullmatch(token):
        raise ValueError(
            "token is not a session token as the server mints it (letters, digits and "
            "-._~+/ only); pass the `token` field of the minting answer as it is"
        )
    return {"Authorization": f"Bearer {token}"}
