"""A function that loads its target on first call: keeps a plugin's entry point cheap to import."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_callable(target: str) -> Callable[..., Any]:
    """A function that imports ``"package.module:function"`` on its first call and calls it.

    A plugin module (what its entry point names) is imported whenever ``ratatosk`` loads plugins;
    registering ``configure=lazy_callable("my_plugin._cli:configure")`` instead of importing
    ``my_plugin._cli`` keeps that import cheap. A malformed target raises ``ValueError`` at once;
    a missing module or function raises when the function is first called.
    """
    module_name, sep, name = target.partition(":")
    if not sep or not module_name or not name.isidentifier():
        raise ValueError(f"a lazy target is 'package.module:function', not {target!r}")
    loaded: list[Callable[..., Any]] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not loaded:
            loaded.append(getattr(importlib.import_module(module_name), name))
        return loaded[0](*args, **kwargs)

    call.__name__ = name
    call.__qualname__ = f"lazy_callable({target!r})"
    call.__doc__ = f"Calls {target} (imported on first call)."
    return call
