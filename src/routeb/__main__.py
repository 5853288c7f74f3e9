"""``python -m routeb``."""

import sys

from routeb.cli import main

sys.exit(main())
