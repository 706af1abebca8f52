"""``physreason demo``: the whole engine on one built-in sample video, in under a minute.

The sample is generated on the spot by the generator at a fixed seed (no download): a rendered
video, its ground-truth annotation and its questions with answers. The engine then watches the
video (perception when it is installed, else the ground-truth annotation: ``--mode``), fits the
physics, simulates the future and the counterfactual worlds, answers every question and prints,
per question, its answer, whether it is right and the program trace. It writes, in ``--out``:

- ``annotated.mp4``: the video with tracks and ids, the predicted future dashed (and played on
  past the end of the video), and a counterfactual ghost (the scene without one object);
- ``trajectories.png``: observed against simulated trajectories, seen from above, with the
  position error over time;
- ``world.json``: the predicted world (observed window + 2 s), and ``scene.glb``: the 3D scene the
  engine believes in at the last observed frame; ``answers.json``: the answers (CLEVRER
  submission format).
"""

from __future__ import annotations

import time
from pathlib import Path

DEMO_SEED = 2024
"""Generator seed of the built-in sample."""
DEMO_INDEX = 1
"""Video index of the built-in sample (a scene with questions of all four types)."""


def _sample(out: Path, seed: int, index: int) -> Path:
    """Generate (or reuse) the sample video; returns the dataset folder."""
    from physreason.datasets.generator.generate import GenerateConfig, generate_video

    root = out / "sample"
    generate_video(index, GenerateConfig(root, 1, seed, start=index))
    return root


def _perception_available() -> bool:
    """Whether perception and its shipped weights are installed."""
    try:
        from physreason.perception.perceive import WEIGHTS_DIR
    except ImportError:
        return False
    return all((WEIGHTS_DIR / name).is_file() for name in ("detector.pt", "attributes.pt"))


def _ghost_object(worlds) -> int | None:  # (Worlds) -> object id
    """The object whose removal changes the most collisions of the observed window."""
    if worlds.counterfactuals is None or worlds.future is None:
        return None
    n_obs = worlds.observation.n_frames
    factual = {e.objects for e in worlds.future.observation.collisions if e.frame < n_obs}
    best, best_score = None, -1
    for outcome in worlds.counterfactuals.outcomes:
        pairs = {e.objects for e in outcome.events if e.kind == "collision" and e.frame < n_obs}
        remaining = {p for p in factual if outcome.removed not in p}
        score = len(remaining ^ pairs)
        if score > best_score:
            best, best_score = outcome.removed, score
    return best


