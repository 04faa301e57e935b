"""What the bots' Landbot Webhook blocks send to the local stack."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

# A bot, the block it waits at, and the demo's customer, as the README's examples name them.
BOT_ID = 1010178
NODE_ID = "Nkqgn6xkf"
CUSTOMER_ID = 298537154
# The block a wait continues at when it times out, and the customer who never pays.
TIMEOUT_NODE_ID = "Ntimeout7x"
SECOND_CUSTOMER_ID = 298537155


def create_processes(
    webhook_url: str,
    webhook_token: str,
    customers: list[int],
    *,
    threads: int = 8,
    extra: dict[str, Any] | None = None,
) -> dict[str, int]:
    """POST /processes for each customer (bot BOT_ID, block NODE_ID, plus the `extra` keys,
    e.g. a timeout), `threads` at a time; returns process id -> customer id. Raises on any
    answer but 201."""
    session = requests.Session()

    def create(customer: int) -> tuple[str, int]:
        answer = session.post(
            webhook_url,
            json={"bot_id": BOT_ID, "node_id": NODE_ID, "customer_id": customer, **(extra or {})},
            headers={"X-Webhook-Token": webhook_token},
            timeout=30,
        )
        if answer.status_code != 201:
            raise RuntimeError(f"POST /processes answered {answer.status_code}: {answer.text}")
        return str(answer.json()["process_id"]), customer

    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(create, customers))


def cancel_processes(webhook_url: str, webhook_token: str, process_ids: list[str]) -> None:
    """POST /processes/{id}/cancel for each, as a bot whose customer typed "cancel" does.
    Raises on any answer but 200."""
    session = requests.Session()
    for process_id in process_ids:
        answer = session.post(
            f"{webhook_url}/{process_id}/cancel",
            headers={"X-Webhook-Token": webhook_token},
            timeout=30,
        )
        answer.raise_for_status()
