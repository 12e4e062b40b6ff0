"""session-events: the composition root (app, settings, logging, validation) and the command."""

import warnings

# Connexion imports Starlette's test client at start-up, which warns about httpx on every run.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
