"""Matrix Synapse under the 1:1 scenario, for ``python -m bench compare``.

Modules::

    install.py     matrix-synapse (pinned) in a virtualenv of its own, made on first use
    homeserver.py  config, a fresh PostgreSQL database, the Synapse process
    accounts.py    users (shared-secret registration) and one private room per pair
    loadgen.py     a worker process: senders PUT /send, receivers long-poll /sync
    run.py         all of it for one run, figures as a :class:`bench.stats.RunFigures`
"""
