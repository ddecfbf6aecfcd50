"""Random sequences of creates and deletes never leave a reference dangling, and a refused
delete changes nothing (hypothesis state machine over a real LMDB database)."""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cfxstore.database import open_database
from cfxstore.management import InUse, Management
from cfxstore.management.kinds import KINDS
from factories import make

PARENTS = ["user", "organization", "mrealm", "node", "arealm", "role", "routercluster", "webcluster"]
CHILDREN = [(name, ref) for name, kind in KINDS.items() if not kind.internal for ref in kind.refs]


class Integrity(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        self.db = open_database(f"{self.dir}/db", sync=False)
        self.mgmt = Management(self.db)

    def teardown(self) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _records(self, kind: str) -> list:
        return self.mgmt.collection(kind).list(limit=1000).items

    @rule(kind=st.sampled_from(PARENTS))
    def create_parent(self, kind):
        make(self.mgmt, kind)

    @rule(child=st.sampled_from(CHILDREN), pick=st.integers(0, 50))
    def create_child(self, child, pick):
        kind, ref = child
        parents = self._records(ref.target)
        if parents:
            make(self.mgmt, kind, **{ref.field: parents[pick % len(parents)].oid})

    @rule(kind=st.sampled_from(PARENTS + ["permission", "principal", "arealm_role"]), pick=st.integers(0, 50))
    def delete(self, kind, pick):
        records = self._records(kind)
        if not records:
            return
        coll = self.mgmt.collection(kind)
        before = self._snapshot()
        try:
            coll.delete(coll.kind.key_of(records[pick % len(records)]))
        except InUse:
            assert self._snapshot() == before

    def _snapshot(self) -> dict:
        return {name: sorted(repr(r) for r in c.list(limit=1000).items) for name, c in
                self.mgmt.collections().items()}

    @invariant()
    def no_dangling_references(self):
        for name, coll in self.mgmt.collections().items():
            for record in coll.list(limit=1000).items:
                for ref in coll.kind.refs:
                    value = getattr(record, ref.field)
                    assert value is None or self.mgmt.collection(ref.target).find(value) is not None, \
                        f"{name}.{ref.field} dangles"


TestIntegrity = Integrity.TestCase
TestIntegrity.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
