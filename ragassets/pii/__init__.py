"""PII redaction with Presidio, offline: engine, recognizers, operators, the residual check.

No Dagster import: ``ragassets.resources.pii``, ``ragassets.defs.redaction`` and
``ragassets.defs.pii_gate`` wire these functions into the graph. Import the submodules directly
(``ragassets.pii.redact``, ``ragassets.pii.residual``); importing this package does not load
Presidio or spaCy.

Importing it does set two environment defaults, before any submodule can import Presidio:
tldextract (used by Presidio's email and URL recognizers) reads ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS``
once, when it is first imported, and would otherwise try to download the public suffix list; and
Presidio's device probe would start CUDA in every process that redacts text.
"""

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("PRESIDIO_DEVICE", "cpu")
