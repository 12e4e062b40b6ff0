"""What the data layer refuses, as exceptions that carry a sentence for the person who caused it."""

from __future__ import annotations


class DataError(Exception):
    """Base of the refusals below; `str(error)` is the sentence to show."""


class SessionNotFound(DataError):
    def __init__(self, session_id):
        super().__init__(f"Session not found: {session_id}")


class SessionAlreadyExists(DataError):
    def __init__(self, session_id):
        super().__init__(
            f"A session with id {session_id} already exists; omit id to get a new one."
        )


class EventIdConflict(DataError):
    def __init__(self, event_id=None):
        which = f"Event id {event_id} is" if event_id else "An event id of this batch is"
        super().__init__(f"{which} already stored in another session; give this event a new id.")


class ForbiddenTransition(DataError):
    def __init__(self, old: str, new: str, allowed: tuple[str, ...]):
        article = "An" if old[0] in "aeiou" else "A"
        reason = (
            f"from {old} it can become {', '.join(allowed)}"
            if allowed
            else f"{old} is a final status"
        )
        super().__init__(f"{article} {old} session cannot become {new}; {reason}.")
