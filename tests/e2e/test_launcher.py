"""The command `configure` writes (this interpreter, ``-P -c`` and a one-line program)
runs from a virtual environment on a path with spaces, from any directory, and never
imports a module planted in the directory it is run from."""

from __future__ import annotations

import subprocess
import sysconfig
import venv
from pathlib import Path

import yaml

import flyte_iap
from flyte_iap.cli import LAUNCH
from flyte_iap.emulator import Emulator

from ..cli import isolated_env
from ..tokens import sa_args, verify


def spaced_venv(tmp_path: Path) -> Path:
    """A virtual environment under a path with spaces, whose python finds this flyte-iap
    and its dependencies (a .pth naming where they are installed): its interpreter."""
    root = tmp_path / "a venv with spaces"
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    here = Path(flyte_iap.__file__).parents[1]
    Path(purelib, "flyte-iap-test.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n{here}\n")
    return python


def test_the_written_command_runs_from_a_spaced_venv_anywhere(
    emulator: Emulator, home: Path, tmp_path: Path
) -> None:
    python = spaced_venv(tmp_path)
    key = emulator.write_service_account_key(tmp_path / "key.json")
    env = isolated_env(home, emulator.env())
    config = home / "config.yaml"
    written = subprocess.run(
        [python, *LAUNCH, "configure", "--config", str(config), *sa_args(key=key)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0, written.stderr
    command = yaml.safe_load(config.read_text())["admin"]["proxyCommand"]
    assert command[:4] == [str(python), *LAUNCH]
    # A directory with a planted flyte_iap.py: -P keeps it off the module path.
    trap = tmp_path / "somewhere else"
    trap.mkdir()
    (trap / "flyte_iap.py").write_text("print('planted')\nraise SystemExit(0)\n")
    done = subprocess.run(command, env=env, cwd=trap, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "planted" not in done.stdout
    verify(emulator, done.stdout.strip(), emulator.config.service_account_email)
