"""`python -m qms`: the `qms` command (the server re-executes itself this way under gevent)."""

import os
import sys

if os.environ.get("QMS_ASYNC_MODE") == "gevent":  # patch before anything else is imported
    from gevent import monkey

    monkey.patch_all()

from qms.cli import main  # noqa: E402

sys.exit(main())
