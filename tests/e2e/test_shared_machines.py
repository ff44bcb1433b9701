"""The token cache on shared machines and among hostile local files.

The installed CLI against the emulator. "Another user" is uid 65534 (nobody): the
tests run as root and ``chown`` what that user would have planted; where root's own
powers would hide the failure (an unwritable directory), the CLI runs without
CAP_DAC_OVERRIDE (``setpriv``). Each test reproduces the attack or the accident and
checks what a person gets: the right token on stdout, a warning at most on stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flyte_iap.cache import ServiceAccountEntry, TokenCache
from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.google import source_id

from ..cli import DEAD, Cli, Result, assert_clean_failure, flyte_iap_command
from ..tokens import AUD, sa_args, verify

OTHER_UID = 65534
as_root = pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() != 0, reason="plants files as another uid"
)


def entry_name_for(key: Path) -> str:
    """The name the key file's token is cached under."""
    info = json.loads(key.read_text())
    return ServiceAccountEntry(
        audience=AUD, principal=info["client_email"], id_token="", expiry=0, fetched_at=0,
        via=source_id(info, {}),
    ).name  # fmt: skip


def plant_for(directory: Path, key: Path, token: str, *, uid: int | None = None) -> Path:
    """A fresh-looking entry for ``key``'s token, as another user would plant it."""
    info = json.loads(key.read_text())
    record = {
        "v": 1, "kind": "service_account", "audience": AUD, "id_token": token,
        "expiry": time.time() + 3000, "fetched_at": int(time.time()),
        "principal": info["client_email"], "via": source_id(info, {}), "source": "",
    }  # fmt: skip
    path = directory / f"{entry_name_for(key)}.json"
    path.write_text(json.dumps(record))
    path.chmod(0o600)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_dir(path: Path, mode: int) -> Path:
    """A directory with exactly ``mode`` (mkdir's is cut by the umask)."""
    path.mkdir()
    path.chmod(mode)
    return path


# --- 3. a cache directory that is not ours alone ----------------------------------------------
@as_root
def test_a_directory_of_another_user_is_not_trusted_nor_chmod_ed(
    cli: Cli, emulator: Emulator, key: Path, tmp_path: Path
) -> None:
    shared = make_dir(tmp_path / "shared", 0o777)
    plant_for(shared, key, "planted.by.other", uid=OTHER_UID)
    os.chown(shared, OTHER_UID, OTHER_UID)

    result = cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR=str(shared))

    assert result.token != "planted.by.other"
    verify(emulator, result.token, emulator.config.service_account_email)
    assert mode_of(shared) == 0o777 and shared.stat().st_uid == OTHER_UID
    private = shared / f"flyte-iap-{os.geteuid()}"
    assert mode_of(private) == 0o700
    assert [p.name for p in private.glob("sa_*.json")] == [entry_name_for(key) + ".json"]
    assert cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR=str(shared)).token == result.token
    assert emulator.count("token") == 1  # the private subdirectory serves the next call


@as_root
def test_a_sticky_shared_directory_keeps_its_mode(cli: Cli, key: Path, tmp_path: Path) -> None:
    shared = make_dir(tmp_path / "tmp-like", 0o1777)

    assert cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR=str(shared)).token

    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert (shared / f"flyte-iap-{os.geteuid()}").is_dir()


@as_root
def test_a_symlink_to_someone_elses_directory_leaves_it_as_it_was(
    cli: Cli, key: Path, tmp_path: Path
) -> None:
    theirs = make_dir(tmp_path / "theirs", 0o755)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    link = tmp_path / "link"
    link.symlink_to(theirs)

    assert cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR=str(link)).token

    assert mode_of(theirs) == 0o755 and theirs.stat().st_uid == OTHER_UID


@as_root
def test_a_private_subdirectory_planted_by_another_user_is_refused(
    cli: Cli, emulator: Emulator, key: Path, tmp_path: Path
) -> None:
    shared = make_dir(tmp_path / "shared", 0o1777)
    trap = shared / f"flyte-iap-{os.geteuid()}"
    trap.mkdir(mode=0o700)
    plant_for(trap, key, "planted.in.trap", uid=OTHER_UID)
    os.chown(trap, OTHER_UID, OTHER_UID)

    result = cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR=str(shared))

    verify(emulator, result.token, emulator.config.service_account_email)
    assert "not using the token cache" in result.stderr and "uid 65534" in result.stderr
    assert result.stderr.count("\n") <= 2


@as_root
def test_an_entry_of_another_user_in_our_directory_is_not_served(
    cli: Cli, emulator: Emulator, key: Path
) -> None:
    cli.cache_dir.mkdir(mode=0o700)
    plant_for(cli.cache_dir, key, "planted.by.other", uid=OTHER_UID)

    result = cli(*sa_args(key=key))

    verify(emulator, result.token, emulator.config.service_account_email)
    assert "belongs to uid 65534" in result.stderr
    entry = cli.cache_dir / f"{entry_name_for(key)}.json"
    assert entry.stat().st_uid == os.geteuid() and mode_of(entry) == 0o600  # replaced


