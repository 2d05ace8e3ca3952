"""``python -m i2dl check NOTEBOOK`` / ``python -m i2dl submit EX --student ID`` (see i2dl.cli)."""

import sys

from i2dl.cli import main

sys.exit(main())
