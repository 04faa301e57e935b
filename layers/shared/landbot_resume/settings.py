"""Each function's configuration: its environment variables, read once at init and checked.

Every field is named after its variable (the alias) and carries its default and bounds; where
a template.yaml parameter feeds the variable, they are the parameter's (a test checks it).
No other module reads the environment: the handlers pass these values on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

DEFAULT_LANDBOT_API_URL = "https://api.landbot.io/v1/"
# DynamoDB's rule for table names.
TABLE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
URL_PATTERN = r"^https?://\S+$"
# Landbot's base URL ends in its version; any other URL 404s on every call, which is a fault
# of the deployment. https only, but for a server on this machine (the local stack's).
LANDBOT_API_URL_PATTERN = (
    r"^(https://[^\s/?#]+(/[^\s?#]*)?|http://(127\.0\.0\.1|localhost):[0-9]{1,5})/v1/$"
)


class ConfigurationError(ValueError):
    """The environment lacks a variable or holds an invalid one. The message names each
    variable at fault and what is wrong with it, never its value (it may be a secret)."""


class FunctionSettings(BaseModel):
    """What every function reads."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    processes_table: str = Field(alias="PROCESSES_TABLE", pattern=TABLE_NAME_PATTERN)
    # Powertools' own variable for its cache, with a longer default than its 5 s: one Secrets
    # Manager call per container every 5 minutes, and a rotated secret reaches every warm
    # container within that time, without a deploy.
    secret_max_age_seconds: int = Field(300, alias="POWERTOOLS_PARAMETERS_MAX_AGE", ge=0)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Self:
        """The settings `environ` holds; ConfigurationError names every variable at fault."""
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as error:
            # Not chained: the one message says it all (and pydantic hides the values anyway).
            problems = "; ".join(_problem(item) for item in error.errors())
            raise ConfigurationError(f"invalid environment: {problems}") from None


class WebhookSettings(FunctionSettings):
    webhook_token_secret: str = Field(alias="WEBHOOK_TOKEN_SECRET", min_length=1)
    process_ttl_seconds: int = Field(604800, alias="PROCESS_TTL_SECONDS", ge=60)
    retry_window_seconds: int = Field(120, alias="RETRY_WINDOW_SECONDS", ge=0)
    # For a request without timeout_seconds; 0: no timeout.
    default_timeout_seconds: int = Field(0, alias="DEFAULT_TIMEOUT_SECONDS", ge=0)

    @field_validator("default_timeout_seconds")
    @classmethod
    def _ends_before_the_record(cls, value: int, info: ValidationInfo) -> int:
        # A wait must time out while its record still exists (PROCESS_TTL_SECONDS).
        ttl = info.data.get("process_ttl_seconds")
        if ttl is not None and value >= ttl:
            raise ValueError("must be less than PROCESS_TTL_SECONDS")
        return value


class TimeoutsSettings(FunctionSettings):
    completion_queue_url: str = Field(alias="COMPLETION_QUEUE_URL", pattern=URL_PATTERN)


class ResumeSettings(FunctionSettings):
    landbot_token_secret: str = Field(alias="LANDBOT_TOKEN_SECRET", min_length=1)
    landbot_api_url: str = Field(
        DEFAULT_LANDBOT_API_URL, alias="LANDBOT_API_URL", pattern=LANDBOT_API_URL_PATTERN
    )
    # Requests per second for the agent token, shared by every container; 0 turns it off.
    landbot_rate_limit: int = Field(10, alias="LANDBOT_RATE_LIMIT", ge=0)
    # The read timeout of one Landbot call.
    landbot_timeout_seconds: float = Field(
        10.0, alias="LANDBOT_TIMEOUT_SECONDS", ge=1, le=20, allow_inf_nan=False
    )
    # A jump whose answer never came back: "fail" the process, or "resend" the jump.
    unconfirmed_jumps: Literal["fail", "resend"] = Field("fail", alias="UNCONFIRMED_JUMPS")
    # While Landbot refuses the agent token: how long a container sends nothing, and a held
    # completion's first wait for its next delivery (doubling with each one after).
    landbot_auth_retry_seconds: int = Field(30, alias="LANDBOT_AUTH_RETRY_SECONDS", ge=1, le=300)
    # Where the completions come from: a record handed back is scheduled on it.
    completion_queue_url: str = Field(alias="COMPLETION_QUEUE_URL", min_length=1)


def _problem(item: ErrorDetails) -> str:
    variable = ".".join(str(part) for part in item["loc"])
    message = "must be set" if item["type"] == "missing" else item["msg"]
    return f"{variable}: {message}"
