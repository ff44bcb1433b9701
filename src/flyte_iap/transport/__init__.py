"""The one HTTP stack: the standard library's ``http.client``, with a deadline on every
call and bounded retries (``attempt`` says what it does that requests did).

Time limits, with ``T`` = ``timeout`` (``FLYTE_IAP_HTTP_TIMEOUT``, default 10 s):

- **One try** has ``T`` seconds in all, from connecting to the last byte of the
  body: not per socket read, so a server that drips a byte at a time cannot
  stretch it. The try runs in a helper thread that the caller waits for until
  the deadline; one still running then is abandoned (its socket is shut down
  which wakes a blocked read) and the call reads as "timed out".
- **One call** makes at most ``tries`` tries (3), and its backoff sleeps add up
  to at most ``RETRY_WAIT`` (10 s; a numeric ``Retry-After`` is honoured within
  that): at most ``tries x T + 10 s``.
- **One client** (the command line builds one per command) spends at most
  ``budget`` seconds on the network, tries and sleeps of all its calls together
  (not the time in between, such as a login in the browser); by default as long
  as one call may take, ``tries x T + 10 s`` (40 s by default). A try never
  runs past what is left; a call with nothing left fails at once.

Retries are for connection errors, timeouts, 429, 500, 502, 503 and 504 only;
any other answer is final. A body over ``MAX_BODY`` (4 MiB) is not read on: no
Google answer comes near it. Google's error bodies are turned into
``error: description`` messages, with the server's text made safe to print
(:func:`flyte_iap.errors.shown`); a 2xx body that is not what Google sends
becomes a :class:`ProtocolError`.
"""

from flyte_iap.transport.attempt import MAX_BODY
from flyte_iap.transport.client import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    RETRY_WAIT,
    RETRYABLE_STATUS,
    HttpClient,
    http_timeout,
)
from flyte_iap.transport.response import Response, describe_error, raise_for_error

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BODY",
    "MAX_TIMEOUT",
    "RETRYABLE_STATUS",
    "RETRY_WAIT",
    "HttpClient",
    "Response",
    "describe_error",
    "http_timeout",
    "raise_for_error",
]
