"""Entry point of ``python -m leaderboard.stats`` (see :mod:`leaderboard.stats.cli`)."""

import sys

from leaderboard.stats.cli import main

sys.exit(main())