def run_demo(out: Path, seed: int | None = None, index: int | None = None, mode: str = "auto",
             trace: bool = True, priors: str | None = None) -> int:
    """Run the demo (module docstring) into ``out``; returns the exit code. ``priors``: the physics
    fit's (see :class:`~physreason.pipeline.engine.Engine`)."""
    from physreason.datasets import files
    from physreason.datasets.layout import DatasetLayout
    from physreason.datasets.questions import read_questions, write_submission
    from physreason.datasets.video import read_video, write_video
    from physreason.errors import ConfigError
    from physreason.pipeline.draw import annotated_frames, trajectory_plot
    from physreason.pipeline.engine import Engine
    from physreason.pipeline.export import export_scene
    from physreason.reasoning.executor import ExecutionError, format_trace, run_question
    from physreason.reasoning.metrics import evaluate, format_table
    from physreason.reasoning.questions import parse_choice, parse_question

    seed = DEMO_SEED if seed is None else seed
    index = DEMO_INDEX if index is None else index
    if index < 0:
        raise ConfigError(f"--index must be >= 0, got {index}")
    engine = Engine(priors=priors)  # a bad priors file fails before any work
    t_start = time.perf_counter()
    print(f"1. sample: generating video {index} of seed {seed} (pybullet physics, MuJoCo rendering) ...", flush=True)
    root = _sample(out, seed, index)
    layout = DatasetLayout(root)
    video_path = layout.path("video", index)
    questions = read_questions(str(layout.path("question", index))).videos[0]
    t_sample = time.perf_counter() - t_start
    print(f"   {video_path} ({t_sample:.1f} s)")

    use_perception = mode == "perception" or (mode == "auto" and _perception_available())
    if use_perception:
        print("2. perception: detecting, tracking and lifting the objects of the video ...", flush=True)
        engine.observe(video_path, scene_index=index)
    else:
        why = "asked for" if mode == "oracle" else "perception weights are not installed"
        print(f"2. observation: the ground-truth annotation ({why}; oracle mode) ...", flush=True)
        engine.from_annotation(layout.path("annotation", index))
    obs = engine.observation
    assert obs is not None
    print(f"   {len(obs.objects)} objects: " + ", ".join(f"{o.id} {o.describe()}" for o in obs.objects))
    print(f"   {len(obs.collisions)} collisions, {sum(e.kind in ('in', 'out') for e in obs.events)} in/out events")

    print("3. physics: fitting mass, restitution, friction and initial states; simulating the future "
          "and one counterfactual world per object ...", flush=True)
    worlds = engine.fit()
    fit = worlds.fit
    assert fit is not None and worlds.future is not None
    for o, p, r in zip(obs.objects, fit.params.objects, fit.residuals):
        print(f"   {o.id} {o.describe():26s} mass {p.mass:5.2f}  restitution {p.restitution:4.2f}  "
              f"friction {p.friction:5.3f}  RMS error {r:.3f}")
    future = sorted({(e.frame, e.objects) for e in worlds.future.observation.collisions if e.frame >= obs.n_frames})
    names = {o.id: o.describe() for o in obs.objects}
    print("   predicted collisions after the video: " + (", ".join(
        f"{names[a]} + {names[b]} at frame {f}" for f, (a, b) in future) or "none"))

    print("4. reasoning: every question of the video, its answer and the program trace", flush=True)
    errors: list[str] = []
    answers = engine.answer_video(questions, on_error=lambda q, exc: errors.append(
        f"question {q.question_id if q else '-'}: {exc}"))
    world_plain = engine.reasoning_world(simulated=False)
    world_simulated = engine.reasoning_world(simulated=True) if engine.worlds is not None else world_plain
    by_id = {a.question_id: a for a in answers.answers}
    for q in questions.questions:
        a = by_id.get(q.question_id)
        print(f"\n[{q.question_id}] ({q.question_type}) {q.question}")
        if a is None:
            print("   no answer: the program could not run")
            continue
        world = world_simulated if q.question_type in ("predictive", "counterfactual") else world_plain
        if a.answer is not None:
            ok = a.answer == q.answer
            print(f"   answer: {a.answer}   {'RIGHT' if ok else f'WRONG (expected {q.answer})'}")
            if trace:
                try:
                    result = run_question(q.program or parse_question(q.question), None, world)[0]
                    print("   " + format_trace(result).replace("\n", "\n   "))
                except ExecutionError as exc:
                    print(f"   (cannot run: {exc}; answered by the soft executor)")
        else:
            predicted = dict(a.choices or ())
            results = None
            if trace:
                try:
                    results = run_question(q.program or parse_question(q.question),
                                           [c.program or parse_choice(c.choice) for c in q.choices or ()], world)
                except ExecutionError as exc:
                    print(f"   (cannot run: {exc}; answered by the soft executor)")
            for k, c in enumerate(q.choices or ()):
                ok = predicted.get(c.choice_id) == c.answer
                print(f"   {predicted.get(c.choice_id, '?'):<8} {c.choice}   "
                      f"{'RIGHT' if ok else f'WRONG (expected {c.answer})'}")
                if results is not None:
                    print("      " + format_trace(results[k]).replace("\n", "\n      "))
    metrics = evaluate([questions], [answers])

    print("\n5. pictures", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    write_submission(str(out / "answers.json"), (answers,))
    files.write_world(out / "world.json", worlds.future)
    ghost_id = _ghost_object(worlds)
    ghost = next((w for w in worlds.removed_worlds if w.removed == ghost_id), None)
    frames = read_video(video_path)
    write_video(out / "annotated.mp4", annotated_frames(frames, obs, worlds.future, ghost))
    trajectory_plot(obs, worlds.future).save(out / "trajectories.png")
    export_scene(out / "world.json", obs.n_frames - 1, out / "scene.glb")
    for name, what in (("annotated.mp4", "video with tracks, ids, predicted future (dashed), counterfactual ghost"
                        + (f" without the {names[ghost_id]}" if ghost_id is not None else "")),
                       ("trajectories.png", "observed vs simulated trajectories"),
                       ("world.json", "the predicted world (observed + 2 s)"),
                       ("scene.glb", f"the 3D scene at frame {obs.n_frames - 1}"),
                       ("answers.json", "the answers, CLEVRER submission format")):
        print(f"   {out / name}: {what}")
    for e in errors:
        print(f"note: {e}")
    print("\n" + format_table(metrics))
    t = engine.timings
    print(f"\ntime: sample {t_sample:.1f} s, observation {t.get('perception', 0.0):.1f} s, physics "
          f"{t.get('physics', 0.0):.1f} s, reasoning {t.get('reasoning', 0.0):.2f} s, total "
          f"{time.perf_counter() - t_start:.1f} s")
    return 0
