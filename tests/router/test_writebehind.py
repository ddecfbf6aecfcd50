"""The bounded write-behind buffer of the realm store."""

from __future__ import annotations

from twisted.internet.defer import Deferred

from cfxstore.router.writebehind import WriteBehind
from test_cookiebackend import FakeReactor


def make(max_items=100):
    reactor, written, handed = FakeReactor(), [], []

    def to_thread(fn, *args):
        handed.append((fn, args))
        return Deferred()

    buffer = WriteBehind(written.append, delay=0.05, max_items=max_items, reactor=reactor, defer_to_thread=to_thread)
    return buffer, reactor, written, handed


def test_items_are_written_in_one_batch_by_the_thread():
    buffer, reactor, written, handed = make()
    for i in range(5):
        buffer.append(i)
    reactor.run()
    fn, args = handed.pop()
    fn(*args)
    assert written == [[0, 1, 2, 3, 4]]


def test_flush_writes_a_batch_the_thread_has_not_written_yet_exactly_once():
    buffer, reactor, written, handed = make()
    buffer.append("a")
    reactor.run()
    buffer.append("b")
    buffer.flush()
    assert written == [["a"], ["b"]]
    fn, args = handed.pop()
    fn(*args)
    assert written == [["a"], ["b"]]


def test_a_full_buffer_is_written_at_once():
    buffer, reactor, written, handed = make(max_items=3)
    for i in range(3):
        buffer.append(i)
    assert written == [[0, 1, 2]]
    assert len(buffer) == 0
