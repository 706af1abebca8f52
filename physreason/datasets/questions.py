"""Question, choice and answer records, and CLEVRER's question and submission files.

A question file is a list with one entry per video (``{scene_index, video_filename,
questions}``), or, as in the released sample of real questions, a dict keyed by scene index.
Both layouts read and write back unchanged. Programs are CLEVRER postfix token lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from physreason.datasets import validate as v
from physreason.datasets.fileio import read_json, write_json
from physreason.errors import FormatError

QUESTION_TYPES: tuple[str, ...] = ("descriptive", "explanatory", "predictive", "counterfactual")
DESCRIPTIVE_SUBTYPES: tuple[str, ...] = ("count", "exist", "query_color", "query_material", "query_shape")
CHOICE_ANSWERS: tuple[str, ...] = ("correct", "wrong")


def _program(d: dict, path: object, where: str) -> tuple[str, ...] | None:
    if "program" not in d:
        return None
    tokens = v.as_list(d["program"], path, f"{where}.program")
    for i, t in enumerate(tokens):
        if not isinstance(t, str):
            raise FormatError(path, f"{where}.program[{i}]", f"expected a string token, got {t!r}")
    return tuple(tokens)


@dataclass(frozen=True)
class Choice:
    """One option of a multiple-choice question; ``answer`` is 'correct', 'wrong' or None (test split)."""

    choice_id: int
    choice: str
    program: tuple[str, ...] | None = None
    answer: str | None = None

    def to_json(self) -> dict:
        out: dict = {"choice_id": self.choice_id, "choice": self.choice}
        if self.program is not None:
            out["program"] = list(self.program)
        if self.answer is not None:
            out["answer"] = self.answer
        return out

    @classmethod
    def from_json(cls, data: Any, path: object, where: str) -> Choice:
        d = v.as_dict(data, path, where)
        answer = v.get_str(d, "answer", path, where, CHOICE_ANSWERS) if "answer" in d else None
        return cls(v.get_int(d, "choice_id", path, where, minimum=0), v.get_str(d, "choice", path, where),
                   _program(d, path, where), answer)


@dataclass(frozen=True)
class Question:
    """A CLEVRER question. Descriptive questions carry ``answer``; the others carry ``choices``."""

    question_id: int
    question: str
    question_type: str
    program: tuple[str, ...] | None = None
    question_subtype: str | None = None
    answer: str | None = None
    choices: tuple[Choice, ...] | None = None

    @property
    def is_multiple_choice(self) -> bool:
        return self.question_type != "descriptive"

    def to_json(self) -> dict:
        out: dict = {"question_id": self.question_id, "question": self.question, "question_type": self.question_type}
        if self.question_subtype is not None:
            out["question_subtype"] = self.question_subtype
        if self.program is not None:
            out["program"] = list(self.program)
        if self.answer is not None:
            out["answer"] = self.answer
        if self.choices is not None:
            out["choices"] = [c.to_json() for c in self.choices]
        return out

    @classmethod
    def from_json(cls, data: Any, path: object, where: str) -> Question:
        d = v.as_dict(data, path, where)
        qtype = v.get_str(d, "question_type", path, where, QUESTION_TYPES)
        subtype = v.get_str(d, "question_subtype", path, where) if "question_subtype" in d else None
        answer = v.get_str(d, "answer", path, where) if "answer" in d else None
        choices = None
        if "choices" in d:
            items = v.as_list(d["choices"], path, f"{where}.choices")
            choices = tuple(Choice.from_json(c, path, f"{where}.choices[{i}]") for i, c in enumerate(items))
        elif qtype != "descriptive":
            raise FormatError(path, f"{where}.choices", f"missing (a {qtype} question has choices)")
        return cls(v.get_int(d, "question_id", path, where, minimum=0), v.get_str(d, "question", path, where),
                   qtype, _program(d, path, where), subtype, answer, choices)


@dataclass(frozen=True)
class VideoQuestions:
    """The questions of one video."""

    scene_index: int
    questions: tuple[Question, ...]
    video_filename: str | None = None


@dataclass(frozen=True)
class QuestionFile:
    """A whole question file; ``keyed`` is True for the dict-keyed-by-scene-index layout."""

    videos: tuple[VideoQuestions, ...]
    keyed: bool = False

    def to_json(self) -> list | dict:
        def entry(vq: VideoQuestions, with_index: bool) -> dict:
            out: dict = {"scene_index": vq.scene_index} if with_index else {}
            if vq.video_filename is not None:
                out["video_filename"] = vq.video_filename
            out["questions"] = [q.to_json() for q in vq.questions]
            return out

        if self.keyed:
            return {str(vq.scene_index): entry(vq, False) for vq in self.videos}
        return [entry(vq, True) for vq in self.videos]

    @classmethod
    def from_json(cls, data: Any, path: object) -> QuestionFile:
        if isinstance(data, dict):
            items = []
            for key, val in data.items():
                if not key.isdigit():
                    raise FormatError(path, key, "keys of a keyed question file must be scene indices")
                items.append((int(key), val, key))
            keyed = True
        else:
            entries = v.as_list(data, path, "")
            items = []
            for i, val in enumerate(entries):
                items.append((v.get_int(v.as_dict(val, path, f"[{i}]"), "scene_index", path, f"[{i}]", minimum=0),
                              val, f"[{i}]"))
            keyed = False
        videos = []
        for scene, val, where in items:
            d = v.as_dict(val, path, where)
            qs = v.as_list(v.get(d, "questions", path, where), path, f"{where}.questions")
            video = v.get_str(d, "video_filename", path, where) if "video_filename" in d else None
            videos.append(VideoQuestions(scene, tuple(Question.from_json(q, path, f"{where}.questions[{i}]")
                                                      for i, q in enumerate(qs)), video))
        return cls(tuple(videos), keyed)


def read_questions(path: str) -> QuestionFile:
    """Read a CLEVRER question file (either layout); malformed content raises FormatError."""
    return QuestionFile.from_json(read_json(path), path)


def write_questions(path: str, qfile: QuestionFile) -> None:
    """Write a question file atomically, in the layout it was read in."""
    write_json(path, qfile.to_json())


# --- submissions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """The answer to one question: ``answer`` for descriptive, ``choices`` ((choice_id, 'correct'|'wrong'), ...) otherwise."""

    question_id: int
    answer: str | None = None
    choices: tuple[tuple[int, str], ...] | None = None

    def to_json(self) -> dict:
        if self.choices is not None:
            return {"question_id": self.question_id,
                    "choices": [{"choice_id": c, "answer": a} for c, a in self.choices]}
        return {"question_id": self.question_id, "answer": self.answer}

    @classmethod
    def from_json(cls, data: Any, path: object, where: str) -> Answer:
        d = v.as_dict(data, path, where)
        qid = v.get_int(d, "question_id", path, where, minimum=0)
        if "choices" in d:
            items = v.as_list(d["choices"], path, f"{where}.choices")
            choices = []
            for i, c in enumerate(items):
                cw = f"{where}.choices[{i}]"
                cd = v.as_dict(c, path, cw)
                choices.append((v.get_int(cd, "choice_id", path, cw, minimum=0),
                                v.get_str(cd, "answer", path, cw, CHOICE_ANSWERS)))
            return cls(qid, None, tuple(choices))
        return cls(qid, v.get_str(d, "answer", path, where))


@dataclass(frozen=True)
class VideoAnswers:
    """The answers for one video of a submission."""

    scene_index: int
    answers: tuple[Answer, ...]


def submission_to_json(videos: tuple[VideoAnswers, ...]) -> list:
    """CLEVRER's submission layout: ``[{scene_index, questions: [...]}]``."""
    return [{"scene_index": va.scene_index, "questions": [a.to_json() for a in va.answers]} for va in videos]


def submission_from_json(data: Any, path: object) -> tuple[VideoAnswers, ...]:
    out = []
    for i, entry in enumerate(v.as_list(data, path, "")):
        d = v.as_dict(entry, path, f"[{i}]")
        qs = v.as_list(v.get(d, "questions", path, f"[{i}]"), path, f"[{i}].questions")
        out.append(VideoAnswers(v.get_int(d, "scene_index", path, f"[{i}]", minimum=0),
                                tuple(Answer.from_json(q, path, f"[{i}].questions[{k}]") for k, q in enumerate(qs))))
    return tuple(out)


def read_submission(path: str) -> tuple[VideoAnswers, ...]:
    return submission_from_json(read_json(path), path)


def write_submission(path: str, videos: tuple[VideoAnswers, ...]) -> None:
    write_json(path, submission_to_json(videos))
