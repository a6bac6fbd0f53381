"""Asynchronous (Event) invocations: a durable queue, Lambda's retry policy, dead letters and destinations.

Assembled as: EventDispatcher(EventQueue(state_dir / "events.sqlite3"), deliver, config_for, Sinks(state_dir))
"""

from lambda_emu.async_invoke.dispatcher import EventDispatcher, Pacing
from lambda_emu.async_invoke.queue import EventQueue, QueuedEvent
from lambda_emu.async_invoke.retry import RetryDelays
from lambda_emu.async_invoke.sinks import Sinks, read_dead_letters, read_destination_records

QUEUE_FILE = "events.sqlite3"

__all__ = [
    "QUEUE_FILE",
    "EventDispatcher",
    "EventQueue",
    "Pacing",
    "QueuedEvent",
    "RetryDelays",
    "Sinks",
    "read_dead_letters",
    "read_destination_records",
]
