"""Evaluating the engine on a CLEVRER-layout folder (ours or the real CLEVRER).

For every video that has questions, the engine builds the observation (``oracle``: the
ground-truth annotation, ``perception``: the video), fits the physics when the video has
predictive or counterfactual questions, answers every question, and the answers are scored
with CLEVRER's metrics (:mod:`physreason.reasoning.metrics`). The ground-truth future and
counterfactual files are never read: oracle mode replaces perception only, the future and the
counterfactual worlds are always the fitted physics' own.

Outputs, for ``--out RESULTS.json``:

- ``RESULTS.json``: the answers in CLEVRER's submission format;
- ``RESULTS.report.json``: metrics, timings, failures;
- ``RESULTS.videos/video_XXXXX.json``: one result per video, written atomically as soon as the
  video is done; a re-run reuses them (same mode, same questions), so an interrupted
  evaluation resumes where it stopped.

Questions are looked for in this order: ``questions`` given explicitly; per-video question files
(``question_XXXXX.json``) under the folder; ``questions.json`` at its root; CLEVRER's
``questions/<split>.json`` or ``<split>.json``.
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from physreason.datasets.fileio import read_json, write_json
from physreason.datasets.questions import Answer, VideoAnswers, VideoQuestions
from physreason.datasets.vocab import N_FUTURE_FRAMES
from physreason.errors import ConfigError, FormatError, PhysreasonError

MODES: tuple[str, ...] = ("oracle", "perception")
SOURCE_KIND = {"oracle": "annotation", "perception": "video"}
"""The file kind each mode observes a video from."""
RESULT_VERSION = 2
"""Version of the per-video result files; results of another version are recomputed."""


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate: the videos under ``root`` with questions of ``split`` (or the file
    ``questions``), observed in ``mode``; at most ``limit`` videos (in index order).
    ``soft_fallback`` and ``priors``: see :class:`~physreason.pipeline.engine.Engine`."""

    root: Path
    mode: str = "perception"
    split: str = "validation"
    questions: Path | None = None
    workers: int = 1
    limit: int | None = None
    weights: str | None = None
    n_future: int = N_FUTURE_FRAMES
    concepts: str | None = None
    soft_fallback: bool = True
    priors: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got '{self.mode}'")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {self.limit}")


@dataclass(frozen=True)
class VideoJob:
    """One video's work, picklable: where its observation comes from, its questions, and where
    its result goes. ``threads``: CPU threads its process may use (0: leave the defaults)."""

    index: int
    source: str
    mode: str
    questions: VideoQuestions
    result_path: str
    weights: str | None = None
    n_future: int = N_FUTURE_FRAMES
    threads: int = 0
    concepts: str | None = None
    soft_fallback: bool = True
    priors: str | None = None

    def perception(self) -> dict[str, str | None] | None:
        """What perception ran with (None in oracle mode): a stored result is reused only if equal."""
        return None if self.mode == "oracle" else {"weights": self.weights, "concepts": self.concepts}


@dataclass
class EvalReport:
    """The outcome of an evaluation: metrics, per-video results and where things were written."""

    config: EvalConfig
    metrics: Any
    results: list[dict]
    submission: tuple[VideoAnswers, ...]
    missing_sources: list[int] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0

    def timing(self) -> dict[str, float]:
        """Mean seconds per video of each stage and in total (videos computed in this run or before)."""
        rows = [r["timings"] for r in self.results if r.get("timings")]
        if not rows:
            return {}
        keys = sorted({k for r in rows for k in r})
        out = {f"{k}_mean_s": statistics.fmean(r.get(k, 0.0) for r in rows) for k in keys}
        totals = [r.get("total", 0.0) for r in rows]
        out["total_median_s"] = statistics.median(totals)
        out["total_max_s"] = max(totals)
        return out

    def to_json(self) -> dict:
        failures = [{"scene_index": r["scene_index"], "error": r["error"]} for r in self.results if r.get("error")]
        question_errors = sum(len(r.get("question_errors", ())) for r in self.results)
        quality: dict[str, int] = {}
        for r in self.results:
            if r.get("fit_quality"):
                quality[r["fit_quality"]] = quality.get(r["fit_quality"], 0) + 1
        return {"data_dir": str(self.config.root), "mode": self.config.mode, "split": self.config.split,
                "videos": len(self.results), "videos_without_source": self.missing_sources,
                "metrics": self.metrics.to_json(), "timing": self.timing(), "wall_s": self.wall_s,
                "fit_quality": quality, "failures": failures, "question_errors": question_errors,
                "outputs": self.paths}

    def table(self) -> str:
        """CLEVRER's table plus timing and failure lines."""
        from physreason.reasoning.metrics import format_table

        lines = [format_table(self.metrics)]
        t = self.timing()
        if t:
            stages = "  ".join(f"{k[:-7]} {v:.2f}" for k, v in t.items() if k.endswith("_mean_s") and k != "total_mean_s")
            lines.append(f"seconds per video: mean {t['total_mean_s']:.2f}, median {t['total_median_s']:.2f}, "
                         f"max {t['total_max_s']:.2f} ({stages})")
        failed = sum(1 for r in self.results if r.get("error"))
        errors = sum(len(r.get("question_errors", ())) for r in self.results)
        then = "answered by the soft executor" if self.config.soft_fallback else "left unanswered"
        lines.append(f"{len(self.results)} videos ({self.config.mode} mode), {failed} failed, "
                     f"{errors} question(s) whose program could not run ({then})")
        if self.missing_sources:
            lines.append(f"{len(self.missing_sources)} video(s) with questions but no "
                         f"{SOURCE_KIND[self.config.mode]} file were left out")
        return "\n".join(lines)


