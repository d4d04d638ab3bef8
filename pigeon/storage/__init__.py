"""Durable state: the SQL schema, its migrations, and the queries each domain needs.

schema.py      tables (SQLAlchemy Core), shared by SQLite and PostgreSQL
database.py    engines, transactions, and events published after commit
migrate.py     Alembic upgrade, run by ``pigeon migrate`` and on embedded start
users.py       accounts and refresh sessions
messages.py    conversations, members, messages, sequence allocation
"""
