"""``doctor``: the checks between a Flyte config and its backend behind IAP.

:func:`diagnose` runs them in order for a :class:`DoctorRequest` with the seams in
:class:`Probes`, and yields each :class:`Check` as it is done: passed, failed with a
fix, or not applicable (:class:`Status`); a failure makes the checks that depend on it
not applicable. One module per check: ``config`` (1), ``command`` (2), ``token`` (3),
``network`` (4: DNS and TLS), ``iap`` (5 and 6), ``admin`` (7). Nothing here prints,
and no check's text ever holds the token.
"""

from flyte_iap.doctor.check import Check, Status
from flyte_iap.doctor.command import DEFAULT_TIMEOUT
from flyte_iap.doctor.run import DoctorRequest, Probes, diagnose

__all__ = ["DEFAULT_TIMEOUT", "Check", "DoctorRequest", "Probes", "Status", "diagnose"]
