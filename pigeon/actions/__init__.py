"""Domain actions: each is one verb, one transaction, and events pushed only after commit.

context.py      what every action needs (database, router, settings) and the
                transaction helper that publishes an action's pushes after commit
tokens.py       access tokens (JWT) and refresh tokens
accounts.py     register, log in, refresh, log out, change password, profiles
conversations.py  open a private conversation, list conversations, authorisation
messages.py     send, fetch history, mark read, recall, typing
"""
