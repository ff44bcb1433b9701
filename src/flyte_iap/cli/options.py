"""The options of every command, declared once, and every reader of them but click's.

An :class:`Option` is a spelling, a type, a range, a default and a help text. The
tables below are read three ways, so the readers can never disagree about a spelling
or a range:

- by click (``cli.params.click_options``), for the commands as typed;
- by the cached-token fast path (:func:`parse_simple`): leniently, anything unusual is
  left to click;
- as the words of a ``proxyCommand`` (:func:`token_words`): strictly, for ``configure``
  (which writes them) and ``proxy`` (which runs them in process).

Whichever reader parsed a token command's options, :func:`token_request` turns them into
its one typed request (``flyte_iap.tokens.request``). Every option takes the plugin's
underscore spelling and a dashed alias. Light on purpose: on the fast path (no click, no
``re``, no ``enum``).
"""

from __future__ import annotations

import os

from flyte_iap.errors import UsageError, shown
from flyte_iap.tokens.request import (
    CACHE_BACKENDS,
    DEFAULT_LOGIN_TIMEOUT,
    DEFAULT_MARGIN,
    ServiceAccountRequest,
    UserRequest,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

Value = str | float | int | bool
Values = dict[str, Value]


class Option:
    """A command-line option. ``kind`` is the type of its value: ``str``, ``bool`` (a flag,
    no value), ``float`` (a finite number) or ``int``.

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
        kind: type[Value] = str,
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

    @property
    def flag(self) -> bool:
        return self.kind is bool

    def convert(self, raw: str) -> str | float | int | None:
        """``raw`` as this option's type, or None when it is not one or out of range."""
        if self.kind is str:
            return raw
        try:
            value: float | int = int(raw) if self.kind is int else float(raw)
        except ValueError:
            return None
        if value - value != 0:  # NaN or an infinity: no number of seconds
            return None
        if self.minimum is not None and value < self.minimum:
            return None
        if self.maximum is not None and value > self.maximum:
            return None
        return value

    def expected(self) -> str:
        """What a value must be, for a message: "a number of at least 0"."""
        what = "a whole number" if self.kind is int else "a number"
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{what} from {low:g} to {high:g}"
        return f"{what} of at least {low:g}" if low is not None else what


WEBAPP_CLIENT_ID = Option(
    "webapp_client_id",
    "OAuth client ID of the web application that IAP uses (the token's audience), "
    "like 123-abc.apps.googleusercontent.com.",
    required=True,
)
REFRESH_MARGIN = Option(
    "refresh_margin",
    "Fetch a new token when the cached one has fewer than this many seconds left.",
    kind=float,
    default=f"{DEFAULT_MARGIN:g}",
    minimum=0,
    metavar="SECONDS",
)
VERBOSE = Option("verbose", "Show what is done, and a traceback on errors.", kind=bool)

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
        kind=bool,
    ),
    Option(
        "port",
        "Port of the loopback redirect server (default: any free port).",
        kind=int,
        minimum=1,
        maximum=65535,
        metavar="PORT",
    ),
    Option(
        "timeout",
        "Seconds to wait for the browser login.",
        kind=float,
        default=f"{DEFAULT_LOGIN_TIMEOUT:g}",
        minimum=1,
        metavar="SECONDS",
    ),
    Option(
        "cache",
        "Where to keep the refresh token: 'file' (the token cache) or 'keyring' (the OS "
        "keyring; needs the keyring extra).",
        default=CACHE_BACKENDS[0],
        metavar="|".join(CACHE_BACKENDS),
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
#: The commands whose words a ``proxyCommand`` holds, and the fast path may answer.
TOKEN_COMMANDS = {
    SERVICE_ACCOUNT_TOKEN_COMMAND: SERVICE_ACCOUNT_OPTIONS,
    USER_TOKEN_COMMAND: USER_OPTIONS,
}
SECRET_ENV = "FLYTE_IAP_DESKTOP_CLIENT_SECRET"


# --- the typed request ---------------------------------------------------------------
def token_request(
    command: str,
    values: Mapping[str, object],
    *,
    force_login: bool = False,
    warn: Callable[[str], None] | None = None,
) -> ServiceAccountRequest | UserRequest:
    """The request of ``command`` (a token command, or ``login``) from its options'
    ``values`` by name, as any reader gives them (defaults filled in).

    ``warn`` hears that a client secret on the command line can be read by every user of
    this machine (the fast path passes None: it says nothing).
    """
    if command == SERVICE_ACCOUNT_TOKEN_COMMAND:
        return ServiceAccountRequest(
            _text(values, WEBAPP_CLIENT_ID) or "",
            key_path=_text(values, SERVICE_ACCOUNT_OPTIONS[1]),
            impersonate=_text(values, SERVICE_ACCOUNT_OPTIONS[2]),
            refresh_margin=_number(values, REFRESH_MARGIN),
        )
    secret = _text(values, CLIENT_SECRET)
    if secret and warn is not None:
        warn(
            "warning: --desktop_client_secret can be read by every user of this machine "
            f"(ps, /proc); set {SECRET_ENV} instead, or use Secret Manager"
        )
    desktop, audience = _text(values, DESKTOP_CLIENT_ID) or "", _text(values, WEBAPP_CLIENT_ID)
    secret_name, project = _text(values, SECRET_NAME), _text(values, PROJECT)
    return UserRequest(
        desktop,
        audience or "",
        secret_name=secret_name,
        project=project,
        client_secret=secret,
        no_browser=bool(values.get("no_browser")),
        port=int(_number(values, USER_OPTIONS[6], 0)),
        login_timeout=_number(values, USER_OPTIONS[7]),
        refresh_margin=_number(values, REFRESH_MARGIN),
        cache=_text(values, USER_OPTIONS[8]) or CACHE_BACKENDS[0],
        force_login=force_login,
        login_words=login_words(desktop, audience or "", secret_name, project, secret),
    )


def login_words(
    desktop_client_id: str,
    audience: str,
    secret_name: str | None,
    project: str | None,
    client_secret: str | None,
) -> tuple[str, ...]:
    """The ``flyte-iap login`` a person should run in a terminal (never with the secret)."""
    words = [
        "flyte-iap",
        "login",
        DESKTOP_CLIENT_ID.spellings[0],
        desktop_client_id,
        WEBAPP_CLIENT_ID.spellings[0],
        audience,
    ]
    if secret_name and project:
        words += [SECRET_NAME.spellings[0], secret_name, PROJECT.spellings[0], project]
    if client_secret:
        words += [CLIENT_SECRET.spellings[0], "..."]
    return tuple(words)


def _text(values: Mapping[str, object], option: Option) -> str | None:
    value = values.get(option.name)
    return value if isinstance(value, str) else None


def _number(values: Mapping[str, object], option: Option, default: float | None = None) -> float:
    value = values.get(option.name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if default is not None:
        return default
    assert option.default is not None, option.name
    converted = option.convert(option.default)
    assert isinstance(converted, int | float)
    return float(converted)


# --- the fast path's reader ----------------------------------------------------------
def parse_simple(argv: list[str], options: tuple[Option, ...]) -> Values | None:
    """Parse ``argv`` (after the command name) for the fast path, defaults filled in.

    Returns None for anything unusual (unknown option, ``--help``, a missing or
    ill-typed value, a positional argument): the full command line then handles it,
    and says what is wrong.
    """
    by_spelling = {s: o for o in options for s in o.spellings}
    values: Values = {}
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


# --- a proxyCommand's words ----------------------------------------------------------
_LONG = 1000  # how much of a path a message shows


class TokenWords:
    """A token command's options read from its words: ``values`` by name (defaults
    filled in, for :func:`token_request`) and ``words``, each option in its canonical
    spelling (for a ``proxyCommand``)."""

    __slots__ = ("command", "values", "words")

    def __init__(self, command: str, values: Values, words: list[str]) -> None:
        self.command = command
        self.values = values
        self.words = words


def token_words(
    command: str,
    args: Sequence[str],
    env: Mapping[str, str],
    warn: Callable[[str], None],
    *,
    written: bool,
) -> TokenWords:
    """``args`` checked as ``command`` checks them; a UsageError saying what is wrong.

    ``written``: the words are for a config file (``configure``), so a client secret is
    refused (it would sit there in clear text), and a key file's path made absolute
    (``pyflyte`` runs the command from any directory). ``warn`` hears the notes.
    """
    options = TOKEN_COMMANDS.get(command)
    if options is None:
        raise UsageError(f"TOKEN_COMMAND is {shown(command)!r}: use {' or '.join(TOKEN_COMMANDS)}")
    by_spelling = {s: o for o in options for s in o.spellings}
    values: Values = {}
    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        name, eq, inline = arg.partition("=")
        option = by_spelling.get("--verbose" if arg == "-v" else name)
        if name in ("-h", "--help"):
            doing = "configure writes it, not runs it" if written else "for its options"
            raise UsageError(f"see 'flyte-iap {command} --help': {doing}")
        if option is None:
            what = (
                f"no option {shown(name)}" if arg.startswith("-") else "no arguments, only options"
            )
            raise UsageError(f"{command} takes {what}" + (f" (after {out[-1]})" if out else ""))
        if option is CLIENT_SECRET and written:  # named without its value, never shown
            raise UsageError(
                f"{name} would be written into the Flyte config in clear text: set {SECRET_ENV} "
                f"where pyflyte runs, or use Secret Manager: {SECRET_NAME.spellings[0]} and "
                f"{PROJECT.spellings[0]}"
            )
        flag = option.spellings[0]
        if option.name in values:
            raise UsageError(f"{flag} is given twice")
        raw = "" if option.flag else inline if eq else next(rest, None)
        if option.flag and eq:
            raise UsageError(f"{flag} takes no value")
        if raw is None or (not eq and raw.startswith("-")):
            raise UsageError(f"{flag} needs a value")
        if not raw.isprintable() or raw != raw.strip():
            raise UsageError(f"{flag}: its value has control characters or spaces around it")
        value = True if option.flag else option.convert(raw)
        if value is None:
            raise UsageError(f"{flag} {shown(raw)!r}: not {option.expected()}")
        if option.name == "service_account_key" and written:
            raw = value = os.path.abspath(raw)
            if not os.path.isfile(raw):
                warn(f"warning: {shown(raw, _LONG)} is not a file (yet)")
        values[option.name] = value
        kept = [flag] if option.flag else [flag, raw]
        out += [f"{flag}={raw}"] if raw.startswith("-") else kept
    for option in options:
        if option.name in values:
            continue
        if option.required:
            raise UsageError(f"{command} needs {option.spellings[0]}")
        if option.default is not None:
            default = option.convert(option.default)
            assert default is not None, option.name
            values[option.name] = default
    if command == USER_TOKEN_COMMAND and written:
        _check_secret_source(values, env, warn)
    return TokenWords(command, values, out)


def _check_secret_source(
    values: Values, env: Mapping[str, str], warn: Callable[[str], None]
) -> None:
    """Where pyflyte will find the desktop client's secret, when the command runs there."""
    if values.get(SECRET_NAME.name) and values.get(PROJECT.name):
        return
    if not env.get(SECRET_ENV):
        raise UsageError(
            f"{USER_TOKEN_COMMAND} needs {SECRET_NAME.spellings[0]} and {PROJECT.spellings[0]} "
            f"(the desktop client's secret in Secret Manager), or {SECRET_ENV} set where "
            "pyflyte runs"
        )
    warn(f"note: the desktop client's secret will come from {SECRET_ENV}")
