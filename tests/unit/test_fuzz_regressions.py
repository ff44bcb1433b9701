"""Bugs the property-based tests (``test_fuzz_*``) found, each pinned by a plain example."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyte_iap.cli.fastpath import cached_token
from flyte_iap.cli.options import SERVICE_ACCOUNT_TOKEN_COMMAND, USER_TOKEN_COMMAND
from flyte_iap.errors import ConfigError
from flyte_iap.flyteconfig import remove_admin_keys, set_admin_keys
from flyte_iap.login import LoopbackServer

from ..loopback_login import STATE

AUD = "123-abc.apps.googleusercontent.com"


@pytest.mark.parametrize(
    "args",
    [
        # The request refuses an impersonation target without '@' ...
        [SERVICE_ACCOUNT_TOKEN_COMMAND, "--webapp_client_id", AUD,
         "--impersonate_service_account", "deployer"],
        # ... and a --cache other than file or keyring.
        [USER_TOKEN_COMMAND, "--desktop_client_id", "desk", "--webapp_client_id", AUD,
         "--cache", "disk"],
    ],
)  # fmt: skip
def test_the_fast_path_leaves_a_value_the_request_refuses_to_the_full_command_line(
    tmp_path: Path, args: list[str]
) -> None:
    """It raised the request's UsageError instead of answering None."""
    assert cached_token(args, {"FLYTE_IAP_CACHE_DIR": str(tmp_path)}) is None


@pytest.mark.parametrize("pasted", ["http://[/?code=c&state=" + STATE, "https://a]b/?code=c"])
def test_a_pasted_url_with_an_unclosed_bracket_is_not_a_url(
    server: LoopbackServer, pasted: str
) -> None:
    """urlsplit's ValueError ("Invalid IPv6 URL") escaped submit_pasted_url and ended the
    paste prompt's thread with a traceback on stderr."""
    assert "not a URL" in (server.submit_pasted_url(pasted) or "")
    assert not server.answered()


@pytest.mark.parametrize(
    "text",
    [
        "defaults: &d\n  proxyCommand: [a]\nadmin:\n  <<: *d\n  endpoint: dns:///x\n",
        "defaults: &d\n  admin:\n    proxyCommand: [a]\n<<: *d\n",
    ],
)
def test_removing_a_key_that_comes_from_a_merge_key_is_refused_in_words(text: str) -> None:
    """It failed an assert (``configure --flyte2`` then said "unexpected error:
    AssertionError"): the key is in the loaded admin but has no line of admin's own."""
    with pytest.raises(ConfigError, match="comes from a merge key"):
        remove_admin_keys(text, ["proxyCommand"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("admin:\n  proxyCommand: [a]\nother: 1\n", "admin: {}\nother: 1\n"),
        ("admin:  # c\r\n  proxyCommand:\r\n    - a\r\n", "admin: {}  # c\r\n"),
    ],
)
def test_removing_every_key_of_a_block_admin_leaves_an_empty_mapping(
    text: str, expected: str
) -> None:
    """It was refused ("could not be edited ... an anchor, alias or merge key near
    admin?"): a bare "admin:" left behind reads as null, not as the mapping it was."""
    edited = remove_admin_keys(text, ["proxyCommand"])
    assert edited.text == expected and edited.admin == {}


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_an_empty_last_value_is_set_and_new_keys_follow_it(eol: str) -> None:
    """Both edits fell on the end of the ``endpoint:`` line and were applied in the wrong
    order ("endpoint:\n  insecure: false "dns:///x""), so ``configure --endpoint`` refused
    a config whose admin ended in an empty endpoint."""
    text = f"admin:{eol}  endpoint:{eol}other: 1{eol}"
    edited = set_admin_keys(text, {"endpoint": "dns:///x", "proxyCommand": ["flyte-iap"]})
    assert edited.text == (
        f'admin:{eol}  endpoint: "dns:///x"{eol}  proxyCommand: ["flyte-iap"]{eol}other: 1{eol}'
    )


def test_an_entry_whose_value_is_a_block_scalar_is_removed_alone() -> None:
    """The removal ran to the end of the line after the scalar (its text ends with its
    line break), taking the next entry too, and was refused."""
    text = "admin:\n  proxyCommand: |-\n    flyte-iap\n  endpoint: dns:///x\n"
    assert remove_admin_keys(text, ["proxyCommand"]).text == "admin:\n  endpoint: dns:///x\n"


@pytest.mark.parametrize("text", ["x: &a\n  y: *a\n", "x: &a\n  - - *a\n"])
def test_a_config_that_ends_in_an_alias_to_its_own_anchor_is_refused_in_words(
    text: str,
) -> None:
    """Finding where the last entry ends walked the alias back into itself: a
    RecursionError ("unexpected error" from ``configure``) instead of a ConfigError."""
    with pytest.raises(ConfigError, match="alias"):
        set_admin_keys(text, {"endpoint": "dns:///x"})
