"""``python -m backup_events``: the command line (``backup_events.cli.main``)."""

import sys

from backup_events.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
