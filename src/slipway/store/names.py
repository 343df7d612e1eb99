"""Friendly run names (`adjective-noun-123`), so a run is easy to tell apart in lists."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "agile", "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager",
    "fancy", "gentle", "glad", "golden", "grand", "happy", "honest", "jolly", "keen", "kind",
    "lively", "lucky", "mellow", "merry", "nimble", "noble", "patient", "polite", "proud",
    "quick", "quiet", "rare", "shy", "silent", "sleek", "smart", "steady", "sunny", "swift",
    "tidy", "vivid", "warm", "wise", "witty", "zesty",
)  # fmt: skip

_NOUNS = (
    "ant", "badger", "bass", "bat", "bear", "bee", "bison", "cat", "colt", "crab", "crane",
    "deer", "dove", "duck", "eagle", "eel", "elk", "finch", "fox", "frog", "gull", "hare",
    "hawk", "heron", "horse", "ibis", "jay", "koala", "lark", "lion", "lynx", "mole", "moth",
    "newt", "otter", "owl", "panda", "quail", "ram", "robin", "seal", "shark", "slug", "snail",
    "sow", "stork", "swan", "toad", "trout", "wasp", "whale", "wolf", "wren", "yak",
)  # fmt: skip


def generate_run_name(rng: random.Random | None = None) -> str:
    """A random `adjective-noun-NNN` name; not unique, just memorable."""
    r = rng or random
    return f"{r.choice(_ADJECTIVES)}-{r.choice(_NOUNS)}-{r.randint(0, 999)}"


__all__ = ["generate_run_name"]
