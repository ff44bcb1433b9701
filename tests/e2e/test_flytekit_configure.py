"""The real Flyte client on a config that `flyte-iap configure` wrote: flytekit's
`FlyteRemote` calls the admin service through the gRPC stand-in (``admin``),
which lets a call through only with a valid `proxy-authorization` ID token, as IAP
does. Without the proxy command the same call is refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from flyte_iap.cli import LAUNCH
from flyte_iap.emulator import Emulator

from ..browsers import chromium_missing
from ..cli import Cli, UserCli, flyte_iap_command
from ..flytekit_backend import IapGate, run_flytekit
from ..tokens import USER, sa_args, user_args

HAND_WRITTEN = """\
# our Flyte, behind IAP (a stand-in on this machine)
admin:
  endpoint: dns:///127.0.0.1:{port}
  insecure: true   # the stand-in speaks plain gRPC
logger:
  level: 0
"""


def refused_by_the_gate(result: subprocess.CompletedProcess[str]) -> bool:
    """flytekit failed on the gate's UNAUTHENTICATED: it quotes the gate's words, or (when
    the Flyte 2 SDK's packages sit beside it) only names its FlyteAuthenticationException."""
    return result.returncode != 0 and (
        "IAP: missing or invalid token" in result.stderr
        or "FlyteAuthenticationException" in result.stderr
    )


def proxy_command(config: Path) -> list[str]:
    return list(yaml.safe_load(config.read_text())["admin"]["proxyCommand"])


def test_a_service_account_after_configure_and_refused_before(
    tmp_path: Path, cli: Cli, emulator: Emulator, admin: tuple[int, IapGate]
) -> None:
    port, iap = admin
    config = tmp_path / "config.yaml"
    config.write_text(HAND_WRITTEN.format(port=port))
    before = run_flytekit(config, cli.env)  # no proxyCommand: IAP never sees a token
    assert before.returncode != 0
    assert refused_by_the_gate(before)
    assert iap.seen and all(claims is None for claims in iap.seen)
    assert emulator.count("token") == 0

    key = emulator.write_service_account_key(tmp_path / "key.json")
    written = cli("configure", "--config", str(config), *sa_args(key=key))
    assert written.returncode == 0, written.stderr
    assert config.read_text().startswith(HAND_WRITTEN.format(port=port).split("logger:")[0])
    written_command = proxy_command(config)
    # The interpreter that ran `flyte-iap` (its script's), with the launcher.
    assert Path(written_command[0]).parent == Path(flyte_iap_command()[0]).parent
    assert written_command[1:4] == list(LAUNCH)

    after = run_flytekit(config, cli.env)
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == "v9.9.9-iap"
    assert iap.seen[-1] is not None
    assert iap.seen[-1]["email"] == emulator.config.service_account_email


@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_a_person_logged_in_by_chromium_through_the_configured_command(
    tmp_path: Path, emulator: Emulator, admin: tuple[int, IapGate]
) -> None:
    port, iap = admin
    home = tmp_path / "home"
    home.mkdir()
    user = UserCli(home, emulator, kind="chromium", action="allow")
    written = user(
        "configure", "--endpoint", f"dns:///127.0.0.1:{port}", USER, *user_args(emulator)
    )
    assert written.returncode == 0, written.stderr
    config = home / ".flyte" / "config.yaml"
    assert yaml.safe_load(config.read_text())["admin"]["insecure"] is True

    # No login yet: flytekit runs the command, which opens chromium through $BROWSER.
    first = run_flytekit(config, user.env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "v9.9.9-iap"
    assert iap.seen[-1] is not None and iap.seen[-1]["email"] == emulator.config.user_email
    assert len(user.browser_visits(1)) == 1
    # A new process: the login is cached, no browser and no consent page.
    again = run_flytekit(config, user.env)
    assert again.returncode == 0, again.stderr
    assert emulator.count("auth") == 1

    config.write_text(HAND_WRITTEN.format(port=port))  # the same file without proxyCommand
    refused = run_flytekit(config, user.env)
    assert refused.returncode != 0
    assert refused_by_the_gate(refused)
    assert iap.seen[-1] is None
