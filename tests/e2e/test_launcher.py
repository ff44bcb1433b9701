"""The command `configure` writes (this interpreter, ``-P -c`` and a one-line program)
runs from a virtual environment on a path with spaces, from any directory, never
imports a module planted in the directory it is run from, and keeps working after
``pip install --upgrade`` in pipx's layout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import yaml

import flyte_iap
from flyte_iap.cli import LAUNCH
from flyte_iap.emulator import Emulator

from ..cli import isolated_env
from ..tokens import sa_args, verify


def spaced_venv(tmp_path: Path, *, with_tool: bool = True) -> Path:
    """A virtual environment under a path with spaces, whose python finds this flyte-iap
    and its dependencies (a .pth naming where they are installed): its interpreter.
    ``with_tool=False``: the dependencies only (a directory of links to all but
    flyte-iap), for a test that pip-installs flyte-iap itself; pip would otherwise find
    this one already installed and install nothing."""
    root = tmp_path / "a venv with spaces"
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    here = Path(sysconfig.get_paths()["purelib"])
    if with_tool:
        paths = [here, Path(flyte_iap.__file__).parents[1]]
    else:
        deps = tmp_path / "dependencies"
        deps.mkdir()
        for entry in here.iterdir():
            if not entry.name.lower().replace("-", "_").startswith(("flyte_iap", "__editable__")):
                (deps / entry.name).symlink_to(entry)
        paths = [deps]
    Path(purelib, "flyte-iap-test.pth").write_text("".join(f"{p}\n" for p in paths))
    return python


def _configured(flyte_iap: list[str], env: dict[str, str], home: Path, key: Path) -> list[str]:
    """Run ``configure`` by the command ``flyte_iap`` for a key file's token; the
    ``proxyCommand`` it wrote."""
    config = home / "config.yaml"
    written = subprocess.run(
        [*flyte_iap, "configure", "--config", str(config), *sa_args(key=key)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0, written.stderr
    command: list[str] = yaml.safe_load(config.read_text())["admin"]["proxyCommand"]
    return command


def test_the_written_command_runs_from_a_spaced_venv_anywhere(
    emulator: Emulator, home: Path, tmp_path: Path
) -> None:
    python = spaced_venv(tmp_path)
    key = emulator.write_service_account_key(tmp_path / "key.json")
    env = isolated_env(home, emulator.env())
    command = _configured([str(python), *LAUNCH], env, home, key)
    assert command[:4] == [str(python), *LAUNCH]
    # A directory with a planted flyte_iap.py: -P keeps it off the module path.
    trap = tmp_path / "somewhere else"
    trap.mkdir()
    (trap / "flyte_iap.py").write_text("print('planted')\nraise SystemExit(0)\n")
    done = subprocess.run(command, env=env, cwd=trap, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "planted" not in done.stdout
    verify(emulator, done.stdout.strip(), emulator.config.service_account_email)


REPO = Path(__file__).parents[2]


def _wheel(tmp: Path, version: str) -> Path:
    """This repository's package built as a wheel of ``version`` (offline: this venv's
    setuptools, no build isolation)."""
    tree = tmp / f"src-{version}"
    shutil.copytree(
        REPO / "src", tree / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    shutil.copy(REPO / "README.md", tree / "README.md")
    for name, old, new in [
        ("pyproject.toml", 'version = "0.1.0"', f'version = "{version}"'),
        ("src/flyte_iap/__init__.py", '__version__ = "0.1.0"', f'__version__ = "{version}"'),
    ]:
        source = (
            (REPO / name).read_text() if name == "pyproject.toml" else (tree / name).read_text()
        )
        assert old in source, f"{name} no longer says {old}: update this test"
        (tree / name).write_text(source.replace(old, new))
    out = tmp / "wheels"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            out,
            tree,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = out.glob(f"flyte_iap-{version}-*.whl")
    return wheel


def _pip_install(python: Path, wheel: Path, *extra: str) -> None:
    """pip (this venv's) installs ``wheel`` into the venv of ``python``, as pipx and an
    upgrade do; the dependencies come from this venv (the .pth of :func:`spaced_venv`)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", *extra, wheel],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_written_command_survives_an_upgrade_in_a_pipx_layout(
    emulator: Emulator, home: Path, tmp_path: Path
) -> None:
    """As pipx lays it out: the package pip-installed in a venv of its own (here under a
    path with spaces), its ``flyte-iap`` script linked from a bin directory on PATH.
    ``configure`` run through the link writes the venv's interpreter, and the command
    keeps working, now running the new code, after ``pip install --upgrade``."""
    python = spaced_venv(tmp_path, with_tool=False)
    _pip_install(python, _wheel(tmp_path, "0.1.0"))
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "flyte-iap").symlink_to(python.parent / "flyte-iap")
    key = emulator.write_service_account_key(tmp_path / "key.json")
    env = isolated_env(home, emulator.env())
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    command = _configured(["flyte-iap"], env, home, key)
    assert command[:4] == [str(python), *LAUNCH]  # the venv's python, not its target

    def run(*args: str) -> str:
        done = subprocess.run(
            [*command[:4], *args] if args else command,
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    first = run()
    verify(emulator, first, emulator.config.service_account_email)
    assert run("--version").endswith("0.1.0")
    _pip_install(python, _wheel(tmp_path, "0.1.1"), "--upgrade")
    assert run("--version").endswith("0.1.1")  # the same command, the upgraded code
    assert run() == first  # and the cache it wrote before the upgrade
