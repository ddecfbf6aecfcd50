"""The management API under more calls than its pool takes: each refused at once as cfxstore.error.busy."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig

from cfxstore.management import Management
from cfxstore.management.api import procedures
from cfxstore.nonblocking import ServicePool
from cfxstore.router.management import ManagementComponent

ADMIN = SimpleNamespace(caller_authrole="admin")


def test_a_procedure_beyond_the_pool_s_threads_and_waiting_room_is_refused_as_busy(reactor_thread, tmp_path):
    pool = ServicePool(threads=1, max_waiting=0, name="management-test")
    gate = threading.Event()
    component = ManagementComponent(ComponentConfig("mgmt"))
    # What onJoin sets, with a pool of one thread and no waiting room.
    component._pool, component._prefix, component._admin_roles = pool, "cfxstore.mgmt.", frozenset({"admin"})
    with Management.open(str(tmp_path / "db")) as mgmt:
        role_list = component._wrap("role.list", procedures(mgmt)["role.list"])
        held = pool.submit(gate.wait, 30)
        try:
            with pytest.raises(ApplicationError) as refused:
                reactor_thread.call(lambda: role_list(_details=ADMIN))
            assert refused.value.error == "cfxstore.error.busy"
            assert "cfxstore.mgmt.role.list: the management-test pool is full" in refused.value.args[0]
        finally:
            gate.set()
        assert held.result(30) is True
        assert reactor_thread.call(lambda: role_list(_details=ADMIN)) == {"items": [], "next": None}
    pool.close()
