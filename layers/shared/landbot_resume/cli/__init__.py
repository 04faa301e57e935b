"""The operator's command line, `landbot-resume` (a console script, see pyproject.toml).

It runs where the operator is, with boto3 and the layer's store and models only: it is not
part of the Lambda layer (layers/shared/Makefile leaves it out).
"""

from landbot_resume.cli.commands import main

__all__ = ["main"]
