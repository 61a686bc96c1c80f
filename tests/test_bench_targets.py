"""The benchmarks fail (main returns 1, as ``doit bench*`` then fails) when a
target is missed, and say which: the target checks on small results dicts, and
compress_bench's main with its measuring stubbed out (no benchmark is run)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench  # noqa: E402
import compress_bench  # noqa: E402


def compress_result(sp_cold: float, css_edit: float = 0.5) -> compress_bench.Result:
    tree = bench.Tree("quick", [], Path("x.png"), Path("a.css"), files=10)
    seconds = {
        ("wn_cli", "full"): 10.0,
        ("sp", "cold"): sp_cold,
        ("sp", "warm"): 2.0,
        ("sp", "css"): css_edit,
        ("wn_storage", "full"): 12.0,
    }
    samples = {key: bench.Sample(value, 50.0) for key, value in seconds.items()}
    return compress_bench.Result(tree, samples=samples)


def test_compress_targets_met_and_missed():
    assert compress_bench.missed_targets(compress_result(sp_cold=4.0)) == []
    missed = compress_bench.missed_targets(compress_result(sp_cold=6.0, css_edit=3.0))
    assert len(missed) == 2
    assert missed[0].startswith("full build (cold")
    assert missed[1].startswith("one edited CSS file ≤ 2.0 s")
    problems = compress_result(sp_cold=4.0)
    problems.problems.append("a no-op rewrote a compressed file")
    assert compress_bench.missed_targets(problems)[0].startswith("checks:")


def bench_result(noop_ratio: float) -> bench.TreeResult:
    tree = bench.Tree("real trees", [], Path("x.png"), Path("a.css"), files=100)
    result = bench.TreeResult(tree, floor=[1.0])
    for step in bench.STEPS:
        result.add("Django", step, bench.Sample(10.0, 100.0))
        ratio = noop_ratio if step == "noop" else 0.01
        result.add("staticpipe", step, bench.Sample(10.0 * ratio, 50.0))
    return result


def test_bench_targets_met_and_missed():
    assert bench.missed_targets([bench_result(noop_ratio=0.02)]) == []
    missed = bench.missed_targets([bench_result(noop_ratio=0.5)])
    assert len(missed) == 1 and missed[0].startswith("no-op re-run ≤ 0.03 × Django")


@pytest.mark.parametrize(("cold", "code"), [(4.0, 0), (6.0, 1)])
def test_compress_bench_main_returns_1_on_a_missed_target(
    tmp_path, monkeypatch, capsys, cold, code
):
    result = compress_result(sp_cold=cold)
    monkeypatch.setattr(compress_bench, "byte_compile", lambda: None)
    monkeypatch.setattr(compress_bench, "quick_tree", lambda work: result.tree)
    monkeypatch.setattr(compress_bench, "bench", lambda tree, work, trash: result)
    monkeypatch.setattr(compress_bench, "report", lambda result, argv: "(report)")
    argv = ["--quick", "--no-write", "--workdir", str(tmp_path)]
    assert compress_bench.main(argv) == code
    err = capsys.readouterr().err
    assert ("target missed: full build (cold" in err) == bool(code)
