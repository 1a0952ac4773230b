"""Where the shared specs and sample files live: ../shared beside the checkout (as in CI)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CASHLINE_SHARED_DIR", REPO_ROOT.parent / "shared"))
SPECS = SHARED / "specs"
STATEMENTS = SHARED / "statements"
