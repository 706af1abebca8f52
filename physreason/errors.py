"""The one exception hierarchy of physreason.

Every error a user can cause (a bad file, a bad field, a word outside the language, a corrupt
frame) is a :class:`PhysreasonError`. Its message names what is at fault; the CLI prints it on
one line and exits with code 2.
"""

from __future__ import annotations


class PhysreasonError(Exception):
    """Base class of every user-facing error."""


class FormatError(PhysreasonError):
    """A file does not follow the expected format; the message names the file and the field."""

    def __init__(self, path: object, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        where = f"{self.path}: field '{field}'" if field else self.path
        super().__init__(f"{where}: {problem}")


class VideoError(PhysreasonError):
    """A video or frame folder cannot be read or written."""


class ConfigError(PhysreasonError):
    """An argument or option has an invalid value."""


class ParseError(PhysreasonError):
    """A question or program is outside the language; the message names the word and position."""
