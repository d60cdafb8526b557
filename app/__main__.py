"""`python -m app` is `pullpass`."""

import sys

from app.shell.cli.main import main

sys.exit(main())
