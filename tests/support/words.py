"""Random English-like documents from a fixed vocabulary, for the dedup tests."""

import random

WORDS = [
    "river",
    "stone",
    "market",
    "evening",
    "letter",
    "garden",
    "silver",
    "window",
    "morning",
    "engine",
    "harbor",
    "lantern",
    "violet",
    "meadow",
    "copper",
    "thunder",
    "orchard",
    "pencil",
    "blanket",
    "canyon",
    "falcon",
    "glacier",
    "island",
    "jungle",
    "kettle",
    "ladder",
    "marble",
    "needle",
    "oyster",
    "pepper",
    "quartz",
    "rocket",
    "saddle",
    "tunnel",
    "umbrella",
    "velvet",
    "walnut",
    "yellow",
    "zephyr",
    "anchor",
    "bridge",
    "candle",
]


def random_text(seed: int, length: int = 120) -> str:
    """A seeded document of ``length`` words from ``WORDS``."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(length))
