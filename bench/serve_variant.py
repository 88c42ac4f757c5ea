"""`qms serve` for one benchmark diagnostic only (bench/bench_fanout.py --no-report-writer):

    python -m bench.serve_variant --data-dir DIR serve --port P

the same server, except that the report writer's passes (`server/reports/refresher.py`,
a greenlet under gevent, which folds the event log after commands) never run: it shows what
the fan-out costs by itself, i.e. once the report writer runs off the serving loop (issue
#14 item 2). Never used to serve a hall.
"""

import os
import sys

os.environ["QMS_ASYNC_MODE"] = "gevent"
from gevent import monkey  # noqa: E402

monkey.patch_all()

from server.reports import refresher  # noqa: E402

refresher.ReportRefresher.kick = lambda self, now=False: 0

from qms.cli import main  # noqa: E402

sys.exit(main())
