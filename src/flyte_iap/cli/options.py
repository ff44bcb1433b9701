"""The options of every command, declared once: spelling, type, range, default, help.

The click commands (``params.click_options``) and the cached-token fast path
(:func:`parse_simple`) are both built from these tables, so the two can never
disagree about a spelling or a range. Every option takes the plugin's
underscore spelling and a dashed alias. Light on purpose: on the fast path.
"""

from __future__ import annotations

from flyte_iap.cli.option import FLAG as FLAG
from flyte_iap.cli.option import INTEGER as INTEGER
from flyte_iap.cli.option import NUMBER as NUMBER
from flyte_iap.cli.option import TEXT as TEXT
from flyte_iap.cli.option import Option as Option

WEBAPP_CLIENT_ID = Option(
    "webapp_client_id",
    "OAuth client ID of the web application that IAP uses (the token's audience), "
    "like 123-abc.apps.googleusercontent.com.",
    required=True,
)
REFRESH_MARGIN = Option(
    "refresh_margin",
    "Fetch a new token when the cached one has fewer than this many seconds left.",
    kind=NUMBER,
    default="300",
    minimum=0,
    metavar="SECONDS",
)
VERBOSE = Option("verbose", "Show what is done, and a traceback on errors.", kind=FLAG)

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

DESKTOP_CLIENT_ID = Option(
    "desktop_client_id", "OAuth client ID of the Desktop app this tool logs in with.", required=True
)
SECRET_NAME = Option(
    "desktop_client_secret_gcp_secret_name",
    "Secret Manager secret holding the desktop client's secret (read with Application "
    "Default Credentials, only when Google's token endpoint is needed).",
    metavar="NAME",
)
PROJECT = Option("project", "GCP project of that secret.", metavar="PROJECT")
CLIENT_SECRET = Option(
    "desktop_client_secret",
    "The desktop client's secret itself, for teams without Secret Manager "
    "(or FLYTE_IAP_DESKTOP_CLIENT_SECRET).",
    metavar="SECRET",
)
USER_OPTIONS = (
    DESKTOP_CLIENT_ID,
    SECRET_NAME,
    WEBAPP_CLIENT_ID,
    PROJECT,
    CLIENT_SECRET,
    Option(
        "no_browser",
        "Do not open a browser: print the URL and accept the redirected URL pasted back "
        "(SSH, remote machines).",
        kind=FLAG,
    ),
    Option(
        "port",
        "Port of the loopback redirect server (default: any free port).",
        kind=INTEGER,
        minimum=1,
        maximum=65535,
        metavar="PORT",
    ),
    Option(
        "timeout",
        "Seconds to wait for the browser login.",
        kind=NUMBER,
        default="300",
        minimum=1,
        metavar="SECONDS",
    ),
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
LOGOUT_OPTIONS = (
    Option("desktop_client_id", "Desktop OAuth client ID of the login to remove.", required=True),
    Option("webapp_client_id", "Webapp (IAP) client ID of the login to remove.", required=True),
    VERBOSE,
)

USER_TOKEN_COMMAND = "generate-user-id-token"
SERVICE_ACCOUNT_TOKEN_COMMAND = "generate-service-account-id-token"
#: The commands the fast path may answer from the cache.
TOKEN_COMMANDS = {
    SERVICE_ACCOUNT_TOKEN_COMMAND: SERVICE_ACCOUNT_OPTIONS,
    USER_TOKEN_COMMAND: USER_OPTIONS,
}


def parse_simple(
    argv: list[str], options: tuple[Option, ...]
) -> dict[str, str | float | int | bool] | None:
    """Parse ``argv`` (after the command name) for the fast path, defaults filled in.

    Returns None for anything unusual (unknown option, ``--help``, a missing or
    ill-typed value, a positional argument): the full command line then handles it,
    and says what is wrong.
    """
    by_spelling = {s: o for o in options for s in o.spellings}
    values: dict[str, str | float | int | bool] = {}
    args = iter(argv)
    for arg in args:
        name, eq, inline = arg.partition("=")
        if arg == "-v":
            name = "--verbose"
        option = by_spelling.get(name)
        if option is None or option.name in values:
            return None
        if option.kind == FLAG:
            if eq:
                return None
            values[option.name] = True
            continue
        raw = inline if eq else next(args, None)
        if raw is None or (not eq and raw.startswith("-")):
            return None
        value = option.convert(raw)
        if value is None:
            return None
        values[option.name] = value
    for option in options:
        if option.name in values:
            continue
        if option.required:
            return None
        default = option.convert(option.default) if option.default is not None else None
        if default is not None:
            values[option.name] = default
    return values
