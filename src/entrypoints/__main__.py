"""``python -m entrypoints``: the ``voicepractice`` command, as ``run-all`` starts its children.

Running ``entrypoints.cli`` itself with ``-m`` executes a module the analysis server's worker processes
import again, which runpy warns about; this module is imported by nothing.
"""

import sys

from entrypoints.cli import main

if __name__ == "__main__":
    sys.exit(main())
