"""Configuration of the local Google emulator: the identities it knows about."""

from __future__ import annotations

from dataclasses import dataclass

_PROJECT = "emulator-project"


@dataclass
class EmulatorConfig:
    """The sample project, identities and OAuth clients the emulator serves.

    Every token the emulator issues lives ``token_lifetime`` seconds. With
    ``auto_approve`` the consent page redirects at once, as if "Allow" was pressed. The
    IAP gate signs its assertions for :attr:`signed_header_audience`, made of
    ``project_number`` and ``backend_service_id`` as IAP names a load balancer's backend.
    """

    project: str = _PROJECT
    project_number: str = "123456789012"
    backend_service_id: str = "4242424242424242424"
    service_account_email: str = f"ci-runner@{_PROJECT}.iam.gserviceaccount.com"
    metadata_email: str = f"gke-workload@{_PROJECT}.iam.gserviceaccount.com"
    impersonation_targets: tuple[str, ...] = (f"flyte-deployer@{_PROJECT}.iam.gserviceaccount.com",)
    user_email: str = "ada@example.com"
    desktop_client_id: str = "emulator-desktop.apps.googleusercontent.com"
    desktop_client_secret: str = "emulator-desktop-secret"
    desktop_secret_name: str = "flyte-iap-desktop-client-secret"
    webapp_client_id: str = "emulator-webapp.apps.googleusercontent.com"
    token_lifetime: int = 3600
    auto_approve: bool = False
    # The client that `gcloud auth application-default login` would use; it signs the
    # authorized_user ADC file, so it is deliberately not the desktop client.
    adc_client_id: str = "emulator-gcloud.apps.googleusercontent.com"
    adc_client_secret: str = "emulator-gcloud-secret"

    @property
    def signed_header_audience(self) -> str:
        """The ``aud`` of IAP's signed header for a backend service behind a load balancer."""
        return f"/projects/{self.project_number}/global/backendServices/{self.backend_service_id}"

    def known_service_accounts(self) -> set[str]:
        """Service accounts that exist in the emulated project."""
        return {self.service_account_email, self.metadata_email, *self.impersonation_targets}
