"""Secrets from AWS Secrets Manager, read through Powertools Parameters and cached."""

from __future__ import annotations

import os

from aws_lambda_powertools.utilities import parameters

# A rotated secret reaches every warm container within this many seconds, without a deploy.
# Powertools' own setting for its cache, with a longer default than its 5 s: one Secrets
# Manager call per container every 5 minutes.
SECRET_MAX_AGE_SECONDS = int(os.environ.get("POWERTOOLS_PARAMETERS_MAX_AGE", "300"))


def get_secret(secret_id: str) -> str:
    return parameters.get_secret(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
