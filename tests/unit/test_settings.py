"""The functions' settings: defaults, bounds, and a refusal that names the variable at fault
without ever repeating its value."""

from __future__ import annotations

import traceback

import pytest

from landbot_resume.settings import (
    ConfigurationError,
    ResumeSettings,
    TimeoutsSettings,
    WebhookSettings,
)

WEBHOOK_ENV = {"PROCESSES_TABLE": "processes", "WEBHOOK_TOKEN_SECRET": "webhook-token"}
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/completions"
RESUME_ENV = {
    "PROCESSES_TABLE": "processes",
    "LANDBOT_TOKEN_SECRET": "landbot-token",
    "COMPLETION_QUEUE_URL": QUEUE_URL,
}
# A value that must never show up in an error (it could be a secret).
SECRET_LIKE = "s3cr3t-Value-9f2c"


def test_the_webhook_defaults() -> None:
    settings = WebhookSettings.from_environ(WEBHOOK_ENV)
    assert settings.processes_table == "processes"
    assert settings.webhook_token_secret == "webhook-token"
    assert (settings.process_ttl_seconds, settings.retry_window_seconds) == (604800, 120)
    assert settings.secret_max_age_seconds == 300


def test_the_resume_defaults() -> None:
    settings = ResumeSettings.from_environ(RESUME_ENV)
    assert settings.landbot_token_secret == "landbot-token"
    assert settings.landbot_api_url == "https://api.landbot.io/v1/"
    assert (settings.landbot_rate_limit, settings.landbot_timeout_seconds) == (10, 10.0)
    assert settings.secret_max_age_seconds == 300


def test_values_are_read_from_their_variables_and_the_rest_is_ignored() -> None:
    settings = ResumeSettings.from_environ(
        {
            **RESUME_ENV,
            "LANDBOT_API_URL": "http://127.0.0.1:8081/v1/",
            "LANDBOT_RATE_LIMIT": "0",
            "LANDBOT_TIMEOUT_SECONDS": "2.5",
            "POWERTOOLS_PARAMETERS_MAX_AGE": "1",
            "PROCESS_TTL_SECONDS": "not the resume function's",
            "PATH": "/usr/bin",
        }
    )
    assert settings.landbot_api_url == "http://127.0.0.1:8081/v1/"
    assert (settings.landbot_rate_limit, settings.landbot_timeout_seconds) == (0, 2.5)
    assert settings.secret_max_age_seconds == 1


@pytest.mark.parametrize(
    ("settings", "variable", "value"),
    [
        (ResumeSettings, "LANDBOT_RATE_LIMIT", "0"),
        (ResumeSettings, "LANDBOT_TIMEOUT_SECONDS", "1"),
        (ResumeSettings, "LANDBOT_TIMEOUT_SECONDS", "20"),
        (WebhookSettings, "PROCESS_TTL_SECONDS", "60"),
        (WebhookSettings, "RETRY_WINDOW_SECONDS", "0"),
        (WebhookSettings, "POWERTOOLS_PARAMETERS_MAX_AGE", "0"),
    ],
)
def test_the_bounds_themselves_are_allowed(
    settings: type[WebhookSettings | ResumeSettings], variable: str, value: str
) -> None:
    env = WEBHOOK_ENV if settings is WebhookSettings else RESUME_ENV
    settings.from_environ({**env, variable: value})


