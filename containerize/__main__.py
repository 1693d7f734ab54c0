"""``python -m containerize``."""

import sys

from containerize.cli import main

sys.exit(main())
