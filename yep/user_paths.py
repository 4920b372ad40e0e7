"""A path the user gave yep (a profile to write or read, an output), as a
str: str, bytes or os.PathLike, never with a NUL byte, which the C side
would take as the end of a shorter name (yep.start("a\\0b") wrote "a")."""
import os

from ._errors import YepError


def user_path(path, what="profile path"):
    try:
        path = os.fspath(path)
    except TypeError:
        raise YepError(f"{what} must be a str or os.PathLike, not {type(path).__name__}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if "\0" in path:
        raise YepError(f"{what} {path!r} holds a NUL byte, which no file name can")
    if not path:
        raise YepError(f"{what} is empty")
    return path
