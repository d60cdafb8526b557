"""`python -m app` is `pullpass`."""

import sys

from app.cli import main

sys.exit(main())
