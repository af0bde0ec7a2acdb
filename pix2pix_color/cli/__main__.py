"""`python -m pix2pix_color.cli` (torchrun and the tests start the command this way)."""

import sys

from pix2pix_color.cli import main

sys.exit(main())
