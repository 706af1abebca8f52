"""CLEVRER's fixed vocabulary and timing constants (reference notes §1.2)."""

from __future__ import annotations

COLORS: tuple[str, ...] = ("gray", "red", "blue", "green", "brown", "yellow", "cyan", "purple")
MATERIALS: tuple[str, ...] = ("metal", "rubber")
SHAPES: tuple[str, ...] = ("sphere", "cylinder", "cube")

#: sRGB colours of CLEVR's palette, 0-255.
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "gray": (87, 87, 87),
    "red": (173, 35, 35),
    "blue": (42, 75, 215),
    "green": (29, 105, 20),
    "brown": (129, 74, 25),
    "yellow": (255, 238, 51),
    "cyan": (41, 208, 208),
    "purple": (129, 38, 192),
}

FPS = 25
"""Frames per second of every video."""
N_OBSERVED_FRAMES = 128
"""Frames in an observed CLEVRER video (5.12 s)."""
N_FUTURE_FRAMES = 50
"""Held-out future frames simulated after the observed window (2 s)."""
END_FRAME = 125
"""Frame of CLEVRER's 'end' pseudo-event (5 s at 25 fps)."""
OBJECT_RADIUS = 0.2
"""Radius of spheres and cylinders, half the side of cubes, in world units."""
