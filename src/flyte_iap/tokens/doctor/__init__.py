"""Use case: ``doctor``, the checks between a Flyte config and flyteadmin behind IAP.

Each check is a function returning a :class:`Check` (passed, failed with a fix, or
not applicable); :func:`diagnose` runs them in order, and a failure makes the checks
that depend on it not applicable. Nothing here prints, and no check's text ever
holds the token.
"""

from flyte_iap.tokens.doctor.check import FAIL, NA, OK, Check
from flyte_iap.tokens.doctor.run import DoctorRequest, Probes, diagnose

__all__ = ["FAIL", "NA", "OK", "Check", "DoctorRequest", "Probes", "diagnose"]
