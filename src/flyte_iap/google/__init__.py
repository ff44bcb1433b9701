"""Google's side: the endpoints, this machine's credentials and each kind of them, the
OAuth token endpoint, and ID tokens read and verified.

- ``endpoints``: :class:`Endpoints` from the environment, and :func:`check_url`
  (https, or http to a loopback host only);
- ``adc``: where this machine's credentials are (:func:`find_credentials_file`, a
  :class:`CredentialsFile`, else the metadata server) and who obtains a token
  (:func:`source_id`);
- the kinds of credentials, each a source of its own account's ID token and a caller
  of Google APIs (``credentials`` is their base): ``service_account_key``,
  ``metadata`` (:class:`MetadataServer`), ``authorized_user``, ``external_account``
  (workload identity federation); :func:`credentials_for` picks the kind of a file;
- the wire calls: ``oauth`` (every grant sent to a token endpoint, and a person's
  :class:`UserClient`), ``impersonation`` (IAM Credentials ``generateIdToken``),
  ``secret_manager`` (:func:`read_secret`), ``auth_transport`` (google-auth over our
  HTTP client);
- ``iap``: IAP's own answers told from the backend's (:func:`from_iap`);
- ID tokens: ``claims`` (read and checked before anything is printed or cached),
  ``verify`` (:func:`verify_id_token` against Google's certs, for ``decode`` and
  ``doctor``).

Each module loads when one of its names is first used (``flyte_iap.faces``): the fast
path reads ``adc`` alone, and ``decode`` needs no HTTP stack.
"""

from flyte_iap.faces import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flyte_iap.google.adc import (
        CredentialsFile,
        find_credentials_file,
        principal_of,
        read_info,
        source_id,
        well_known_adc_path,
    )
    from flyte_iap.google.claims import check_id_token, decode_parts, id_token_problems
    from flyte_iap.google.dispatch import credentials_for
    from flyte_iap.google.endpoints import CLOUD_PLATFORM_SCOPE, DEFAULTS, Endpoints, check_url
    from flyte_iap.google.iap import GENERATED_HEADER, from_iap
    from flyte_iap.google.metadata import MetadataServer
    from flyte_iap.google.oauth import TokenEndpoint, UserClient, UserTokens
    from flyte_iap.google.secret_manager import read_secret
    from flyte_iap.google.verify import (
        CLOCK_SKEW,
        Verdict,
        duration,
        is_time,
        local_time,
        verify_id_token,
    )

__all__ = [
    "CLOCK_SKEW",
    "CLOUD_PLATFORM_SCOPE",
    "DEFAULTS",
    "GENERATED_HEADER",
    "CredentialsFile",
    "Endpoints",
    "MetadataServer",
    "TokenEndpoint",
    "UserClient",
    "UserTokens",
    "Verdict",
    "check_id_token",
    "check_url",
    "credentials_for",
    "decode_parts",
    "duration",
    "find_credentials_file",
    "from_iap",
    "id_token_problems",
    "is_time",
    "local_time",
    "principal_of",
    "read_info",
    "read_secret",
    "source_id",
    "verify_id_token",
    "well_known_adc_path",
]
__getattr__, __dir__ = lazy(
    __name__,
    {
        "CredentialsFile": "adc",
        "find_credentials_file": "adc",
        "principal_of": "adc",
        "read_info": "adc",
        "source_id": "adc",
        "well_known_adc_path": "adc",
        "check_id_token": "claims",
        "decode_parts": "claims",
        "id_token_problems": "claims",
        "credentials_for": "dispatch",
        "CLOUD_PLATFORM_SCOPE": "endpoints",
        "DEFAULTS": "endpoints",
        "Endpoints": "endpoints",
        "check_url": "endpoints",
        "GENERATED_HEADER": "iap",
        "from_iap": "iap",
        "MetadataServer": "metadata",
        "TokenEndpoint": "oauth",
        "UserClient": "oauth",
        "UserTokens": "oauth",
        "read_secret": "secret_manager",
        "CLOCK_SKEW": "verify",
        "Verdict": "verify",
        "duration": "verify",
        "is_time": "verify",
        "local_time": "verify",
        "verify_id_token": "verify",
    },
)
