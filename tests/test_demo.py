"""`make demo` end to end, shortened: every frame labelled and the breakup fires one capture trigger."""
import re
import subprocess
import sys


def test_demo_runs_the_whole_chain(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "auroral.edge.cli", "demo", "--out", str(out), "--frames", "16", "--fps", "10"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = re.search(r"(\d+)/(\d+) frames labelled, (\d+) alerts, (\d+) high-rate capture trigger", result.stdout)
    assert summary, result.stdout[-2000:]
    labelled, total, alerts, triggers = map(int, summary.groups())
    assert labelled == total == 16
    assert triggers == 1 and alerts >= 1
    assert "breakup_onset" in result.stdout
    for produced in ("bundle/manifest.json", "run-svm/metrics.json", "run-svm/report.md", "night-report/keogram.png",
                     "night-report/onsets.csv", "night-report/onsets.parquet", "night-report/summary.md",
                     "night-report/summary.png"):
        assert (out / produced).is_file(), produced
    assert "$ auroral night " in result.stdout
    onsets = (out / "night-report" / "onsets.csv").read_text().splitlines()
    assert len(onsets) == 2 and onsets[1].startswith("KIR,"), onsets  # the header and the replayed breakup
