"""``python -m ratatosk_vonage.sandbox``: the sandbox server in the foreground."""

import sys

from ._cli import main

sys.exit(main())
