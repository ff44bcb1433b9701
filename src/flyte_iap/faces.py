"""A package face that loads each of its modules when one of its names is first used.

Some packages hold light modules that the cached-token fast path reads (``google.adc``,
``tokens.request``) beside modules that import the HTTP stack or google-auth. Their
``__init__`` still says what the package offers, with ``__all__``, but a face that
imported every module would load all of them for the one the fast path needs (and
``decode`` would pay for ``requests``). Such a face is written as::

    TYPE_CHECKING = False
    if TYPE_CHECKING:  # what type checkers and readers see
        from flyte_iap.google.endpoints import Endpoints
    __all__ = ["Endpoints"]
    __getattr__, __dir__ = lazy(__name__, {"Endpoints": "endpoints"})

and ``from flyte_iap.google import Endpoints`` loads ``google.endpoints`` alone
(PEP 562). ``tests/unit/test_faces.py`` holds each face's two lists to each other.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy(
    package: str, offered: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``offered`` maps each name it
    offers to the module (within the package) that defines it."""

    def getattr_(name: str) -> object:
        module = offered.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        from importlib import import_module

        return getattr(import_module(f"{package}.{module}"), name)

    def dir_() -> list[str]:
        return sorted(offered)

    return getattr_, dir_
