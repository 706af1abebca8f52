"""``python -m physreason.cli``."""

import sys

from physreason.cli import main

sys.exit(main())
