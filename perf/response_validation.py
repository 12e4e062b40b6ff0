"""What response validation costs per response, in process: one body, sent again and again.

    curl -s -H "X-API-Key: $KEY" > poll.json \
        "$URL/api/v2/sessions/$ID/events?since=$SINCE&per_page=50"
    .venv/bin/python -m perf.response_validation poll.json [-n 20000]

The events listing's response validation (session_events/direct_dispatch.py, built from the
contract with the app's Connexion options) sends a 200 with this body to a sink, against the same
response sent without it; then its steps one by one: the start's checks (media type, required
headers, the body's validator), parsing the body, checking it. A hot loop on one core: a server
runs the same steps about twice as slowly between its other work (perf/RESULTS.md, 2026-11-29).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import timeit
from pathlib import Path

from connexion.spec import Specification
from starlette.responses import Response

from session_events.app import CONNEXION_OPTIONS
from session_events.contract import load_contract
from session_events.direct_dispatch import DirectDispatch

HEADERS = {"ETag": '"1"', "Cache-Control": "no-cache", "Link": '</api/v2/x?page=2>; rel="next"'}
SCOPE = {"type": "http", "method": "GET", "path": "/", "headers": [], "extensions": {}}


def listing_validation():
    dispatch = DirectDispatch(None)
    dispatch.add_api(
        Specification.load(load_contract()), validate_responses=True, **CONNEXION_OPTIONS
    )
    for _, operation in dispatch.routes["GET"]:
        if operation.operation.operation_id == "handlers.events.list_events":
            return operation.response_validation
    raise LookupError("the contract has no events listing")


async def _receive():
    return {"type": "http.request"}


async def _sink(_message):
    pass


async def per_response(body: bytes, n: int, send) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await send(Response(body, 200, HEADERS, media_type="application/json"))
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("body", type=Path, help="a 200 body of GET /sessions/{id}/events")
    parser.add_argument("-n", type=int, default=20000, help="responses per measurement")
    args = parser.parse_args()
    body = args.body.read_bytes()
    validation = listing_validation()

    async def plain(response):
        await response(SCOPE, _receive, _sink)

    async def validated(response):
        await validation.send(response, SCOPE, _receive, _sink)

    async def compare() -> tuple[float, float]:
        await per_response(body, 100, validated)  # first use: validators compiled
        return (
            min([await per_response(body, args.n, plain) for _ in range(3)]),
            min([await per_response(body, args.n, validated) for _ in range(3)]),
        )

    unvalidated, with_validation = asyncio.run(compare())
    response = Response(body, 200, HEADERS, media_type="application/json")
    validator = validation._body_validator(200, response.raw_headers)
    parsed = validator._parse((body,))

    def each(step) -> float:
        return min(timeit.repeat(step, number=args.n, repeat=3)) / args.n * 1e6

    print(f"body: {len(body):,} bytes")
    print(f"sent without validation: {unvalidated:6.1f} us per response")
    print(f"sent with validation:    {with_validation:6.1f} us per response")
    print(f"  validation:            {with_validation - unvalidated:6.1f} us, of which")
    start = each(lambda: validation._body_validator(200, response.raw_headers))
    print(f"  start's checks:        {start:6.1f} us")
    print(f"  parsing the body:      {each(lambda: validator._parse((body,))):6.1f} us")
    print(f"  checking it:           {each(lambda: validator._validate(parsed)):6.1f} us")


if __name__ == "__main__":
    main()
