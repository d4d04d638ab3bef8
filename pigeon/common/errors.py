"""Pigeon's error codes, one exception class each, shared by HTTP and WebSocket edges.

Every error a client can see carries a stable snake_case ``code``; the HTTP edge maps it to a
status, the gateway sends it in an ``error`` frame. The tree::

    PigeonError (internal, 500)
    ├── InvalidRequest (invalid_request, 422)
    │   ├── WeakPassword (weak_password, 422)
    │   ├── InvalidImage (invalid_image, 422)
    │   ├── NotEditable (not_editable, 422)
    │   ├── InvalidReaction (invalid_reaction, 422)
    │   └── PayloadTooLarge (payload_too_large, 413)
    │       └── ImageTooLarge (image_too_large, 413)
    ├── Unauthorized (unauthorized, 401)
    │   ├── WrongPassword (wrong_password, 401)
    │   └── InvalidRefreshToken (invalid_refresh_token, 401)
    ├── Forbidden (forbidden, 403)
    │   ├── NotFriends (not_friends, 403)
    │   ├── Blocked (blocked, 403)
    │   ├── NotMember (not_member, 403)
    │   ├── NotAdmin (not_admin, 403)
    │   ├── NotOwner (not_owner, 403)
    │   ├── RecallWindowPassed (recall_window_passed, 403)
    │   └── EditWindowPassed (edit_window_passed, 403)
    ├── NotFound (not_found, 404)
    ├── Conflict (conflict, 409)
    │   ├── UsernameTaken (username_taken, 409)
    │   ├── AlreadyFriends (already_friends, 409)
    │   ├── RequestNotPending (request_not_pending, 409)
    │   ├── GroupFull (group_full, 409)
    │   ├── TooManyReactions (too_many_reactions, 409)
    │   ├── TooManyPinned (too_many_pinned, 409)
    │   └── ClientMsgIdReused (client_msg_id_reused, 409)
    ├── GroupDissolved (group_dissolved, 410)
    ├── RateLimited (rate_limited, 429)
    └── Unavailable (unavailable, 503)
"""

from __future__ import annotations


class PigeonError(Exception):
    """Base of every error with a code a client may see."""

    code = "internal"
    status = 500
    default_message = "internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidRequest(PigeonError):
    code, status, default_message = "invalid_request", 422, "the request is not valid"


class WeakPassword(InvalidRequest):
    code, default_message = "weak_password", "the password is too weak"


class InvalidImage(InvalidRequest):
    code, default_message = "invalid_image", "not a readable image"


class NotEditable(InvalidRequest):
    code, default_message = "not_editable", "only text messages can be edited"


class InvalidReaction(InvalidRequest):
    code, default_message = "invalid_reaction", "a reaction is one emoji"


class PayloadTooLarge(InvalidRequest):
    code, status, default_message = "payload_too_large", 413, "the payload is too large"


class ImageTooLarge(PayloadTooLarge):
    code, default_message = "image_too_large", "the image would take too much memory to decode"


class Unauthorized(PigeonError):
    code, status, default_message = "unauthorized", 401, "authentication required"


class WrongPassword(Unauthorized):
    code, default_message = "wrong_password", "wrong username or password"


class InvalidRefreshToken(Unauthorized):
    code, default_message = "invalid_refresh_token", "the refresh token is not valid"


class Forbidden(PigeonError):
    code, status, default_message = "forbidden", 403, "not allowed"


class NotFriends(Forbidden):
    code, default_message = "not_friends", "you can only message your friends"


class Blocked(Forbidden):
    code, default_message = "blocked", "this user does not accept messages from you"


class NotMember(Forbidden):
    code, default_message = "not_member", "you are not a member of this conversation"


class NotAdmin(Forbidden):
    code, default_message = "not_admin", "only the group owner or admins may do this"


class NotOwner(Forbidden):
    code, default_message = "not_owner", "only the group owner may do this"


class RecallWindowPassed(Forbidden):
    code, default_message = "recall_window_passed", "the message is too old to recall"


class EditWindowPassed(Forbidden):
    code, default_message = "edit_window_passed", "the message is too old to edit"


class NotFound(PigeonError):
    code, status, default_message = "not_found", 404, "not found"


class Conflict(PigeonError):
    code, status, default_message = "conflict", 409, "conflict"


class ClientMsgIdReused(Conflict):
    code, default_message = (
        "client_msg_id_reused",
        "this client_msg_id was already used for a message in another conversation",
    )


class UsernameTaken(Conflict):
    code, default_message = "username_taken", "that username is taken"


class AlreadyFriends(Conflict):
    code, default_message = "already_friends", "you are already friends"


class RequestNotPending(Conflict):
    code, default_message = "request_not_pending", "the friend request was already answered"


class GroupFull(Conflict):
    code, default_message = "group_full", "the group has reached its maximum size"


class TooManyPinned(Conflict):
    code, default_message = "too_many_pinned", "no more can be pinned"


class TooManyReactions(Conflict):
    code, default_message = "too_many_reactions", "this message has as many reactions as it may"


class GroupDissolved(PigeonError):
    code, status, default_message = "group_dissolved", 410, "the group was dissolved"


class RateLimited(PigeonError):
    code, status, default_message = "rate_limited", 429, "too many requests"

    def __init__(self, message: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(PigeonError):
    code, status, default_message = "unavailable", 503, "temporarily unavailable"
