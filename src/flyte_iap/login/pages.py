"""The pages a person's browser shows at the end of a login, served by the loopback server.

One small template: inline CSS (light and dark by ``prefers-color-scheme``, phone width
first), inline SVG, nothing fetched from anywhere, so a page renders the same offline
and its URL (which carries the code) goes nowhere. Every value put in a page (an email
claim, an audience, an error, the command to retry) has its control characters replaced
by :func:`~flyte_iap.errors.shown` and is then ``html.escape``-d. :data:`HEADERS` carry a
Content-Security-Policy that allows exactly this page's one style block, by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
import shlex

from flyte_iap.errors import shown

#: On the success page: what to do next.
SUCCESS_NEXT = (
    "You can close this tab and return to the terminal: flyte-iap hands the token to the "
    "command that asked for it."
)
RETRY = "Nothing was saved. To try again, run in a terminal:"
DENIED_NEXT = "To try again, run this in a terminal, then choose Allow:"
FOREIGN = "This login link does not belong to the running login; it was ignored."
NO_CODE = "This link carries no authorization code; it was ignored."
WRONG_LINK_NEXT = (
    "A running login still waits for its own link (the tab its command opened). "
    "If none is running, start one in a terminal:"
)
ANSWERED = (
    "This login has already received an answer from the browser; this one was ignored. "
    "Return to the terminal to see how the login ended."
)
STILL_RUNNING = (
    "The login is taking longer than expected to finish; return to the terminal to see "
    "whether it succeeded."
)
ENDED = "The login ended before this answer could be used; return to the terminal."
NOT_FOUND = "Nothing here: this address only takes the browser's answer to a flyte-iap login."

_CSS = """
:root{color-scheme:light dark;--bg:#f4f4f7;--card:#fff;--text:#1c1d21;--muted:#5d616b;
--line:#e2e3e8;--code:#f2f2f5;--brand:#6a4bd6;--ok:#1a7f37;--bad:#c9252d;--warn:#9a6100;
--info:#52607a}
@media (prefers-color-scheme:dark){:root{--bg:#101216;--card:#191c22;--text:#e7e8ec;
--muted:#a3a7b1;--line:#2c3039;--code:#0f1115;--brand:#a48dff;--ok:#46c35f;--bad:#ff6b6b;
--warn:#e0a72e;--info:#9aa7c0}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;
justify-content:center;gap:16px;padding:24px 16px;background:var(--bg);color:var(--text);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{width:100%;max-width:42rem;background:var(--card);border:1px solid var(--line);
border-radius:14px;padding:24px 28px 28px;box-shadow:0 1px 2px rgba(0,0,0,.06),
0 8px 24px rgba(0,0,0,.06)}
.brand{display:flex;align-items:center;gap:8px;margin:0 0 20px;color:var(--muted);
font-weight:600;font-size:14px;letter-spacing:.01em}
.brand svg{width:22px;height:22px;color:var(--brand)}.hole{fill:var(--card)}
.status{display:flex;align-items:center;gap:12px;margin:0 0 12px;color:var(--tone)}
.status svg{flex:none;width:36px;height:36px}
h1{margin:0;font-size:22px;line-height:1.25;color:var(--text)}
.ok{--tone:var(--ok)}.bad{--tone:var(--bad)}.warn{--tone:var(--warn)}.info{--tone:var(--info)}
main.ok,main.bad,main.warn,main.info{border-top:4px solid var(--tone)}
p{margin:12px 0 0}
dl{margin:16px 0 0;display:grid;grid-template-columns:max-content 1fr;gap:6px 16px}
dt{color:var(--muted);font-size:14px;padding-top:1px}
dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.reason{margin-top:12px;padding:10px 12px;border-left:3px solid var(--tone);
background:var(--code);border-radius:6px;overflow-wrap:anywhere}
pre{margin:8px 0 0;padding:12px 14px;background:var(--code);border:1px solid var(--line);
border-radius:8px;white-space:pre-wrap;overflow-x:auto}
.arg,.arg span{display:inline-block;max-width:100%;vertical-align:top}
.arg span{overflow-wrap:anywhere}
pre,code,.mono{font:13px/1.6 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",
monospace}
pre code{user-select:all}
footer{max-width:42rem;text-align:center;color:var(--muted);font-size:13px}
@media (max-width:480px){body{padding:16px 12px}main{padding:20px 18px 22px}
dl{grid-template-columns:1fr;gap:0}dd{margin-bottom:8px}pre{padding:10px}
pre,code{font-size:12.5px}}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
#: Sent with every page: nothing cached, the URL (with its code) never passed on, and
#: nothing loaded but this page's own style.
HEADERS = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
)

# A command line (its options as given) may be long: cut only past this.
_COMMAND_LIMIT = 4000
_SVG = '<svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor"'
_MARK = (  # a shield with a keyhole: the proxy's gate
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 1.8 '
    '3.8 5v6.2c0 5.1 3.5 9.6 8.2 11 4.7-1.4 8.2-5.9 8.2-11V5z"/>'
    '<g class="hole"><circle cx="12" cy="10" r="2.3"/>'
    '<rect x="10.9" y="11" width="2.2" height="5.2" rx="1.1"/></g></svg>'
)
_RING = '<circle cx="12" cy="12" r="10"/>'
_ICONS = {
    "ok": f'{_RING}<path d="M7.5 12.4l3 3 6-6.3"/>',
    "bad": f'{_RING}<path d="M8.8 8.8l6.4 6.4M15.2 8.8l-6.4 6.4"/>',
    "warn": f'{_RING}<path d="M12 7.2v6"/><path d="M12 16.6v.2"/>',
    "info": f'{_RING}<path d="M12 11v5.6"/><path d="M12 7.6v.2"/>',
}


def _esc(text: str, limit: int = 200) -> str:
    """Text safe for HTML, its control characters (an ESC, a newline) replaced."""
    return html.escape(shown(text, limit))


def _page(tone: str, title: str, body: str) -> bytes:
    icon = f'{_SVG} stroke-width="1.8" stroke-linecap="round">{_ICONS[tone]}</svg>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark"><meta name="robots" content="noindex">'
        f"<title>flyte-iap: {_esc(title)}</title><style>{_CSS}</style></head>"
        f'<body><main class="{tone}"><div class="brand">{_MARK}<span>flyte-iap</span></div>'
        f'<div class="status">{icon}<h1>{_esc(title)}</h1></div>{body}</main>'
        "<footer>Served by flyte-iap on 127.0.0.1 \u00b7 loads nothing from the network"
        "</footer></body></html>"
    ).encode()


def _command(intro: str, command: str) -> str:
    """A line saying what to do, then the command in a block of its own: one click selects
    it all, and it copies as the one line it is. It wraps between options, each kept on
    one line with its value where it fits, and inside a word (a client id, at one of its
    hyphens) only when the word alone is wider than the line."""
    command = shown(command, _COMMAND_LIMIT)
    try:
        words = [shlex.quote(word) for word in shlex.split(command)]
    except ValueError:  # not shell syntax after all: show it as it is
        words = command.split()
    groups: list[list[str]] = []
    for word in words:
        if not groups or word.startswith("-"):
            groups.append([])
        groups[-1].append(word)
    spans = " ".join(
        '<span class="arg">' + " ".join(f"<span>{html.escape(w)}</span>" for w in group) + "</span>"
        for group in groups
    )
    return f"<p>{_esc(intro)}</p><pre><code>{spans}</code></pre>"


def success(account: str, audience: str) -> bytes:
    """The login succeeded as ``account``, for a token whose audience is ``audience``."""
    rows = f"<dt>Account</dt><dd>{_esc(account)}</dd>"
    if audience:
        rows += f'<dt>Audience</dt><dd class="mono">{_esc(audience)}</dd>'
    return _page("ok", "Login succeeded", f"<dl>{rows}</dl><p>{html.escape(SUCCESS_NEXT)}</p>")


def failure(reason: str, retry_command: str) -> bytes:
    """The code was brought back, but exchanging it (or the login after it) failed."""
    body = f'<p class="reason">{_esc(reason)}</p>{_command(RETRY, retry_command)}'
    return _page("bad", "Login failed", body)


def denied(retry_command: str) -> bytes:
    """The person (or the account's policy) chose Deny: ``access_denied``."""
    body = (
        "<p>The login was denied in the browser (access_denied): no token was issued.</p>"
        + _command(DENIED_NEXT, retry_command)
    )
    return _page("bad", "Login denied", body)


def browser_error(error: str, retry_command: str) -> bytes:
    """The sign-in page came back with an ``error`` other than ``access_denied``."""
    body = (
        "<p>The sign-in page came back with an error instead of a code:</p>"
        f'<p class="reason">{_esc(error)}</p>{_command(RETRY, retry_command)}'
    )
    return _page("bad", "Login failed", body)


def wrong_link(why: str, retry_command: str) -> bytes:
    """A callback this login cannot use (another login's ``state``, or no code)."""
    body = f"<p>{_esc(why)}</p>{_command(WRONG_LINK_NEXT, retry_command)}"
    return _page("warn", "Wrong login link", body)


def notice(title: str, text: str, *, tone: str = "warn") -> bytes:
    """A page of one paragraph: a second answer, a hold that ran out, a login that
    ended, a path that is not the callback."""
    return _page(tone, title, f"<p>{_esc(text)}</p>")
