"""Naming an object of a video on the command line."""

from __future__ import annotations

from physreason.errors import ConfigError


def find_object(objects: tuple, text: str) -> int:
    """The id of the one object an id or words such as "red cube" / "metal sphere" describe."""
    if text.strip().isdigit():
        k = int(text)
        if k >= len(objects):
            raise ConfigError(f"no object {k}: the video has objects 0..{len(objects) - 1}")
        return k
    words = text.lower().split()
    if not words:
        raise ConfigError("empty object description")
    hits = [o.id for o in objects if all(w in (o.color, o.material, o.shape) for w in words)]
    if len(hits) != 1:
        found = "no object" if not hits else f"{len(hits)} objects ({', '.join(objects[i].describe() for i in hits)})"
        raise ConfigError(f"'{text}' must describe exactly one object; found {found}")
    return hits[0]
