"""The service-account use case in process, against the in-process emulator: every
source, the cache keyed by principal, the clock seam, and answers that are not Google's."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from flyte_iap.cache import ServiceAccountEntry, TokenCache
from flyte_iap.console import Console
from flyte_iap.emulator import Emulator
from flyte_iap.errors import CredentialsError, OAuthError, ProtocolError, UsageError
from flyte_iap.google import source_id
from flyte_iap.tokens import ServiceAccountRequest, Services, get_service_account_token
from flyte_iap.transport import HttpClient

from ..cli import isolated_env
from ..stub_server import Reply, StubServer
from ..tokens import AUD, verify


class Seams:
    """Services for one test, with what they saw: warnings, backoff sleeps, debug lines."""

    def __init__(self, home: Path, env: dict[str, str], now: float | None = None) -> None:
        self.warnings: list[str] = []
        self.sleeps: list[float] = []
        self.err = io.StringIO()
        self.now = now
        self.env = isolated_env(home, env)
        self.cache = TokenCache(str(home / "cache"), warn=self.warnings.append)

    def clock(self) -> float:
        return self.now if self.now is not None else time.time()

    def services(self, **env: str) -> Services:
        return Services(
            {**self.env, **env},
            self.cache,
            HttpClient(sleep=self.sleeps.append),
            Console(self.err, verbose=True),
            self.clock,
        )


@pytest.fixture
def seams(home: Path, emulator: Emulator) -> Seams:
    return Seams(home, emulator.env())


def get(seams: Seams, key_path: str, refresh_margin: float = 300.0) -> ServiceAccountEntry:
    request = ServiceAccountRequest(AUD, key_path=key_path, refresh_margin=refresh_margin)
    entry = get_service_account_token(request, seams.services())
    assert isinstance(entry, ServiceAccountEntry)
    return entry


def test_a_key_file_token_is_fetched_once_then_served_from_the_cache(
    seams: Seams, emulator: Emulator, key: Path
) -> None:
    first = get(seams, str(key))
    email = emulator.config.service_account_email
    verify(emulator, first.id_token, email)
    assert (first.principal, first.source) == (email, f"key file {key}")
    again = get(seams, str(key))
    assert again.id_token == first.id_token
    assert emulator.count("token") == 1
    assert "using the cached token" in seams.err.getvalue()


def test_the_clock_decides_freshness(home: Path, emulator: Emulator, key: Path) -> None:
    seams = Seams(home, emulator.env())
    first = get(seams, str(key))
    seams.now = first.expiry - 301  # just outside the default 5-minute margin
    assert get(seams, str(key)).id_token == first.id_token
    seams.now = first.expiry - 299
    second = get(seams, str(key))
    assert second.id_token != first.id_token and emulator.count("token") == 2
    seams.now = second.expiry - 100
    assert get(seams, str(key), refresh_margin=60.0).id_token == second.id_token
    assert emulator.count("token") == 2


def test_the_metadata_server_is_remembered_by_its_real_email(
    seams: Seams, emulator: Emulator
) -> None:
    services = seams.services(GCE_METADATA_HOST=emulator.metadata_host)
    entry = get_service_account_token(ServiceAccountRequest(AUD), services)
    email = emulator.config.metadata_email
    verify(emulator, entry.id_token, email)
    assert seams.cache.metadata_email(source_id(None, services.env)) == email
    assert get_service_account_token(ServiceAccountRequest(AUD), services).id_token == (
        entry.id_token
    )
    assert emulator.count("metadata_identity") == 1


@pytest.mark.parametrize("caller", ["key", "metadata", "external_account"])
def test_impersonation_names_the_target_as_principal(
    seams: Seams, emulator: Emulator, tmp_path: Path, caller: str
) -> None:
    target = emulator.config.impersonation_targets[0]
    env: dict[str, str] = {}
    key_path = None
    if caller == "key":
        key_path = str(emulator.write_service_account_key(tmp_path / "caller.json"))
    elif caller == "metadata":
        env["GCE_METADATA_HOST"] = emulator.metadata_host
    else:
        path = emulator.write_external_account_file(tmp_path / "wif.json")
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(path)
    request = ServiceAccountRequest(AUD, key_path=key_path, impersonate=target)
    entry = get_service_account_token(request, seams.services(**env))
    verify(emulator, entry.id_token, target)
    assert entry.principal == target and entry.source.startswith(f"impersonation of {target} via")
    assert emulator.count("iam_id_token") == 1


def test_a_federation_file_that_impersonates_the_target_skips_the_second_hop(
    seams: Seams, emulator: Emulator, tmp_path: Path
) -> None:
    target = emulator.config.impersonation_targets[0]
    path = emulator.write_external_account_file(tmp_path / "wif.json", impersonation_email=target)
    services = seams.services(GOOGLE_APPLICATION_CREDENTIALS=str(path))
    for request in (ServiceAccountRequest(AUD), ServiceAccountRequest(AUD, impersonate=target)):
        verify(emulator, get_service_account_token(request, services).id_token, target)
    assert emulator.count("iam_access_token") == 0  # the federated token asked itself
    assert emulator.count("sts") == 1  # the second request came from the cache


def test_a_person_adc_cannot_be_a_source_and_says_so_before_any_request(
    seams: Seams, emulator: Emulator, tmp_path: Path
) -> None:
    path = emulator.write_authorized_user_file(tmp_path / "adc.json")
    services = seams.services(GOOGLE_APPLICATION_CREDENTIALS=str(path))
    with pytest.raises(CredentialsError, match="generate-user-id-token"):
        get_service_account_token(ServiceAccountRequest(AUD), services)
    assert emulator.count("token") == 0
    assert not (seams.cache.directory and Path(seams.cache.directory).exists())  # no lock taken


def test_an_impersonation_target_must_be_an_email() -> None:
    with pytest.raises(UsageError, match="'deployer' is not a service-account email"):
        ServiceAccountRequest(AUD, impersonate="deployer")


# --- the network misbehaving: retries with the sleep seam, answers that are not Google's --
def test_server_errors_are_retried_with_backoff(
    seams: Seams, emulator: Emulator, key: Path
) -> None:
    emulator.fail_next("token", 503, 1)
    emulator.fail_next("token", 429, 1)
    verify(emulator, get(seams, str(key)).id_token)
    assert emulator.count("token") == 3
    assert len(seams.sleeps) == 2 and all(0 < s <= 10 for s in seams.sleeps)


def test_three_server_errors_give_up_with_the_status(
    seams: Seams, emulator: Emulator, key: Path
) -> None:
    emulator.fail_next("token", 500, 5)
    with pytest.raises(OAuthError) as caught:
        get(seams, str(key))
    assert caught.value.status == 500 and emulator.count("token") == 3
    assert not list(Path(seams.cache.directory).glob("sa_*.json"))


@pytest.mark.parametrize("where", ["token_uri", "iam", "metadata"])
def test_a_captive_portal_page_is_a_protocol_error_not_a_crash(
    seams: Seams, emulator: Emulator, key: Path, tmp_path: Path, where: str
) -> None:
    """A proxy that answers 200 with HTML where Google answers JSON: a clear message that
    names who answered, never the page, and nothing cached."""
    portal = "<html><body>Sign in to the hotel wifi: secret-looking-text</body></html>"
    with StubServer(Reply.html(portal)) as stub:
        target = emulator.config.impersonation_targets[0]
        if where == "token_uri":
            info = json.loads(key.read_text())
            info["token_uri"] = stub.url + "/token"
            key.write_text(json.dumps(info))
            request, services = ServiceAccountRequest(AUD, key_path=str(key)), seams.services()
        elif where == "iam":
            request = ServiceAccountRequest(AUD, key_path=str(key), impersonate=target)
            services = seams.services(FLYTE_IAP_IAM_CREDENTIALS_URI=stub.url)
        else:  # the metadata server's access token, as the caller of an impersonation
            request = ServiceAccountRequest(AUD, impersonate=target)
            services = seams.services(GCE_METADATA_HOST=stub.url.removeprefix("http://"))
        with pytest.raises(ProtocolError) as caught:
            get_service_account_token(request, services)
    message = str(caught.value)
    assert "text/html" in message and "not a JSON object" in message
    assert "hotel" not in message and "\n" not in message
    assert not list(Path(seams.cache.directory).glob("sa_*.json"))


def test_an_id_token_that_is_not_a_jwt_is_refused(
    seams: Seams, emulator: Emulator, key: Path
) -> None:
    with StubServer(Reply.json({"id_token": "not-a-jwt"})) as stub:
        info = json.loads(key.read_text())
        info["token_uri"] = stub.url + "/token"
        key.write_text(json.dumps(info))
        with pytest.raises(ProtocolError, match="not a JWT"):
            get(seams, str(key))


def test_the_lock_wait_covers_the_holders_whole_network_budget() -> None:
    """A holder may spend its whole budget on the network (FLYTE_IAP_HTTP_TIMEOUT=30:
    3 x 30 + 10 s): waiters wait that long and more, never less than a minute."""
    from flyte_iap.tokens import LOCK_WAIT, lock_wait

    assert lock_wait(HttpClient().budget) == LOCK_WAIT  # the default 40 s budget
    assert lock_wait(HttpClient(timeout=30).budget) == 100 + 20
    assert lock_wait(None) == LOCK_WAIT
