"""Where the shared specs and sample files live: ../shared beside the checkout (as in CI).

A clone made elsewhere from a local checkout (``git clone /work/main /tmp/x``) has no ../shared of its
own; it then uses the one beside the checkout it was cloned from. CASHLINE_SHARED_DIR overrides both.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path:
    if "CASHLINE_SHARED_DIR" in os.environ:
        return Path(os.environ["CASHLINE_SHARED_DIR"])
    beside = REPO_ROOT.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(["git", "-C", str(REPO_ROOT), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True, check=False).stdout.strip()
    if origin and Path(origin).is_dir():
        cloned_from = Path(origin).resolve().parent / "shared"
        if cloned_from.is_dir():
            return cloned_from
    return beside  # missing: the tests that read it fail and name this path


SHARED = _shared_dir()
SPECS = SHARED / "specs"
STATEMENTS = SHARED / "statements"
