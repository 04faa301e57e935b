"""Secrets from AWS Secrets Manager, read through Powertools Parameters and cached."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters


def get_secret(secret_id: str, *, max_age: int, fresh: bool = False) -> str:
    """The secret's value, read again once the cached one is `max_age` seconds old (so a
    rotated secret reaches every warm container within that time, without a deploy), or
    at once with `fresh` (the cache is then updated)."""
    return parameters.get_secret(secret_id, max_age=max_age, force_fetch=fresh)
