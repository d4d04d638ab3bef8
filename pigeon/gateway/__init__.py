"""The WebSocket edge. It moves bytes; the protocol session and the actions decide.

connection.py  one socket's identity and outbound queue
hub.py         this gateway's connections, and delivery of queue entries to them
handlers.py    authenticated requests (send, sync, read, typing, recall) -> actions
endpoint.py    the socket loop: read frames, feed the session, carry out its actions
wsprotocol.py  uvicorn's sans-I/O WebSocket protocol, lighter per idle socket
service.py     lifecycle: queue consumer, registry refresh, heartbeat, recovery after
               Redis trouble (apart from the heartbeat), ticks, graceful drain
"""
