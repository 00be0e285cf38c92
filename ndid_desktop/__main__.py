"""`python -m ndid_desktop` starts the desktop app (the CLI is `ndid`)."""

import multiprocessing
import sys

from ndid_desktop.ui.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # decode workers in a frozen (PyInstaller) build
    sys.exit(main())
