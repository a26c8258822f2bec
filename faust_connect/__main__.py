"""``faust-connect`` / ``python -m faust_connect``: Faust's command line with the default worker.

``faust-connect worker -l info`` is ``faust -A faust_connect.app worker -l info``.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run Faust's CLI on the default app."""
    from faust.cli.faust import cli

    cli(["-A", "faust_connect.app", *sys.argv[1:]])


if __name__ == "__main__":
    main()
