"""Run the same order action from several threads at one moment (stores may differ: replicas)."""
from __future__ import annotations

import threading

from shopqa.ordering.order_records import OrderError


def cancel_at_once(stores: list, order_id: str, n: int = 4) -> list[str]:
    """``n`` threads cancel ``order_id`` together, thread i through ``stores[i % len(stores)]``;
    each result is the order's new status or the OrderError code."""
    results, barrier = [], threading.Barrier(n)

    def cancel(i: int) -> None:
        barrier.wait()
        try:
            results.append(stores[i % len(stores)].cancel(f"s{i}", order_id).status)
        except OrderError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=cancel, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results
