"""NiceGUI work repeated for every element of every page, done once instead (issue 17, found with a profiler on
the portal pages under load).

Each element's classes, style and props are observable collections, and each asks
`nicegui.helpers.expects_arguments(its change handler)`, which builds an `inspect.signature` of a bound method
of the same few functions every time: about a tenth of the event loop's time while portal pages were built.
The answer depends only on the function, so it is kept per function. NiceGUI is pinned (pyproject.toml); a new
version is checked by tests/ui/test_capacity_ui.py."""
from __future__ import annotations

import types
import weakref
from collections.abc import Callable

from nicegui import helpers

_original: Callable[[Callable], bool] = helpers.expects_arguments
_by_method: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # function -> answer for its bound methods


def expects_arguments(func: Callable) -> bool:
    """helpers.expects_arguments, kept per function for bound methods (their signature is the function's but
    `self`); any other callable is asked as before."""
    if isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType):
        try:
            return _by_method[func.__func__]
        except KeyError:
            answer = _by_method[func.__func__] = _original(func)
            return answer
    return _original(func)


def install() -> None:
    """Once per app (build_app): NiceGUI's modules call it as `helpers.expects_arguments`."""
    helpers.expects_arguments = expects_arguments
