"""Routing between the processes that commit messages and the gateways holding sockets.

    delivery.py  what travels: a frame (encoded once) and the local users it is for
    registry.py  who is connected where: user -> {(gateway id, device, connection id)}
    queue.py     each gateway's delivery queue (the seed's ``im:unread:${serverId}``)
    router.py    after commit: locate recipients, push one entry per gateway
    memory.py    in-process registry and queues for the embedded single-process mode

The cluster implementations on Redis live in ``redis_registry.py`` and ``redis_queue.py``.
"""
