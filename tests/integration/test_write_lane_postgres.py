"""The write lane on PostgreSQL: a connection per thread, and a connection cut by the server
(restart, idle timeout) replaced on the next call instead of failing it."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from mloop.metadata.sql.store import SqlMetadataStore


def _backend_pid(store: SqlMetadataStore) -> int:
    return store.lane.run(lambda tx: tx.fetch("SELECT pg_backend_pid()")[0][0])


def test_threads_use_their_own_backends(postgres_url: str) -> None:
    store = SqlMetadataStore.open(postgres_url)
    try:
        pids: dict[int, int] = {}
        barrier = threading.Barrier(2)

        def work(k: int) -> None:
            barrier.wait()
            pids[k] = _backend_pid(store)
            barrier.wait()

        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert pids[0] != pids[1]
    finally:
        store.close()


def test_a_connection_cut_by_the_server_is_replaced(postgres_url: str) -> None:
    store = SqlMetadataStore.open(postgres_url)
    admin = sa.create_engine(postgres_url)
    try:
        run = store.create_run("cut", leased=False)
        before = _backend_pid(store)
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
            conn.commit()
        store.log_params(run.id, {"a": 1})  # the dead connection is noticed and replaced
        assert _backend_pid(store) != before
        assert store.get_params(run.id) == {"a": "1"}
    finally:
        admin.dispose()
        store.close()
