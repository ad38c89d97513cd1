"""The Vonage sandbox as ``ratatosk demo`` uses it (hook ``ratatosk_register_demo_sandboxes``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from attrs import frozen

from ._cli import dsn_for
from ._numbers import DELIVERED_TO
from ._sandbox import VonageSandbox

__all__ = ["DEMO_FROM", "VonageDemoSandbox", "demo_sandbox"]

DEMO_FROM = "+15551230000"


@frozen
class VonageDemoSandbox:
    """A running sandbox, the DSN that reaches it and the demo's numbers (see docs/plugins.md)."""

    dsn: str
    sender: str
    recipient: str
    sandbox: VonageSandbox

    def send_inbound(self, text: str) -> int | None:
        """The recipient answers: a signed Messages API inbound webhook to the demo's URL."""
        deliveries = self.sandbox.send_inbound(self.recipient, self.sender, text)
        return deliveries[-1].status_code


@contextlib.contextmanager
def demo_sandbox(hooks_url: str, step_delay: float = 0.15) -> Iterator[VonageDemoSandbox]:
    """A realtime Vonage sandbox whose status and inbound webhooks go to ``hooks_url`` (as a
    Vonage application's webhook URLs would)."""
    with VonageSandbox(progression="realtime", step_delay=step_delay,
                       status_webhook_url=hooks_url, inbound_webhook_url=hooks_url) as sandbox:
        yield VonageDemoSandbox(dsn_for(sandbox), DEMO_FROM, "+" + DELIVERED_TO, sandbox)
