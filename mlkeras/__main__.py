"""Lets ``python -m mlkeras`` do what the ``mlkeras`` command does."""

import sys

from mlkeras.cli import main

if __name__ == "__main__":
    sys.exit(main())
