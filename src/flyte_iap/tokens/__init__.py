"""The use cases, one per command, with no command line in them: a service account's
token, a person's token, a logout. ``fresh`` and ``lookup`` are light: the fast path
uses them to answer from the cache."""
