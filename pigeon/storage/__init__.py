"""Durable state: the SQL schema, its migrations, and the queries each domain needs.

schema.py         tables (SQLAlchemy Core), shared by SQLite and PostgreSQL
database.py       engines, transactions and reads (the single SQLite writer)
migrate.py        Alembic upgrade, run by ``pigeon migrate`` and on embedded start
users.py          accounts and refresh sessions
conversations.py  conversations, members, read markers, sequence allocation
sending.py        a send's checks and its write, alone or for a whole batch of sends
messages.py       messages (each stored with its hand-off row) and pages by seq
handoffs.py       hand-off rows: committed messages not yet fanned out
groups.py         groups, roles, mutes and member pages (searchable)
invites.py        invite links and join requests
friends.py        friendships, requests and blocks
presence.py       whose presence friends should hear of
activity.py       conversations active since a time (notices after lost pushes)
uploads.py        upload records; files.py the files on disk
service.py        the server push API's idempotent system sends and delivery stream
"""