# ------------------------------------------------------------------ finding the data
def find_questions(root: Path, split: str, questions: Path | None = None) -> dict[int, VideoQuestions]:
    """The questions of every video, by scene index (see the module docstring for the search order)."""
    from physreason.datasets.layout import find_files
    from physreason.datasets.questions import read_questions

    files: list[Path]
    if questions is not None:
        files = [questions]
    else:
        per_video = find_files(root, "question")
        if per_video:
            files = list(per_video.values())
        else:
            candidates = [root / "questions.json", root / "questions" / f"{split}.json", root / f"{split}.json"]
            files = [c for c in candidates if c.is_file()][:1]
    out: dict[int, VideoQuestions] = {}
    for path in files:
        for video in read_questions(str(path)).videos:
            if video.scene_index in out:
                raise FormatError(path, "", f"scene {video.scene_index} has questions in two places")
            out[video.scene_index] = video
    return dict(sorted(out.items()))


def plan(config: EvalConfig, results_dir: Path) -> tuple[list[VideoJob], list[int]]:
    """The jobs of an evaluation, and the scene indices with questions but no source file."""
    from physreason.datasets.layout import find_files

    root = Path(config.root)
    if not root.is_dir():
        raise ConfigError(f"{root}: directory not found")
    questions = find_questions(root, config.split, config.questions)
    if not questions:
        raise ConfigError(f"{root}: no questions found (no question_XXXXX.json, questions.json or "
                          f"questions/{config.split}.json)")
    sources = find_files(root, SOURCE_KIND[config.mode], max_depth=4)
    indices = [i for i in questions if i in sources]
    missing = [i for i in questions if i not in sources]
    if not indices:
        raise ConfigError(f"{root}: none of the {len(questions)} videos with questions has a "
                          f"{SOURCE_KIND[config.mode]} file ({config.mode} mode)")
    if config.limit is not None:
        indices = indices[:config.limit]
    threads = 1 if config.workers > 1 else 0
    jobs = [VideoJob(i, str(sources[i]), config.mode, questions[i], str(results_dir / f"video_{i:05d}.json"),
                     config.weights, config.n_future, threads, config.concepts, config.soft_fallback,
                     config.priors)
            for i in indices]
    return jobs, missing


# ------------------------------------------------------------------ one video
def _question_key(video: VideoQuestions) -> list:
    return [[q.question_id, q.question_type, len(q.choices or ())] for q in video.questions]


def cached_result(job: VideoJob) -> dict | None:
    """The stored result of a job if it is complete and of the same mode and questions."""
    path = Path(job.result_path)
    if not path.is_file():
        return None
    try:
        data = read_json(path)
    except FormatError:
        return None
    if (not isinstance(data, dict) or data.get("version") != RESULT_VERSION or data.get("mode") != job.mode
            or data.get("source") != job.source or data.get("questions") != _question_key(job.questions)
            or data.get("perception") != job.perception() or data.get("soft_fallback") != job.soft_fallback
            or data.get("priors") != job.priors):
        return None
    return data


