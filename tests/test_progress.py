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
