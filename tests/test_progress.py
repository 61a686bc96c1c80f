"""The progress bar counts every item, whichever thread did it."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from staticpipe import progress


def test_a_bar_advanced_from_many_threads_counts_every_item():
    items = 20_000
    bar = tqdm(total=items, file=io.StringIO(), mininterval=0)
    work = progress.counting(lambda item: item * 2, bar)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(items)))
    assert bar.n == items
    assert results == [item * 2 for item in range(items)]
    bar.close()


def test_the_shown_bar_counts_every_update_from_link_threads_and_the_main_thread(monkeypatch):
    """progress.bar as a run shows it (stderr a terminal), advanced as post-processing
    advances it: ``update`` from several threads at once, and through ``counting``."""
    import os
    import sys
    import threading

    leader, follower = os.openpty()
    terminal = os.fdopen(follower, "w")

    def read_all() -> None:  # what the bar draws, until the terminal is closed
        try:
            while os.read(leader, 65536):
                pass
        except OSError:
            pass

    drain = threading.Thread(target=read_all, daemon=True)
    monkeypatch.setattr(sys, "__stderr__", terminal)
    try:
        drain.start()
        items = 10_000
        shown = progress.bar(items, "post-process", verbosity=1)
        assert isinstance(shown, progress.Bar)
        shown.shown.mininterval = 0  # redraw on every update: the most shared work
        counted = progress.counting(lambda item: item, shown)

        def advance(start: int) -> None:
            for item in range(start, items, 8):
                if item % 2:
                    shown.update(1)
                else:
                    counted(item)

        threads = [threading.Thread(target=advance, args=(start,)) for start in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert shown.n == items
        shown.close()
    finally:
        terminal.close()
        drain.join(timeout=5)
        os.close(leader)
