"""`python -m hfvideoclip_cli ...`: the `hfvideoclip` command."""

import sys

from . import main

sys.exit(main())
