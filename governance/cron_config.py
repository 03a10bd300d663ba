"""`rq cron governance/cron_config.py`: what runs on a schedule."""

import os

from rq import cron

from governance.worker import periodic

cron.register(periodic, queue_name=os.environ.get("REDIS_PREFIX", "gov:") + "jobs", interval=60)
