"""Start the paramlens language server from the VS Code extension's bundle.

The extension runs ``<python> bundled/tool/launch.py``. This puts the bundled ``paramlens``
package (next to this file) and the bundled pure-Python dependencies (``bundled/libs``) first on
``sys.path`` of this process only: nothing goes into ``PYTHONPATH``, so the worker the server
starts in the user's interpreter never sees ``bundled/libs`` and the user's own packages are
never shadowed by ours.
"""

import os
import sys

MINIMUM = (3, 9)


def _bundle_paths():
    tool = os.path.dirname(os.path.abspath(__file__))
    libs = os.path.join(os.path.dirname(tool), "libs")
    return tool, libs


def main():
    """Check the Python version, set up ``sys.path`` and run ``paramlens serve``."""
    if sys.version_info < MINIMUM:
        found = sys.version.split()[0]
        sys.stderr.write(
            f"paramlens: Python {MINIMUM[0]}.{MINIMUM[1]} or newer is needed; "
            f"{sys.executable} is {found}\n"
        )
        return 1
    tool, libs = _bundle_paths()
    for path in (libs, tool):  # tool ends up first: the bundled paramlens wins
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    # A PYTHONPATH inherited from the editor must not reach the worker through this process.
    os.environ.pop("PYTHONPATH", None)
    from paramlens.cli import main as cli_main

    return cli_main(["serve", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
