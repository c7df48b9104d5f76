"""`suanli ui`: a live web view of the fleet, the queues and the jobs, read-only.

Watches feed the one state model; every tick the view is rebuilt from it by `suanli.view` and
only what changed since the last tick is sent to the browsers (server-sent events). The page is
served by the process itself: no CDN, no build step.
"""
