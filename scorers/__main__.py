"""Entry point of ``python -m scorers`` (see :mod:`scorers.cli`)."""

import sys

from scorers.cli import main

sys.exit(main())
