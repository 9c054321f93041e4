"""``python -m paramlens`` is the ``paramlens`` command."""

import sys

from paramlens.cli import main

sys.exit(main())
