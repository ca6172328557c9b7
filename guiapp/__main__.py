"""`python -m guiapp` is the `triage` command."""

import sys

from guiapp.cli import main

if __name__ == "__main__":
    sys.exit(main())
