"""The token cache: one JSON file per identity (docs/design.md, "Cache").

Standard library only, and light: the cached-token fast path imports
``store``, ``entry``, ``kinds``, ``names`` and ``place`` before click or any network
module.
"""
