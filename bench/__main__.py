"""Entry point: ``python -m bench <scenario> [flags]``."""

import sys

from bench.cli import main

sys.exit(main())
