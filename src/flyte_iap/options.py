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

USER_OPTIONS = (
    Option(
        "desktop_client_id",
        "OAuth client ID of the Desktop app this tool logs in with.",
        required=True,
    ),
    Option(
        "desktop_client_secret_gcp_secret_name",
        "Secret Manager secret holding the desktop client's secret (read with Application "
        "Default Credentials, only when Google's token endpoint is needed).",
        metavar="NAME",
    ),
    WEBAPP_CLIENT_ID,
    Option("project", "GCP project of that secret.", metavar="PROJECT"),
    Option(
        "desktop_client_secret",
        "The desktop client's secret itself, for teams without Secret Manager "
        "(or FLYTE_IAP_DESKTOP_CLIENT_SECRET).",
        metavar="SECRET",
    ),
    Option(
        "no_browser",
        "Do not open a browser: print the URL and accept the redirected URL pasted back "
        "(SSH, remote machines).",
        flag=True,
    ),
    Option(
        "port", "Port of the loopback redirect server (default: any free port).", metavar="PORT"
    ),
    Option("timeout", "Seconds to wait for the browser login.", default="300", metavar="SECONDS"),
    Option(
        "cache",
        "Where to keep the refresh token: 'file' (the token cache) or 'keyring' (the OS "
        "keyring; needs the keyring extra).",
        default="file",
        metavar="file|keyring",
    ),
    REFRESH_MARGIN,
    VERBOSE,
)

USER_TOKEN_COMMAND = "generate-user-id-token"
SERVICE_ACCOUNT_TOKEN_COMMAND = "generate-service-account-id-token"
COMMANDS = {
    SERVICE_ACCOUNT_TOKEN_COMMAND: SERVICE_ACCOUNT_OPTIONS,
    USER_TOKEN_COMMAND: USER_OPTIONS,
}


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