@pytest.mark.parametrize(
    ("settings", "variable", "value", "problem"),
    [
        (ResumeSettings, "LANDBOT_RATE_LIMIT", "-1", "greater than or equal to 0"),
        (ResumeSettings, "LANDBOT_RATE_LIMIT", "ten", "valid integer"),
        (ResumeSettings, "LANDBOT_TIMEOUT_SECONDS", "0.5", "greater than or equal to 1"),
        (ResumeSettings, "LANDBOT_TIMEOUT_SECONDS", "21", "less than or equal to 20"),
        (ResumeSettings, "LANDBOT_TIMEOUT_SECONDS", "nan", "finite number"),
        (ResumeSettings, "LANDBOT_API_URL", "api.landbot.io", "should match pattern"),
        (ResumeSettings, "LANDBOT_API_URL", "", "should match pattern"),
        (ResumeSettings, "LANDBOT_TOKEN_SECRET", "", "at least 1 character"),
        (WebhookSettings, "PROCESS_TTL_SECONDS", "59", "greater than or equal to 60"),
        (WebhookSettings, "RETRY_WINDOW_SECONDS", "-1", "greater than or equal to 0"),
        (WebhookSettings, "POWERTOOLS_PARAMETERS_MAX_AGE", "-5", "greater than or equal to 0"),
        (WebhookSettings, "PROCESSES_TABLE", "a/b", "should match pattern"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(
    settings: type[WebhookSettings | ResumeSettings], variable: str, value: str, problem: str
) -> None:
    env = WEBHOOK_ENV if settings is WebhookSettings else RESUME_ENV
    with pytest.raises(ConfigurationError) as refused:
        settings.from_environ({**env, variable: value})
    message = str(refused.value)
    assert f"{variable}: " in message and problem in message


@pytest.mark.parametrize(
    ("settings", "variable", "value"),
    [
        (ResumeSettings, "LANDBOT_API_URL", f"token {SECRET_LIKE}"),
        (ResumeSettings, "LANDBOT_RATE_LIMIT", SECRET_LIKE),
        (ResumeSettings, "LANDBOT_TIMEOUT_SECONDS", SECRET_LIKE),
        (WebhookSettings, "PROCESS_TTL_SECONDS", SECRET_LIKE),
        (WebhookSettings, "PROCESSES_TABLE", f"{SECRET_LIKE}!"),
    ],
)
def test_a_refusal_never_repeats_the_value(
    settings: type[WebhookSettings | ResumeSettings], variable: str, value: str
) -> None:
    env = WEBHOOK_ENV if settings is WebhookSettings else RESUME_ENV
    with pytest.raises(ConfigurationError) as refused:
        settings.from_environ({**env, variable: value})
    assert variable in str(refused.value)
    # What a failed init logs: the traceback, with whatever it chains.
    assert SECRET_LIKE not in "".join(traceback.format_exception(refused.value))


def test_every_variable_at_fault_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as refused:
        ResumeSettings.from_environ({"LANDBOT_RATE_LIMIT": "-1", "LANDBOT_TIMEOUT_SECONDS": "5"})
    message = str(refused.value)
    assert "PROCESSES_TABLE: must be set" in message
    assert "LANDBOT_TOKEN_SECRET: must be set" in message
    assert "LANDBOT_RATE_LIMIT: " in message
    assert "LANDBOT_TIMEOUT_SECONDS" not in message  # it is fine


def test_settings_cannot_change_once_read() -> None:
    settings = WebhookSettings.from_environ(WEBHOOK_ENV)
    with pytest.raises(ValueError, match="frozen"):
        settings.retry_window_seconds = 0


def test_a_default_timeout_must_end_before_the_process_record() -> None:
    assert WebhookSettings.from_environ(WEBHOOK_ENV).default_timeout_seconds == 0
    settings = WebhookSettings.from_environ({**WEBHOOK_ENV, "DEFAULT_TIMEOUT_SECONDS": "3599"})
    assert settings.default_timeout_seconds == 3599
    with pytest.raises(ConfigurationError) as refused:
        WebhookSettings.from_environ(
            {**WEBHOOK_ENV, "PROCESS_TTL_SECONDS": "3600", "DEFAULT_TIMEOUT_SECONDS": "3600"}
        )
    assert "DEFAULT_TIMEOUT_SECONDS: " in str(refused.value)
    assert "less than PROCESS_TTL_SECONDS" in str(refused.value)


def test_the_timeouts_function_needs_the_completion_queue() -> None:
    env = {"PROCESSES_TABLE": "processes"}
    with pytest.raises(ConfigurationError, match="COMPLETION_QUEUE_URL: must be set"):
        TimeoutsSettings.from_environ(env)
    queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/completions"
    settings = TimeoutsSettings.from_environ({**env, "COMPLETION_QUEUE_URL": queue})
    assert settings.completion_queue_url == queue
