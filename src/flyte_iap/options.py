"""The options of the token commands, declared once.

Both the click commands (``cli.py``) and the cached-token fast path
(``fastpath.py``) are built from these tables, so the two can never disagree
about a spelling. Every option takes the plugin's underscore spelling and a
dashed alias. Light on purpose: imported on the fast path.
"""

from __future__ import annotations


class Option:
    """A command-line option that takes a value (or, with ``flag``, none)."""

    __slots__ = ("default", "flag", "help", "metavar", "name", "required")

    def __init__(
        self,
        name: str,
        help: str,
        *,
        required: bool = False,
        flag: bool = False,
        default: str | None = None,
        metavar: str = "TEXT",
    ) -> None:
        self.name = name
        self.help = help
        self.required = required
        self.flag = flag
        self.default = default
        self.metavar = metavar

    @property
    def spellings(self) -> tuple[str, ...]:
        underscore = "--" + self.name
        dashed = underscore.replace("_", "-")
        return (underscore, dashed) if dashed != underscore else (underscore,)


WEBAPP_CLIENT_ID = Option(
    "webapp_client_id",
    "OAuth client ID of the web application that IAP uses (the token's audience), "
    "like 123-abc.apps.googleusercontent.com.",
    required=True,
)
REFRESH_MARGIN = Option(
    "refresh_margin",
    "Fetch a new token when the cached one has fewer than this many seconds left.",
    default="300",
    metavar="SECONDS",
)
VERBOSE = Option("verbose", "Show what is done, and a traceback on errors.", flag=True)

SERVICE_ACCOUNT_OPTIONS = (
    WEBAPP_CLIENT_ID,
    Option(
        "service_account_key",
        "Service-account key file (JSON). Default: GOOGLE_APPLICATION_CREDENTIALS, "
        "else the GCE/GKE metadata server.",
        metavar="FILE",
    ),
    Option(
        "impersonate_service_account",
        "Get the token for this service account through IAM Credentials generateIdToken, "
        "using the key file, ADC or metadata credentials as the caller.",
        metavar="EMAIL",
    ),
    REFRESH_MARGIN,
    VERBOSE,
)

COMMANDS = {"generate-service-account-id-token": SERVICE_ACCOUNT_OPTIONS}


def parse_simple(argv: list[str], options: tuple[Option, ...]) -> dict[str, str | bool] | None:
    """Parse ``argv`` (after the command name) for the fast path.

    Returns None for anything unusual (unknown option, ``--help``, a missing
    value, a positional argument): the full command line then handles it.
    """
    by_spelling = {s: o for o in options for s in o.spellings}
    values: dict[str, str | bool] = {}
    args = iter(argv)
    for arg in args:
        name, eq, inline = arg.partition("=")
        if arg == "-v":
            name = "--verbose"
        option = by_spelling.get(name)
        if option is None or option.name in values:
            return None
        if option.flag:
            if eq:
                return None
            values[option.name] = True
            continue
        value = inline if eq else next(args, None)
        if value is None or (not eq and value.startswith("-")):
            return None
        values[option.name] = value
    if any(o.required and o.name not in values for o in options):
        return None
    return values
