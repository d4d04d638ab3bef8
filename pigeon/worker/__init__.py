"""Background consumers, one class per queue, run by ``pigeon worker`` (in-process when
embedded).

    base.py      the Worker base class and the registry of worker kinds (``WORKERS``)
    fanout.py    ``fanout``: delivers what is addressed to whole groups (the seed's timeline
                 service): members paged, online ones located, hot groups by read stub
    handoff.py   ``handoff``: publishes again stored messages whose fan-out never finished
    presence.py  ``presence``: settles users whose presence marks are due, tells friends
    janitor.py   ``janitor``: sweeps dead gateways (registry entries, queue) and marks
                 their users for presence
    runner.py    runs a set of workers, restarting one that fails

A new consumer subclasses :class:`pigeon.worker.base.Worker`, decorates itself with
:func:`pigeon.worker.base.worker` and is imported in :func:`pigeon.worker.runner.load`.
Any number of worker processes may run: every consumer is safe to run concurrently.
"""
