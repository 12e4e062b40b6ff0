"""Test and benchmark support: what tests/ and perf/ both use, owned by neither.

`pg_server` starts a throwaway PostgreSQL cluster from the machine's binaries; `live_server` runs
`session-events serve` as a subprocess on a free port with known API keys. Not part of the service
and not shipped in its wheel (pyproject's packages.find includes only the service's packages).
"""
