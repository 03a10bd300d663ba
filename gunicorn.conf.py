"""gunicorn settings, read by every `gunicorn` started in this directory (the Procfile's `web` process).

- The access log never carries an Open311 api_key: the request line, query string and Referer are redacted
  (governance/logredact.py). The API refuses a key sent in the URL, but gunicorn logs the line first.
- The `Server` header: gunicorn (≥ 22) sends `Server: gunicorn`, with no version; nothing is added.

Settings given on the command line (the Procfile's -w and -b) take precedence over these.
"""

logger_class = "governance.logredact.RedactingGunicornLogger"