# --- 4. what is not a regular file --------------------------------------------------------------
def test_a_fifo_in_place_of_the_entry_neither_hangs_nor_is_read(
    cli: Cli, emulator: Emulator, key: Path
) -> None:
    cli.cache_dir.mkdir(mode=0o700)
    os.mkfifo(cli.cache_dir / f"{entry_name_for(key)}.json", 0o600)

    result = cli(*sa_args(key=key), timeout=20)

    verify(emulator, result.token, emulator.config.service_account_email)
    assert "not a regular file" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "nested"])
def test_a_key_path_that_is_no_key_file_is_a_clear_error(
    cli: Cli, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "key.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "huge":
        path.write_text(json.dumps({"type": "service_account", "pad": "x" * 200_000}))
    else:
        path.write_text("[" * 20_000 + "]" * 20_000)

    result = cli(*sa_args(key=path), timeout=20)

    assert_clean_failure(result, str(path))
    assert {
        "fifo": "not a regular file",
        "dev-zero": "not a regular file",
        "huge": "larger than 64 KiB",
        "nested": "not JSON",
    }[kind] in result.stderr


# --- 5. a cache that cannot be written ----------------------------------------------------------
needs_setpriv = pytest.mark.skipif(
    shutil.which("setpriv") is None or sys.platform == "win32" or os.geteuid() != 0,
    reason="needs root and setpriv to drop CAP_DAC_OVERRIDE",
)


def assert_token_with_warning(result: Result, emulator: Emulator, *needles: str) -> None:
    verify(emulator, result.token, emulator.config.service_account_email)
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@needs_setpriv
def test_a_read_only_directory_without_a_lock_file_still_prints_the_token(
    cli: Cli, emulator: Emulator, key: Path
) -> None:
    cli.cache_dir.mkdir(mode=0o500)
    key.chmod(0o644)
    proc = subprocess.run(
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--",
         *flyte_iap_command(), *sa_args(key=key)],
        env=cli.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    result = Result(proc.returncode, proc.stdout, proc.stderr)

    assert_token_with_warning(result, emulator, "warning:", "Permission denied")
    assert os.listdir(cli.cache_dir) == []


def test_a_lock_path_that_is_a_directory_still_prints_the_token(
    cli: Cli, emulator: Emulator, key: Path
) -> None:
    cli.cache_dir.mkdir(mode=0o700)
    (cli.cache_dir / f"{entry_name_for(key)}.lock").mkdir()

    result = cli(*sa_args(key=key))

    assert_token_with_warning(result, emulator, "cannot take the lock")
    assert (cli.cache_dir / f"{entry_name_for(key)}.json").is_file()  # still cached


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A small tmpfs the test may remount; skipped where mounting is not allowed."""
    point = tmp_path / "mnt"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=64,mode=0700", "tmpfs", str(point)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield point, "mounted"
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_read_only_mount_still_prints_the_token(
    cli: Cli, emulator: Emulator, key: Path, tmpfs: tuple[Path, str]
) -> None:
    point, _ = tmpfs
    (point / "cache").mkdir(mode=0o700)
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)

    result = cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR=str(point / "cache"))

    assert_token_with_warning(result, emulator, "Read-only file system")


def test_no_inodes_left_still_prints_the_token(
    cli: Cli, emulator: Emulator, key: Path, tmpfs: tuple[Path, str]
) -> None:
    point, _ = tmpfs
    cache = point / "cache"
    cache.mkdir(mode=0o700)
    filler = 0
    with pytest.raises(OSError):
        while True:
            (point / f"f{filler}").touch()
            filler += 1

    result = cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR=str(cache))

    assert_token_with_warning(result, emulator, "warning:", "No space left")


# --- 6. two machines, one home ------------------------------------------------------------------
needs_unshare = pytest.mark.skipif(
    shutil.which("unshare") is None
    or subprocess.run(["unshare", "--uts", "true"], capture_output=True).returncode != 0,
    reason="needs unshare --uts to play a second machine",
)


@needs_unshare
def test_two_machines_sharing_a_home_each_get_their_own_metadata_account(
    home: Path, tmp_path: Path
) -> None:
    """Same GCE_METADATA_HOST, different servers behind it: machine B, with its own
    host name, must get B's account, never A's cached token."""
    with Emulator(EmulatorConfig(metadata_email="machine-a@p.iam.gserviceaccount.com")) as a:
        port = int(a.metadata_host.rsplit(":", 1)[1])
        cli = Cli(home, a.env())
        verify(a, cli(*sa_args()).token, "machine-a@p.iam.gserviceaccount.com")
    config_b = EmulatorConfig(metadata_email="machine-b@p.iam.gserviceaccount.com")
    with Emulator(config_b, port=port) as b:
        cli_b = Cli(home, b.env())

        proc = subprocess.run(
            ["unshare", "--uts", "sh", "-c", 'hostname machine-b && exec "$@"', "sh",
             *flyte_iap_command(), *sa_args()],
            env=cli_b.env, capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        verify(b, result.token, "machine-b@p.iam.gserviceaccount.com")
        assert b.count("metadata_identity") == 1


# --- 7. a metadata server that claims a key file's account -------------------------------------
def test_a_metadata_token_is_never_served_for_a_key_file(home: Path, tmp_path: Path) -> None:
    config = EmulatorConfig()
    config.metadata_email = config.service_account_email  # it claims the key's account
    with Emulator(config) as emu:
        cli = Cli(home, emu.env())
        from_metadata = cli(*sa_args()).token
        key = emu.write_service_account_key(tmp_path / "key.json")

        from_key = cli(*sa_args(key=key)).token

        assert from_key != from_metadata
        assert emu.count("token") == 1  # the key file asked its own token endpoint


# --- 8. an impersonated token is the caller's ---------------------------------------------------
def test_an_impersonated_token_is_not_served_to_a_caller_without_credentials(
    cli: Cli, emulator: Emulator, key: Path
) -> None:
    target = emulator.config.impersonation_targets[0]
    assert cli(*sa_args(key=key, impersonate=target)).token

    # No key now, and no metadata server: no caller at all.
    result = cli(*sa_args(impersonate=target), GCE_METADATA_HOST=DEAD)

    assert_clean_failure(result)
    assert result.stdout == ""


def test_an_impersonated_token_is_not_served_to_a_key_with_another_private_key(
    cli: Cli, emulator: Emulator, key: Path, tmp_path: Path
) -> None:
    target = emulator.config.impersonation_targets[0]
    assert cli(*sa_args(key=key, impersonate=target)).token
    forged = json.loads(key.read_text())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged["private_key"] = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged))

    result = cli(*sa_args(key=forged_path, impersonate=target))

    assert_clean_failure(result)


# --- 9. leftovers and links ---------------------------------------------------------------------
def test_stale_temp_files_are_removed_and_fresh_ones_kept(cli: Cli, key: Path) -> None:
    cli.cache_dir.mkdir(mode=0o700)
    stale = cli.cache_dir / ".user_x_y.json.ab12.tmp"
    stale.write_text('{"refresh_token": "left-by-a-killed-process"}')
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = cli.cache_dir / ".user_x_y.json.cd34.tmp"
    fresh.write_text("{}")  # another process may be writing it right now

    assert cli(*sa_args(key=key)).token

    assert not stale.exists()
    assert fresh.exists()


def test_a_lock_symlink_is_not_followed(
    cli: Cli, emulator: Emulator, key: Path, tmp_path: Path
) -> None:
    cli.cache_dir.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    (cli.cache_dir / f"{entry_name_for(key)}.lock").symlink_to(victim)

    result = cli(*sa_args(key=key))

    assert_token_with_warning(result, emulator, "symbolic link")
    assert not victim.exists()


def test_an_entry_others_can_read_is_not_served_and_is_replaced_0600(
    cli: Cli, emulator: Emulator, key: Path
) -> None:
    first = cli(*sa_args(key=key)).token
    entry = cli.cache_dir / f"{entry_name_for(key)}.json"
    entry.chmod(0o644)
    cli.cache_dir.chmod(0o755)

    result = cli(*sa_args(key=key))

    assert result.token != first
    assert emulator.count("token") == 2
    assert "mode 0644" in result.stderr
    assert mode_of(entry) == 0o600


# --- 13. and 18. what the cache refuses to be -----------------------------------------------------
def test_a_deeply_nested_entry_reads_as_absent(cli: Cli, emulator: Emulator, key: Path) -> None:
    cli.cache_dir.mkdir(mode=0o700)
    entry = cli.cache_dir / f"{entry_name_for(key)}.json"
    entry.write_text("[" * 20_000 + "]" * 20_000)
    entry.chmod(0o600)

    result = cli(*sa_args(key=key))

    verify(emulator, result.token, emulator.config.service_account_email)
    assert result.stderr == ""


def test_a_relative_cache_directory_is_refused(cli: Cli, key: Path) -> None:
    result = cli(*sa_args(key=key), FLYTE_IAP_CACHE_DIR="relative/cache")
    assert_clean_failure(result, "FLYTE_IAP_CACHE_DIR", "absolute")
    assert result.returncode == 2


def test_an_empty_key_option_does_not_fall_back_to_the_environment(cli: Cli, key: Path) -> None:
    result = cli(*sa_args(key=""), GOOGLE_APPLICATION_CREDENTIALS=str(key))
    assert_clean_failure(result, "--service_account_key is empty")
    assert result.returncode == 2


def test_the_cache_class_never_chmods_what_it_did_not_create(tmp_path: Path) -> None:
    shared = make_dir(tmp_path / "open", 0o775)  # a group-writable directory of ours (umask 002)
    cache = TokenCache(str(shared))
    private = str(shared / f"flyte-iap-{os.geteuid()}")
    assert cache.directory == private  # named before it exists (status says where)
    entry = ServiceAccountEntry(
        audience=AUD, principal="p@x", id_token="t", expiry=time.time() + 3600,
        fetched_at=0, via="v",
    )  # fmt: skip
    assert cache.store(entry)
    assert mode_of(shared) == 0o775
    assert cache.directory == private
    loaded = cache.load(entry.name)
    assert loaded is not None and loaded.id_token == "t"
