"""The repository's own tasks.

``doit collect`` (and findstatic, watch, serve) work on sample_project: they
are staticpipe's tasks imported with a configuration given in Python, which is
how an existing dodo.py uses staticpipe. The rest are the project's dev tasks.
"""

import sys

from staticpipe.tasks import DOIT_CONFIG, make_tasks  # noqa: F401

globals().update(make_tasks("sample_project/pyproject.toml"))


def task_test():
    """Run the whole test suite, slow tests included (what CI runs)."""
    return {"actions": [f"{sys.executable} -m pytest --runslow"], "verbosity": 2}


def task_lint():
    """ruff check and ruff format --check."""
    return {
        "actions": [
            f"{sys.executable} -m ruff check .",
            f"{sys.executable} -m ruff format --check .",
        ],
        "verbosity": 2,
    }


def _benchmark(module: str, quick_help: str) -> dict:
    """A task running ``benchmarks/<module>.py`` (its ``main``), with ``--quick``."""

    def run(quick):
        sys.path.insert(0, "benchmarks")
        bench = __import__(module)
        return bench.main(["--quick"] if quick else []) in (0, None)

    return {
        "actions": [run],
        "params": [
            {"name": "quick", "long": "quick", "type": bool, "default": False, "help": quick_help}
        ],
        "uptodate": [False],
        "verbosity": 2,
    }


def task_bench():
    """Benchmark staticpipe against Django's collectstatic (see benchmarks/README.md)."""
    return _benchmark("bench", "Fewer repetitions, no 100k tree.")


def task_bench_publish():
    """Benchmark `doit publish` against django-storages' collectstatic on S3 (moto's server)."""
    return _benchmark(
        "publish_bench", "A 101-file generated tree instead of the real trees; no RESULTS.md."
    )


def task_bench_compress():
    """Benchmark `compress = ["gzip", "br"]` against WhiteNoise's compress command and storage."""
    return _benchmark(
        "compress_bench", "Django's admin files only instead of the real trees; no RESULTS.md."
    )
