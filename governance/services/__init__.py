"""Business rules: plain functions that flush and never commit (the view commits once), grouped by domain.

- `issues/`    an issue's life: lifecycle, SLA sweep, rating links, reference data, the issue list, places
- `triage/`    the community branch's console and the responsible parties' queue
- `money/`     the append-only ledger of renovation projects
- `public/`    what the public may see: the projection, the page cache, Open311
- `reports/`   rates, rollups, a node's report, charts, the one table writer for CSV/XLSX
- `people/`    accounts, roster import, the tree, finding people in a scope
- `platform/`  job outbox, notifications, photos, audit log, throttling, health, restore
- `errors.py`, `locks.py`   the one refusal shape and the row locks every domain uses
- `settings.py`  the admin-managed lists and policies; `home.py` what the home page offers
"""
