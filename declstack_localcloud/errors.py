"""The exception the local cloud raises for a user's mistake: a message and a hint."""

from __future__ import annotations


class LocalCloudError(Exception):
    """A problem the user can fix (bad state file, busy port, unreadable clouds.yaml...).

    `message` says what is wrong (it names the file, address or value); `hint` says what to
    do about it and may be empty. Callers print them instead of a traceback.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message
