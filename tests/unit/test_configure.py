"""``flyte-iap configure`` in process: the file it creates, the exact text of every edit
(everything outside the changed lines byte for byte), the files it refuses and leaves
as they were, where it writes, and the token command's options checked as the real
command checks them; for Flyte 2 (``--flyte 2``) the SDK's keys written exactly and a
``proxyCommand`` removed; a private CA's file (``--ca-cert``) checked."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from flyte_iap.cli import LAUNCH
from flyte_iap.cli.configure import this_command
from flyte_iap.emulator import Emulator

from ..cli import InProcessCli, Result, assert_clean_failure
from ..tokens import AUD, SA, USER, sa_args, verify

#: What configure writes to run "this flyte-iap": this interpreter and the launcher.
RUN = [os.path.abspath(sys.executable), *LAUNCH]
EXE = shlex.join(RUN)  # as a message shows it
SA_COMMAND = [*RUN, SA, "--webapp_client_id", AUD]
SA_FLOW = "[" + ", ".join(json.dumps(word) for word in SA_COMMAND) + "]"


class Configure:
    """``flyte-iap configure ARGS`` in process, with HOME and the config in a temp dir."""

    def __init__(self, home: Path) -> None:
        self.cli = InProcessCli(home, {})
        self.config = home / ".flyte" / "config.yaml"

    def __call__(self, *args: str, **env: str) -> Result:
        return self.cli("configure", *args, **{"FLYTECTL_CONFIG": "", **env})

    def write(self, text: str) -> Path:
        self.config.parent.mkdir(mode=0o700, exist_ok=True)
        self.config.write_bytes(text.encode())
        return self.config

    def text(self) -> str:
        return self.config.read_bytes().decode()


@pytest.fixture
def configure(home: Path) -> Configure:
    return Configure(home)


def test_no_file_creates_a_private_directory_and_file(configure: Configure) -> None:
    result = configure(*sa_args())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert configure.text() == f"admin:\n  proxyCommand: {SA_FLOW}\n"
    assert stat.S_IMODE(configure.config.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(configure.config.stat().st_mode) == 0o600
    assert yaml.safe_load(configure.text()) == {"admin": {"proxyCommand": SA_COMMAND}}
    assert "created" in result.stderr and "admin.endpoint is not set" in result.stderr


def test_no_file_with_a_loopback_endpoint_is_insecure(configure: Configure) -> None:
    result = configure("--endpoint", "dns:///127.0.0.1:8089", *sa_args())
    assert result.returncode == 0, result.stderr
    assert configure.text() == (
        'admin:\n  endpoint: "dns:///127.0.0.1:8089"\n  insecure: true\n'
        f"  proxyCommand: {SA_FLOW}\n"
    )
    assert "plain gRPC" in result.stderr


COMMENTED = """\
# Flyte config of the team (managed by hand)
admin:
  # the IAP-protected endpoint
  endpoint: dns:///flyte.example.com   # port 443
  insecure: false
  authType: Pkce

logger:
  show-source: true   # keep
  level: 0
storage:
  type: stow
  stow: {kind: google, config: {json: "", project_id: p, scopes: "https://www.googleapis.com/auth/cloud-platform"}}
  container: "bucket"
