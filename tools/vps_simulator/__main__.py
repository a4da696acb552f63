"""`python -m vps_simulator serve|ctl ...`"""

import sys

from .cli import main

sys.exit(main())
