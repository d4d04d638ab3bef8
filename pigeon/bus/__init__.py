"""Routing between the processes that commit messages and the gateways holding sockets.

    publication.py   what is published after a commit (a stored message, a frame for
                     users or for a group, last words to sockets), frames encoded once
    fanout_queue.py  the hand-off to the fan-out workers (the seed's message queue)
    registry.py      the registry's jobs as small interfaces: connections (user ->
                     gateway), presence book, gateway directory
    notices.py       the hot-group notice book (read stubs); its rules, without I/O, in
                     notice_rules.py
    delivery.py      what a gateway's queue carries: a frame and the local users it is for
    queue.py         each gateway's delivery queue (the seed's ``im:unread:${serverId}``)
    router.py        locate users, queue one entry per gateway
    memory.py        in-process implementations for the embedded single-process mode

    commit -> publisher -+-> router -> gateway queue -> gateway -> sockets   (named users)
                         +-> fan-out queue -> worker -> router -> ...        (groups)

The cluster implementations on Redis: ``redis_connections.py``, ``redis_presence.py``,
``redis_gateways.py``, ``redis_notices.py``, ``redis_queue.py`` and ``redis_fanout.py``
(keys in ``redis_keys.py``, wiring in ``redis_bus.py``).
"""
