"""Secrets from AWS Secrets Manager, read through Powertools Parameters and cached."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

# A rotated secret reaches every warm container within this many seconds.
SECRET_MAX_AGE_SECONDS = 300


def get_secret(secret_id: str) -> str:
    return parameters.get_secret(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
