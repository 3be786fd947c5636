"""`python -m paisa_assets.eventhub_emulator`."""

import sys

from paisa_assets.eventhub_emulator.cli import main

sys.exit(main())
