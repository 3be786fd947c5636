"""`python -m paisa_eventhub_emulator`."""

import sys

from paisa_eventhub_emulator.cli import main

sys.exit(main())