# the end
"""


def test_comments_and_other_keys_are_kept_byte_for_byte(configure: Configure) -> None:
    configure.write(COMMENTED)
    result = configure(*sa_args())
    assert result.returncode == 0, result.stderr
    expected = COMMENTED.replace(
        "  authType: Pkce\n", f"  authType: Pkce\n  proxyCommand: {SA_FLOW}\n"
    )
    assert configure.text() == expected
    assert "  admin.proxyCommand: " in result.stderr and "→" not in result.stderr


def test_an_existing_proxy_command_is_replaced_and_the_change_shown(configure: Configure) -> None:
    old = (
        "admin:\n  endpoint: dns:///flyte.example.com\n  proxyCommand:   # by hand\n"
        "    - flyte-iap\n    - generate-user-id-token\n    - --desktop_client_secret\n"
        "    - hunter2\n  insecure: false\nother: 1   # kept\n"
    )
    configure.write(old)
    result = configure(*sa_args())
    assert result.returncode == 0, result.stderr
    assert configure.text() == (
        f"admin:\n  endpoint: dns:///flyte.example.com\n  proxyCommand: {SA_FLOW}\n"
        "  insecure: false\nother: 1   # kept\n"
    )
    change = [line for line in result.stderr.splitlines() if "admin.proxyCommand" in line]
    assert change == [
        "  admin.proxyCommand: flyte-iap generate-user-id-token --desktop_client_secret ... → "
        f"{EXE} {SA} --webapp_client_id {AUD}"
    ]
    assert "hunter2" not in result.stderr
    again = configure(*sa_args())  # the same command again: nothing to do
    assert again.returncode == 0 and "left as it was" in again.stderr
    assert "hunter2" not in configure.text()


@pytest.mark.parametrize(
    ("endpoint", "insecure"),
    [
        ("dns:///127.0.0.1:30080", "true"),
        ("dns:///[::1]:1", "true"),
        ("dns:///other.example", "false"),
    ],
)
def test_endpoint_replaces_the_endpoint_and_sets_insecure(
    configure: Configure, endpoint: str, insecure: str
) -> None:
    configure.write("admin:\n  endpoint: 'dns:///flyte.example.com'  # old\n  insecure: false\n")
    result = configure("--endpoint", endpoint, *sa_args())
    assert result.returncode == 0, result.stderr
    assert configure.text() == (
        f'admin:\n  endpoint: "{endpoint}"  # old\n  insecure: {insecure}\n'
        f"  proxyCommand: {SA_FLOW}\n"
    )
    assert f"admin.endpoint: dns:///flyte.example.com → {endpoint}" in result.stderr


def test_a_flow_style_admin_and_a_json_config_are_edited_exactly(configure: Configure) -> None:
    configure.write("admin: {endpoint: dns:///x, insecure: true}  # flow\nother: [1, 2]\n")
    assert configure(*sa_args()).returncode == 0
    assert configure.text() == (
        f'admin: {{endpoint: dns:///x, insecure: true, "proxyCommand": {SA_FLOW}}}  # flow\n'
        "other: [1, 2]\n"
    )
    as_json = json.dumps({"admin": {"endpoint": "dns:///x"}, "n": 1})
    configure.write(as_json)
    assert configure(*sa_args()).returncode == 0
    assert json.loads(configure.text()) == {
        "admin": {"endpoint": "dns:///x", "proxyCommand": SA_COMMAND},
        "n": 1,
    }


def test_crlf_line_ends_and_an_empty_admin(configure: Configure) -> None:
    configure.write("# c\r\nadmin:\r\nother: 1\r\n")
    assert configure(*sa_args()).returncode == 0
    assert configure.text() == f"# c\r\nadmin:\r\n  proxyCommand: {SA_FLOW}\r\nother: 1\r\n"


#: Ten aliases of ten aliases of ... : a few hundred bytes that expand to 10**9 values.
LAUGHS = "a0: &a0 [x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("admin: [\n  endpoint: x\n", "not valid YAML (line 3"),
        ("admin:\n\tendpoint: x\n", "not valid YAML (line 2"),
        ("admin:\n  - dns:///x\n", "its admin is a list, not a mapping"),
        ("- admin\n", "it holds a list, not a mapping"),
        ("a: 1\n---\nb: 2\n", "expected a single document"),
        ("admin:\n  proxyCommand: a\n  proxyCommand: b\n", "proxyCommand twice (lines 2 and 3)"),
        ("base: &b\n  endpoint: x\nadmin: *b\n", "alias"),
        ("admin: &a\n  endpoint: x\nmirror: *a\n", "without changing other settings"),
        ("admin: {}\nrun: !!python/name:os.system\n", "not valid YAML"),
        (LAUGHS, "aliases expand it"),
    ],
)  # fmt: skip
def test_a_file_it_cannot_edit_is_left_byte_for_byte(
    configure: Configure, text: str, needle: str
) -> None:
    configure.write(text)
    before = configure.config.stat()
    result = configure(*sa_args())
    assert_clean_failure(result, "cannot configure", needle, "left as it was")
    assert result.returncode == 2
    assert configure.text() == text
    assert configure.config.stat().st_ino == before.st_ino  # not even rewritten
    assert sorted(p.name for p in configure.config.parent.iterdir()) == ["config.yaml"]


def test_not_utf8_and_too_large_are_refused(configure: Configure) -> None:
    configure.config.parent.mkdir()
    configure.config.write_bytes(b"admin:\n  endpoint: \xff\n")
    assert_clean_failure(configure(*sa_args()), "not UTF-8")
    configure.config.write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    assert_clean_failure(configure(*sa_args()), "larger than 1024 KiB")


def test_flytectl_config_is_honoured_and_config_wins(configure: Configure, tmp_path: Path) -> None:
    from_env, given = tmp_path / "env.yaml", tmp_path / "given.yaml"
    assert configure(*sa_args(), FLYTECTL_CONFIG=str(from_env)).returncode == 0
    assert yaml.safe_load(from_env.read_text())["admin"]["proxyCommand"] == SA_COMMAND
    result = configure("--config", str(given), *sa_args(), FLYTECTL_CONFIG=str(from_env))
    assert result.returncode == 0
    assert given.exists() and not configure.config.exists()


def test_the_mode_of_an_existing_file_is_kept(configure: Configure) -> None:
    configure.write("admin:\n  endpoint: dns:///x\n").chmod(0o640)
    assert configure(*sa_args()).returncode == 0
    assert stat.S_IMODE(configure.config.stat().st_mode) == 0o640


def test_a_fifo_is_refused_without_waiting(configure: Configure) -> None:
    configure.config.parent.mkdir()
    os.mkfifo(configure.config)
    done: list[Result] = []
    worker = threading.Thread(target=lambda: done.append(configure(*sa_args())), daemon=True)
    worker.start()
    worker.join(10)
    assert done, "configure waited on a FIFO"
    assert_clean_failure(done[0], "not a regular file")
    assert stat.S_ISFIFO(configure.config.lstat().st_mode)


def test_a_symbolic_link_is_written_through(configure: Configure, tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "flyte.yaml"
    target.parent.mkdir()
    target.write_text("admin:\n  endpoint: dns:///x  # mine\n")
    configure.config.parent.mkdir()
    configure.config.symlink_to(target)
    result = configure(*sa_args())
    assert result.returncode == 0, result.stderr
    assert configure.config.is_symlink()
    assert (
        target.read_text() == f"admin:\n  endpoint: dns:///x  # mine\n  proxyCommand: {SA_FLOW}\n"
    )
    assert f"a link to {target}" in result.stderr
    target.unlink()  # a link to nothing: refused, not guessed at
    assert_clean_failure(configure(*sa_args()), "symbolic link", "does not exist")
    assert configure.config.is_symlink() and not target.exists()


BAD = [
    ([SA], "--webapp_client_id"),
    (sa_args("--bogus"), "--bogus"),
    (sa_args("--refresh_margin", "-5"), "--refresh_margin"),
    (sa_args("--refresh_margin", "soon"), "--refresh_margin"),
    (sa_args("--refresh_margin", "nan"), "--refresh_margin"),
    (sa_args("--service_account_key"), "--service_account_key"),
    (sa_args("stray"), "argument"),
    ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w", "--port", "0"], "--port"),
    ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w", "--timeout", ".5"], "--timeout"),
    ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w"], "--project"),
    ([USER, "--desktop_client_id", "d", "--webapp_client_id", "w", "--project", "p",
      "--desktop_client_secret_gcp_secret_name", "n", "--cache", "disk"], "--cache"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "needle"), BAD)
def test_options_the_real_command_refuses_are_refused(
    configure: Configure, args: list[str], needle: str
) -> None:
    real = configure.cli(*args)  # the token command itself, before any network call
    assert real.returncode == 2 and needle in real.stderr, real.stderr
    result = configure(*args)
    assert_clean_failure(result, needle)
    assert result.returncode == 2
    assert not configure.config.parent.exists()


@pytest.mark.parametrize("spelling", ["--desktop_client_secret", "--desktop-client-secret="])
def test_a_secret_is_never_written(configure: Configure, spelling: str) -> None:
    args = [USER, "--desktop_client_id", "d", "--webapp_client_id", "w"]
    secret = [f"{spelling}hunter2"] if spelling.endswith("=") else [spelling, "hunter2"]
    result = configure(*args, *secret)
    assert_clean_failure(result, "clear text", "FLYTE_IAP_DESKTOP_CLIENT_SECRET", "Secret Manager")
    assert "hunter2" not in result.stderr
    assert not configure.config.parent.exists()
    with_env = configure(*args, FLYTE_IAP_DESKTOP_CLIENT_SECRET="hunter2")  # the env instead
    assert with_env.returncode == 0, with_env.stderr
    assert "hunter2" not in configure.text() + with_env.stderr


def test_the_written_command_gets_a_token(
    configure: Configure, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.write_service_account_key(tmp_path / "key.json")
    monkeypatch.chdir(tmp_path)  # a relative key path becomes absolute: pyflyte runs anywhere
    result = configure(SA, "--webapp-client-id=" + AUD, "--service-account-key", "key.json", "-v")
    assert result.returncode == 0, result.stderr
    command = yaml.safe_load(configure.text())["admin"]["proxyCommand"]
    key = str(tmp_path / "key.json")
    assert command == [
        *RUN,
        SA,
        "--webapp_client_id",
        AUD,
        "--service_account_key",
        key,
        "--verbose",
    ]
    monkeypatch.chdir("/")  # as pyflyte runs it: the words as they are, from anywhere
    env = InProcessCli(configure.cli.home, emulator.env()).env
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    verify(emulator, done.stdout.strip(), emulator.config.service_account_email)


def test_this_command_is_this_interpreter_unresolved_with_the_launcher(tmp_path: Path) -> None:
    python = tmp_path / "venv with spaces" / "bin" / "python3"
    assert this_command(str(python)) == [str(python), "-P", "-c", LAUNCH[2]]
    assert "flyte_iap" in LAUNCH[2] and "/" not in LAUNCH[2]  # a module, never a file


# --- Flyte 2 (--flyte 2) and a private CA (--ca-cert) ------------------------------------
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text(PEM)
    return path


def test_a_new_flyte2_config(configure: Configure, ca: Path) -> None:
    result = configure(
        "--flyte", "2", "--endpoint", "dns:///flyte.example.com", "--ca-cert", str(ca), *sa_args()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert configure.text() == (
        'admin:\n  endpoint: "dns:///flyte.example.com"\n  insecure: false\n'
        f'  caCertFilePath: "{ca}"\n  authType: "ExternalCommand"\n  command: {SA_FLOW}\n'
    )
    assert yaml.safe_load(configure.text())["admin"]["command"] == SA_COMMAND


def test_a_flyte1_proxy_command_is_removed_and_said(configure: Configure) -> None:
    configure.write(
        "# mine\nadmin:\n  endpoint: dns:///flyte.example.com  # prod\n"
        "  proxyCommand:   # by hand\n    - old-tool\n    - --secret-ish\n  insecure: false\n"
        "task:\n  project: p\n"
    )
    result = configure("--flyte", "2", *sa_args())
    assert result.returncode == 0, result.stderr
    assert configure.text() == (
        "# mine\nadmin:\n  endpoint: dns:///flyte.example.com  # prod\n  insecure: false\n"
        f'  authType: "ExternalCommand"\n  command: {SA_FLOW}\ntask:\n  project: p\n'
    )
    assert "admin.proxyCommand: old-tool --secret-ish → (removed)" in result.stderr
    assert "cannot start with a proxyCommand" in result.stderr


def test_a_flow_style_admin_loses_its_proxy_command_exactly(configure: Configure) -> None:
    configure.write("admin: {endpoint: dns:///x, proxyCommand: [a, b], insecure: false}  # f\n")
    result = configure("--flyte", "2", *sa_args())
    assert result.returncode == 0, result.stderr
    assert configure.text() == (
        "admin: {endpoint: dns:///x, insecure: false, "
        f'"authType": "ExternalCommand", "command": {SA_FLOW}}}  # f\n'
    )


def test_flyte2_twice_leaves_the_file(configure: Configure) -> None:
    assert configure("--flyte", "2", *sa_args()).returncode == 0
    before = configure.text()
    again = configure("--flyte", "2", *sa_args())
    assert again.returncode == 0 and "left as it was" in again.stderr
    assert configure.text() == before


def test_flyte2_over_plain_http_to_a_loopback_gate_is_warned(configure: Configure) -> None:
    """The Flyte 2 SDK adds no credentials with insecure: true: never written for it."""
    result = configure("--flyte", "2", "--endpoint", "dns:///127.0.0.1:8089", *sa_args())
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(configure.text())["admin"]["insecure"] is False
    assert "sends the token over TLS only" in result.stderr


def test_ca_cert_for_flyte1_means_tls(configure: Configure, ca: Path) -> None:
    result = configure("--endpoint", "dns:///127.0.0.1:8443", "--ca-cert", str(ca), *sa_args())
    assert result.returncode == 0, result.stderr
    admin = yaml.safe_load(configure.text())["admin"]
    assert admin == {
        "endpoint": "dns:///127.0.0.1:8443",
        "insecure": False,
        "caCertFilePath": str(ca),
        "proxyCommand": [*RUN, SA, *sa_args()[1:]],
    }


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot be read"), ("not a certificate\n", "not a PEM file of certificates")],
    ids=["missing", "not-pem"],
)
def test_a_ca_cert_that_is_no_pem_file_is_refused(
    configure: Configure, tmp_path: Path, content: str | None, words: str
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    configure.write("admin:\n  endpoint: dns:///x\n")
    result = configure("--ca-cert", str(path), *sa_args())
    assert_clean_failure(result, "--ca-cert", words)
    assert result.returncode == 2
    assert configure.text() == "admin:\n  endpoint: dns:///x\n"


def test_an_unknown_generation_is_a_usage_error(configure: Configure) -> None:
    result = configure("--flyte", "3", *sa_args())
    assert_clean_failure(result, "--flyte")
    assert result.returncode == 2
    assert not configure.config.exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        "dns:///127.0.0.1:80@evil.com",
        "dns:///[::1].evil.com",
        "dns:///[::1]evil.com:443",
        "127.0.0.1:443%40evil.com",
        "dns:///127.0.0.1:443/evil.com",
        "dns:///127.0.0.1#evil.com",
        "dns:///[::1%eth0]:1",
        "dns:///localhost:99999",
    ],
)
def test_endpoints_that_only_look_loopback_are_refused(configure: Configure, endpoint: str) -> None:
    """One endpoint parser (the doctor's too): whatever another parser could read as a
    remote host is refused, never written with insecure: true."""
    result = configure("--endpoint", endpoint, *sa_args())
    assert result.returncode == 2, result.stderr
    assert_clean_failure(result, "--endpoint")
    assert not configure.config.exists()


@pytest.mark.parametrize(
    "old",
    [
        '["sh", "-c", "flyte-iap generate-user-id-token --desktop_client_secret S3CRET"]',
        '"flyte-iap generate-user-id-token --desktop-client-secret=S3CRET"',
        '["sh", "-c", "FLYTE_IAP_DESKTOP_CLIENT_SECRET=S3CRET flyte-iap x"]',
        '["flyte-iap", "x", "--desktop_client_secret", "S3CRET"]',
    ],
    ids=["inside-a-word", "a-string", "a-variable", "a-word"],
)
def test_an_old_value_is_shown_without_its_secret(configure: Configure, old: str) -> None:
    configure.write(f"admin:\n  proxyCommand: {old}\n")
    result = configure(*sa_args())
    assert result.returncode == 0, result.stderr
    assert "admin.proxyCommand: " in result.stderr and "..." in result.stderr
    assert "S3CRET" not in result.stderr + result.stdout
