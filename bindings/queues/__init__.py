"""Cloudflare Queues: producers (``env.QUEUE.send``) and consumers (``Default.queue``).

``plugin`` reads the config; ``producer`` holds the binding with Cloudflare's limits and
messages; ``consumer`` batches, delivers, retries and dead-letters; ``batch`` is what a handler
receives; ``backend`` is the storage contract, kept by ``sqlite`` (default) and
``redis_streams``; ``cli`` adds ``python -m bindings queues ...``.
"""

from __future__ import annotations

from bindings.queues.batch import Message, MessageBatch
from bindings.queues.plugin import QueuesPlugin
from bindings.queues.producer import Queue, QueueSendError

__all__ = ["Message", "MessageBatch", "Queue", "QueueSendError", "QueuesPlugin"]
