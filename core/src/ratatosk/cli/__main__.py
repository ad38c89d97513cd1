"""``python -m ratatosk.cli``: the ``ratatosk`` command."""

import sys

from ._main import main

sys.exit(main())
