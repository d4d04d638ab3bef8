"""Domain actions: each is one verb, one transaction, and publications only after commit.

context.py        what every action needs (database, bus parts, publisher, settings) and
                  the transaction whose outbox is published after the commit
publisher.py      the one way to publish: each publication to its route
handoff.py        hand-off rows finished in batches, and republishing the stale ones
fanout.py         what a fan-out worker does with a group publication; hot-group
                  notices by read stub, and settling them on catch-up
tokens.py         access tokens (JWT) and refresh tokens
throttle.py       the failed-login brake
accounts.py       register, log in, refresh, log out, change password, profiles
conversations.py  open a private conversation, list conversations, authorisation
sending.py        send: checks, the group commit (a batch per transaction), the write
messages.py       fetch history (and who may see what), mark read, recall, typing
gallery.py        a conversation's images, files and voice clips, newest first
search.py         full-text search of the messages a user may see
tips.py           system tips stored as messages ("Alice joined")
friends.py        requests, friendships, remarks, blocks
groups.py         create and manage groups, members, roles, mutes, readers
invites.py        invite links and join requests (joining through groups.admit)
presence.py       online status settled per user and told to friends
uploads.py        images, files, voice clips and avatars
deliveries.py     the server push API's delivery-result stream
service.py        the server push API: private, group and system messages, events
resync.py         what to re-announce after the bus lost pushes
"""