def _limit_threads(threads: int) -> None:
    if threads <= 0:
        return
    os.environ.setdefault("PHYSREASON_PHYSICS_THREADS", str(threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def run_video(job: VideoJob) -> dict:
    """Answer one video's questions and write its result file (atomically); reuse a stored result.

    Module-level and picklable (a process pool's work item). A video whose observation cannot
    be made gets a result with ``error`` and no answers (not stored, so a re-run tries again);
    a question whose program cannot run is listed in ``question_errors`` (and answered by the soft
    executor with ``soft_fallback``, else left unanswered).
    """
    cached = cached_result(job)
    if cached is not None:
        cached["cached"] = True
        return cached
    _limit_threads(job.threads)
    from physreason.pipeline.engine import Engine

    t0 = time.perf_counter()
    result: dict = {"version": RESULT_VERSION, "scene_index": job.index, "mode": job.mode, "source": job.source,
                    "questions": _question_key(job.questions), "perception": job.perception(),
                    "soft_fallback": job.soft_fallback, "priors": job.priors}
    engine = Engine(weights=job.weights, n_future=job.n_future, concepts=job.concepts,
                    soft_fallback=job.soft_fallback, priors=job.priors)
    errors: list[dict] = []

    def on_error(question, exc: PhysreasonError) -> None:
        errors.append({"question_id": None if question is None else question.question_id, "error": str(exc)})

    try:
        if job.mode == "oracle":
            engine.from_annotation(job.source)
        else:
            engine.observe(job.source, scene_index=job.index)
        answers = engine.answer_video(job.questions, on_error=on_error)
    except PhysreasonError as exc:
        result.update(error=str(exc), answers=[], timings={"total": time.perf_counter() - t0})
        return result
    timings = dict(engine.timings)
    timings["total"] = time.perf_counter() - t0
    fit = engine.worlds.fit if engine.worlds is not None else None
    result.update(answers=[a.to_json() for a in answers.answers], question_errors=errors, timings=timings,
                  fit_quality=None if fit is None else fit.quality, error=None)
    write_json(job.result_path, result)
    return result


def answers_of(result: dict) -> VideoAnswers:
    """A per-video result's answers as a submission record."""
    return VideoAnswers(result["scene_index"], tuple(Answer.from_json(a, "<result>", f"answers[{k}]")
                                                      for k, a in enumerate(result.get("answers", ()))))


# ------------------------------------------------------------------ running
@functools.cache
def _planned(config: EvalConfig, results_dir: str) -> dict[int, VideoJob]:
    """The jobs of ``config`` by scene index, planned once per process (workers plan for themselves,
    so a task is only its index)."""
    return {job.index: job for job in plan(config, Path(results_dir))[0]}


def run_indexed(config: EvalConfig, results_dir: str, index: int) -> dict:
    """:func:`run_video` for the job of scene ``index`` (a picklable task via functools.partial)."""
    return run_video(_planned(config, results_dir)[index])


def _run_jobs(config: EvalConfig, results_dir: Path, jobs: list[VideoJob], backend, quiet: bool) -> list[dict]:
    """Run the jobs on ``backend`` (None: a local pool of ``config.workers`` processes), results in job order;
    a task that crashed gives a result with ``error`` set."""
    from physreason.execution import make_backend, run_videos

    _planned.cache_clear()
    fn = functools.partial(run_indexed, config, str(results_dir))
    own = backend is None
    backend = backend if backend is not None else make_backend("local", config.workers)
    try:
        tasks = run_videos(fn, [job.index for job in jobs], backend, desc=f"eval ({config.mode})", quiet=quiet)
    finally:
        if own:
            backend.close()
    return [t.value if t.ok else {"scene_index": t.index, "error": t.error, "answers": []} for t in tasks]


def output_paths(out: Path) -> dict[str, Path]:
    """Submission, report and per-video result folder for ``--out``."""
    stem = out.name[:-5] if out.name.endswith(".json") else out.name
    return {"submission": out, "report": out.with_name(f"{stem}.report.json"),
            "videos": out.with_name(f"{stem}.videos")}


def evaluate_dataset(config: EvalConfig, out: Path | None = None, quiet: bool = False, backend=None) -> EvalReport:
    """Evaluate ``config`` (module docstring); with ``out``, write the submission, report and
    per-video results there (else per-video results go to a temporary folder and are not kept).
    ``backend``: a :mod:`physreason.execution` backend (default: local, ``config.workers`` processes)."""
    import tempfile

    from physreason.physics.priors import priors_from_option
    from physreason.reasoning.metrics import evaluate

    priors_from_option(config.priors)  # a bad priors file fails before any video
    t0 = time.perf_counter()
    tmp = None
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="physreason-eval-")
        paths = {"videos": Path(tmp.name)}
    else:
        paths = output_paths(Path(out))
    try:
        jobs, missing = plan(config, paths["videos"])
        results = _run_jobs(config, paths["videos"], jobs, backend, quiet)
    finally:
        if tmp is not None:
            tmp.cleanup()
    submission = tuple(answers_of(r) for r in results)
    metrics = evaluate([job.questions for job in jobs], submission)
    report = EvalReport(config, metrics, results, submission, missing,
                        {k: str(v) for k, v in paths.items()} if out is not None else {},
                        time.perf_counter() - t0)
    if out is not None:
        from physreason.datasets.questions import write_submission

        write_submission(str(paths["submission"]), submission)
        write_json(paths["report"], report.to_json(), indent=1)
    return report
