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


def task_bench():
    """Benchmark staticpipe against Django's collectstatic (see benchmarks/README.md)."""

    def run(quick):
        sys.path.insert(0, "benchmarks")
        import bench

        return bench.main(["--quick"] if quick else []) in (0, None)

    return {
        "actions": [run],
        "params": [
            {
                "name": "quick",
                "long": "quick",
                "type": bool,
                "default": False,
                "help": "Fewer repetitions, no 100k tree.",
            }
        ],
        "uptodate": [False],
        "verbosity": 2,
    }


def task_bench_publish():
    """Benchmark `doit publish` against django-storages' collectstatic on S3 (moto's server)."""

    def run(quick):
        sys.path.insert(0, "benchmarks")
        import publish_bench

        return publish_bench.main(["--quick"] if quick else []) in (0, None)

    return {
        "actions": [run],
        "params": [
            {
                "name": "quick",
                "long": "quick",
                "type": bool,
                "default": False,
                "help": "A 101-file generated tree instead of the real trees; no RESULTS.md.",
            }
        ],
        "uptodate": [False],
        "verbosity": 2,
    }
