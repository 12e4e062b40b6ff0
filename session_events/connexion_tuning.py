"""Per-request work Connexion 3.3 repeats needlessly, done once instead.

Measured with py-spy under load (perf/RESULTS.md): Connexion wraps each handler in its decorator
stack twice on every request (AsyncOperation.fn is a property, and StarletteDecorator decorates
again inside its wrapper, calling inspect.signature), and its security wrapper calls
inspect.signature twice per request. None of these results can change while the app runs.
"""

from __future__ import annotations

import functools

from connexion import AsyncApp
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.security import AbstractSecurityHandler


class _StarletteDecoratedOnce(StarletteDecorator):
    def __call__(self, function):
        decorated = self.decorate(function)
        parser = None  # of this decorator's one operation: built on its first request

        @functools.wraps(function)
        async def wrapper(*_args, **_kwargs):
            nonlocal parser
            parser = parser or self.uri_parser
            request = self.framework.get_request(uri_parser=parser, scope=scope, receive=receive)
            return await decorated(request)

        return wrapper


class _DecoratedOnce(AsyncOperation):
    @functools.cached_property
    def fn(self):
        decorator = _StarletteDecoratedOnce(
            pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )
        return decorator(self._fn)


class _Api(AsyncApi):
    def make_operation(self, operation) -> AsyncOperation:
        return _DecoratedOnce.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


def decorate_handlers_once(app: AsyncApp) -> None:
    """Call before add_api: the APIs added afterwards keep their decorated handlers."""
    app._middleware_app.api_cls = _Api


@functools.cache
def accepts_kwarg(func, keyword: str) -> bool:
    """AbstractSecurityHandler._accepts_kwarg, remembered per (function, keyword)."""
    return AbstractSecurityHandler._accepts_kwarg(func, keyword)
