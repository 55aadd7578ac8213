"""The `dandi` package without the network: no version check on import or use.

``DANDI_NO_ET`` turns off dandi's etelemetry check (an HTTP request to learn whether a newer
dandi exists). Validation and naming need nothing else from the network; dandischema's
models validate offline (only ``dandischema.metadata.validate`` of another schema version
would fetch its JSON schema, and nothing here calls it).
"""

from __future__ import annotations

import logging
import os


def offline() -> None:
    os.environ["DANDI_NO_ET"] = "1"
    # dandi logs its own progress and naming remarks; what matters reaches us as results
    logging.getLogger("dandi").setLevel(logging.ERROR)
