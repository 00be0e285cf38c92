"""The packaged app's single executable: `ndid-desktop` opens the window; `ndid-desktop scan ...`
(or any other `ndid` command) runs the command line, so one build serves both. Started as
`ndid` (the link beside it, /usr/bin/ndid from the .deb) it is always the command line."""

import multiprocessing
import os
import sys

CLI_COMMANDS = {"scan", "compare", "calibrate", "eval", "models", "trash", "history", "restore"}


def main() -> int:
    multiprocessing.freeze_support()  # decode workers are spawned from this executable
    args = sys.argv[1:]
    called_as_cli = os.path.basename(sys.argv[0]) == "ndid"
    wants_cli = called_as_cli or any(a in CLI_COMMANDS for a in args[:3])
    if wants_cli:
        from ndid_desktop.cli.main import main as cli_main

        return cli_main(args)
    from ndid_desktop.ui.app import main as gui_main

    return gui_main(args)


if __name__ == "__main__":
    sys.exit(main())
