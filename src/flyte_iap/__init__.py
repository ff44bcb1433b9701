"""flyte-iap: Google-signed ID tokens for Flyte deployments behind Cloud IAP.

Kept import-free on purpose: the cached-token path must start as fast as a
bare interpreter, so nothing heavy is imported at package import time.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
