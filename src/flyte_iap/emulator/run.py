"""``run_emulator``: the body of the ``flyte-iap emulator`` command."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TextIO

from flyte_iap.emulator.config import EmulatorConfig
from flyte_iap.emulator.emulator import Emulator
from flyte_iap.emulator.gate import IAP_ISSUER, Upstream
from flyte_iap.emulator.statedir import StateDirError, prepare_state_dir


class ListenError(Exception):
    """A port the emulator or its gate cannot listen on; ``option`` names the one given."""

    def __init__(self, option: str, port: int, exc: OSError) -> None:
        super().__init__(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}")
        self.option = option


def run_emulator(
    port: int,
    state_dir: Path,
    auto_approve: bool,
    exit_after: float | None,
    out: TextIO,
    err: TextIO,
    *,
    iap_upstream: str | None = None,
    gate_port: int = 0,
    gate_tls: bool = False,
) -> int:
    """Serve the emulator until Ctrl-C (or ``exit_after`` seconds); return the exit code.

    Writes ``service-account.json``, ``adc-user.json`` and ``external-account.json`` into
    ``state_dir`` and prints ``export`` lines for a shell to ``out``. :class:`StateDirError`
    (before anything is printed) when ``state_dir`` is not the user's own private
    directory, or the files cannot be written there. With ``iap_upstream`` it also serves
    the IAP gate in front of that URL (on ``gate_port``; 0: any free port) and exports its
    address as ``FLYTE_IAP_GATE_URL``; with ``gate_tls`` over HTTPS, its CA certificate
    written to ``state_dir`` and exported as ``FLYTE_IAP_GATE_CA_FILE``.
    ``GateConfigError`` (before anything is printed) for a URL the gate cannot use;
    :class:`ListenError` for a port that is taken (or not allowed), also before anything
    is printed.
    """
    if iap_upstream is not None:
        Upstream.parse(iap_upstream)
    state_dir = prepare_state_dir(Path(state_dir).absolute())  # exports work from any cwd
    config = EmulatorConfig(auto_approve=auto_approve)
    try:
        emulator = Emulator(config, port=port, state_dir=state_dir).start()
    except OSError as exc:
        raise ListenError("--port", port, exc) from exc
    try:
        if iap_upstream is not None:
            try:
                emulator.start_gate(iap_upstream, port=gate_port, tls=gate_tls)
            except OSError as exc:
                raise ListenError("--iap-gate-port", gate_port, exc) from exc
        key_path = _write_files(emulator, state_dir)
        exports = {**emulator.env(), "GOOGLE_APPLICATION_CREDENTIALS": str(key_path)}
        for name, value in exports.items():
            out.write(f"export {name}={_single_quoted(value)}\n")
        for line in _identity_comments(config):
            out.write(f"# {line}\n")
        if iap_upstream is not None:
            for line in _gate_comments(emulator, iap_upstream):
                out.write(f"# {line}\n")
        out.flush()
        err.write(f"Google emulator serving on {emulator.url}, Ctrl-C to stop\n")
        if iap_upstream is not None:
            err.write(f"IAP gate serving on {emulator.gate_url} in front of {iap_upstream}\n")
        err.flush()
        _serve(exit_after)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


def _write_files(emulator: Emulator, state_dir: Path) -> Path:
    """The sample credential files; returns the service-account key's path."""
    targets = emulator.config.impersonation_targets
    try:
        key_path = emulator.write_service_account_key(state_dir / "service-account.json")
        emulator.write_authorized_user_file(state_dir / "adc-user.json")
        emulator.write_external_account_file(
            state_dir / "external-account.json",
            impersonation_email=targets[0] if targets else None,
        )
    except OSError as exc:
        raise StateDirError(
            f"{str(state_dir)!r}: cannot write the sample files: {exc.strerror or exc}"
        ) from exc
    return key_path


def _single_quoted(value: str) -> str:
    """POSIX shell single quotes, always (an embedded ' becomes '\\'')."""
    return "'" + value.replace("'", "'\\''") + "'"


def _identity_comments(config: EmulatorConfig) -> list[str]:
    secret = f"projects/{config.project}/secrets/{config.desktop_secret_name}/versions/latest"
    return [
        f"project: {config.project}",
        f"webapp client id: {config.webapp_client_id}",
        f"desktop client id: {config.desktop_client_id}",
        f"desktop client secret name: {config.desktop_secret_name} ({secret})",
        f"service account (key file): {config.service_account_email}",
        f"metadata server identity: {config.metadata_email}",
        f"impersonation targets: {', '.join(config.impersonation_targets)}",
        f"user: {config.user_email}",
    ]


def _gate_comments(emulator: Emulator, upstream: str) -> list[str]:
    gate_url = emulator.gate_url
    scheme, _, host = gate_url.partition("://")
    lines = [
        f"IAP gate: {gate_url} -> {upstream} (audience: the webapp client id above)",
        f"IAP signed header: x-goog-iap-jwt-assertion, ES256, iss {IAP_ISSUER}, "
        f"aud {emulator.config.signed_header_audience}, keys {emulator.iap_jwk_uri}",
    ]
    if scheme == "https":
        # localhost, not 127.0.0.1: the Flyte 2 SDK reads an org from a host of many labels.
        port = host.rpartition(":")[2]
        lines.append(
            f"for ~/.flyte/config.yaml: admin.endpoint: dns:///localhost:{port} with "
            f"insecure: false and caCertFilePath: {emulator.gate_ca_file}"
        )
    else:
        lines.append(f"for ~/.flyte/config.yaml: admin.endpoint: dns:///{host} with insecure: true")
    return lines


def _serve(exit_after: float | None) -> None:
    # Event.wait with a bounded timeout keeps the main thread responsive to Ctrl-C.
    stop = threading.Event()
    if exit_after is not None:
        stop.wait(exit_after)
        return
    while not stop.wait(3600):
        pass
