"""gunicorn settings for newsletters: ``gunicorn -c deploy/gunicorn.conf.py app:app``.

Every value can be overridden from the environment, so one file serves every
machine. The app itself trusts the reverse proxy through ``PROXY_COUNT``.
"""

import os

# Where the reverse proxy reaches the app: a loopback port, or unix:/run/newsletters.sock.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Processes: about one per core. Threads let a process wait on the database and SMTP
# for one request while it serves another.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request that takes longer than this is stuck: the worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so a slow leak in any library never builds up.
max_requests = 5000
max_requests_jitter = 500
# The app logs each line with its request id; gunicorn's access log adds timing.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s"'
# The app reads X-Forwarded-For/-Proto itself (ProxyFix, PROXY_COUNT); gunicorn need not.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
