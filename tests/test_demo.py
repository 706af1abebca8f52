"""The README's main job: ``physreason demo`` runs the whole engine (perception mode) on its
built-in sample and gets every question right, writing its pictures and answers."""

from __future__ import annotations

from pathlib import Path

from cli_run import run


def test_demo_answers_every_question_and_writes_its_files(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run("demo", "--out", str(out), "--no-trace")
    assert result.returncode == 0, result.stderr
    summary = next(line for line in result.stdout.splitlines() if line.startswith("overall per question"))
    assert summary.split()[-1] == "100.0", result.stdout
    assert "perception" in result.stdout and "WRONG" not in result.stdout
    for name in ("annotated.mp4", "trajectories.png", "world.json", "scene.glb", "answers.json"):
        assert (out / name).stat().st_size > 0, name
