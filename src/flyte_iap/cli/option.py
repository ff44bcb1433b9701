"""A command-line option: its spellings, type, range and value conversion (on the fast path)."""

from __future__ import annotations

TEXT, FLAG, NUMBER, INTEGER = "text", "flag", "number", "integer"


class Option:
    """A command-line option: ``kind`` is text, flag, number (a float) or integer.

    ``name`` is its identifier (``webapp_client_id``); it is spelled ``--webapp_client_id``
    (the plugin's spelling) and ``--webapp-client-id``, the dashed one first with
    ``dashed`` (this tool's own commands, like ``manifests``).
    """

    __slots__ = (
        "dashed",
        "default",
        "help",
        "kind",
        "maximum",
        "metavar",
        "minimum",
        "name",
        "required",
    )

    def __init__(
        self,
        name: str,
        help: str,
        *,
        kind: str = TEXT,
        required: bool = False,
        default: str | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        metavar: str | None = None,
        dashed: bool = False,
    ) -> None:
        self.name = name
        self.dashed = dashed
        self.help = help
        self.kind = kind
        self.required = required
        self.default = default
        self.minimum = minimum
        self.maximum = maximum
        self.metavar = metavar

    @property
    def spellings(self) -> tuple[str, ...]:
        underscore = "--" + self.name
        dashed = underscore.replace("_", "-")
        if dashed == underscore:
            return (underscore,)
        return (dashed, underscore) if self.dashed else (underscore, dashed)

    def convert(self, raw: str) -> str | float | int | None:
        """``raw`` as this option's type, or None when it is not one or out of range."""
        if self.kind == TEXT:
            return raw
        try:
            value: float | int = int(raw) if self.kind == INTEGER else float(raw)
        except ValueError:
            return None
        if value - value != 0:  # NaN or an infinity: no number of seconds
            return None
        if self.minimum is not None and value < self.minimum:
            return None
        if self.maximum is not None and value > self.maximum:
            return None
        return value
