"""The Docker-free local stack: moto, the resources of template.yaml, a local HTTP API, the
queue poller, the functions in execution environments of their own, and a Landbot simulator.

`python -m devstack run|demo|chaos|send-event|generate`. What tests and benchmarks use is
exported here; the rest is the stack's own.
"""

from devstack.artifacts import (
    FUNCTIONS,
    LAYER,
    MODULE_LIST,
    build,
    cold_start_modules,
    lambda_environment,
    loaded_modules,
    pinned_requirements,
    runtime_dir,
)
from devstack.aws import CREDENTIALS, REGION, STACK_NAME, Resources, bus_entry, put_events
from devstack.bots import BOT_ID, CUSTOMER_ID, NODE_ID, create_processes
from devstack.chaos import CEILING_RESUMES_PER_SECOND
from devstack.lambdas import (
    ContainerPool,
    ExecutionEnvironment,
    InProcessAws,
    LambdaContext,
    local_function,
    local_resources,
)
from devstack.landbot_simulator import Call, Faults, LandbotSimulator
from devstack.samples import SAMPLE_PROCESS_ID, STRIPE_SAMPLES, load_sample, sqs_event, stripe_event
from devstack.stack import DEFAULT_PORTS, LocalStack, Ports
from devstack.template import ROOT, load_template

__all__ = [
    "BOT_ID",
    "CEILING_RESUMES_PER_SECOND",
    "CREDENTIALS",
    "CUSTOMER_ID",
    "DEFAULT_PORTS",
    "FUNCTIONS",
    "LAYER",
    "MODULE_LIST",
    "NODE_ID",
    "REGION",
    "ROOT",
    "SAMPLE_PROCESS_ID",
    "STACK_NAME",
    "STRIPE_SAMPLES",
    "Call",
    "ContainerPool",
    "ExecutionEnvironment",
    "Faults",
    "InProcessAws",
    "LambdaContext",
    "LandbotSimulator",
    "LocalStack",
    "Ports",
    "Resources",
    "build",
    "bus_entry",
    "cold_start_modules",
    "create_processes",
    "lambda_environment",
    "load_sample",
    "load_template",
    "loaded_modules",
    "local_function",
    "local_resources",
    "pinned_requirements",
    "put_events",
    "runtime_dir",
    "sqs_event",
    "stripe_event",
]
