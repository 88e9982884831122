#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/pcapgen.py: deterministic test capture generator (see --help).

The library is the pcapgen/ package next to this file; this script is only
its command line, so `import pcapgen` from tools/ gives the same code."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pcapgen.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
