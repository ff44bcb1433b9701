"""`python -m flyte_iap` runs the same command line as `flyte-iap`."""

from flyte_iap.cli import main

raise SystemExit(main())
