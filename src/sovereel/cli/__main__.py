"""`python -m sovereel.cli …`, the same as the `sovereel` command."""

import sys

from sovereel.cli.main import main

sys.exit(main())
