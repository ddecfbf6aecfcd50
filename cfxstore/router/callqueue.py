"""Calls queued while every callee of a registration is at its concurrency limit.

A queued call holds live session objects, so the queue lives in memory, per
router worker, like Crossbar's memory store. Without "call-queue" rules every
procedure may queue (as in the memory store); with rules, only matching
procedures do, each up to its limit.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from crossbar.router.realmstore import QueuedCall

from cfxstore.realmstore.rules import UriRule, uri_matches


class CallQueue:
    def __init__(self, rules: tuple[UriRule, ...] | None, default_limit: int) -> None:
        self._rules = rules
        self._default_limit = default_limit
        self._queues: dict[int, deque[QueuedCall]] = {}

    def _limit(self, procedure: str) -> int | None:
        if self._rules is None:
            return self._default_limit
        for rule in self._rules:
            if uri_matches(procedure, rule.uri, rule.match):
                return rule.limit or self._default_limit
        return None

    def maybe_queue(self, session: Any, call: Any, registration: Any, authorization: Any) -> bool:
        """Queue the call if its procedure may queue and the queue has room."""
        limit = self._limit(call.procedure)
        if limit is None:
            return False
        queue = self._queues.setdefault(registration.id, deque())
        if len(queue) >= limit:
            return False
        queue.append(QueuedCall(session, call, registration, authorization))
        return True

    def peek(self, registration: Any) -> QueuedCall | None:
        queue = self._queues.get(registration.id)
        return queue[0] if queue else None

    def pop(self, registration: Any) -> QueuedCall | None:
        queue = self._queues.get(registration.id)
        if not queue:
            return None
        call = queue.popleft()
        if not queue:
            del self._queues[registration.id]
        return call
