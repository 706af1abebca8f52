"""Concept learning: the soft executor against the symbolic one, concept embeddings, object crops,
learning concepts from answers alone, few-shot concepts, the palette option and the command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from physreason.cli import main
from physreason.concepts import data as concept_data
from physreason.concepts.data import QA, VideoExample
from physreason.concepts.model import LearnedConcepts, relabel_observation
from physreason.concepts.training import (TrainConfig, evaluate, few_shot_examples, learn_concept, train_concepts,
                                          video_probs)
from physreason.datasets.generator.generate import GenerateConfig, ground_truth
from physreason.datasets.generator.questions import generate_questions
from physreason.datasets.generator.scene import SceneConfig, sample_scene
from physreason.datasets.proposals import ProposalFrame, ProposalObject, Proposals
from physreason.datasets.rle import encode
from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.errors import ConfigError
from physreason.perception.object_features import CropConfig, ObjectEncoder, crop_object, video_object_crops
from physreason.reasoning.concepts import ConceptSpace
from physreason.reasoning.executor import ExecutionError, execute, execute_choice, program_tree
from physreason.reasoning.soft_executor import (ConceptWorld, SoftEvents, SoftObjects, _count, _filter_order,
                                                _unique, soft_execute, soft_execute_choice)
from physreason.reasoning.world import ReasoningWorld, WorldEvent

SEED = 11
SMALL = dict(n_frames=96, n_future=40, width=240, height=160)
N_SCENES = 6


@pytest.fixture(scope="module")
def scenes():
    """Ground truth and generated questions of a few simulated scenes (no rendering)."""
    config = GenerateConfig(out=Path("unused"), n_videos=N_SCENES, seed=SEED, **SMALL)
    out = []
    for index in range(N_SCENES):
        _, obs, future, cfs = ground_truth(index, config)
        world = ReasoningWorld.from_records(obs, future, cfs)
        out.append((obs, world, generate_questions(obs, future, cfs, SEED)))
    return out


# ---------------------------------------------------------------- soft executor == symbolic at 0/1
def test_soft_executor_matches_symbolic_on_hard_probabilities(scenes) -> None:
    n = 0
    for _obs, world, video in scenes:
        cw = ConceptWorld.from_labels(world)
        for q in video.questions:
            if q.choices:
                for c in q.choices:
                    result = soft_execute_choice(q.program, c.program, cw)
                    assert result.answer == execute_choice(q.program, c.program, world).answer, (q.question, c.choice)
                    assert float(result.probs.max()) == pytest.approx(1.0, abs=1e-4)
                    n += 1
            else:
                result = soft_execute(q.program, cw)
                assert result.answer == execute(q.program, world).answer == q.answer, q.question
                assert float(result.prob(q.answer)) == pytest.approx(1.0, abs=1e-4)
                n += 1
    assert n > 60


def test_soft_operators_exact_probabilities() -> None:
    m = torch.tensor([0.5, 0.0, 1.0, 0.5], dtype=torch.float64)
    domain = tuple(WorldEvent("collision", f, (0, 1)) for f in (1, 2, 3, 4))
    events = SoftEvents(domain, m)
    first = _filter_order(None, events, "first").p
    assert first.tolist() == pytest.approx([0.5, 0.0, 0.5, 0.0])
    second = _filter_order(None, events, "second").p
    assert second.tolist() == pytest.approx([0.0, 0.0, 0.5, 0.25])  # event 3 second iff event 1 is in
    last = _filter_order(None, events, "last").p
    assert last.tolist() == pytest.approx([0.0, 0.0, 0.5, 0.5])
    count = _count(None, events).p
    assert count.tolist() == pytest.approx([0.0, 0.25, 0.5, 0.25, 0.0])
    unique = _unique(None, SoftObjects(torch.tensor([0.9, 0.5, 0.0], dtype=torch.float64))).p
    assert unique.tolist() == pytest.approx([0.9, 0.1, 0.0], abs=1e-5)  # softmax of the log-odds


def test_soft_execution_is_differentiable(scenes) -> None:
    obs, world, video, qa = next((o, w, v, q) for o, w, v in scenes for q in v.questions
                                 if q.question_subtype == "query_color")
    space = ConceptSpace(feature_dim=12, embed_dim=8)
    features = torch.randn(len(obs.objects), 12)
    cw = ConceptWorld(world, space.probabilities(features), space.vocab)
    loss = soft_execute(qa.program, cw).nll(qa.answer)
    loss.backward()
    assert space.embeddings["color"][qa.answer].grad is not None
    assert space.projections["color"].weight.grad.abs().sum() > 0


def test_unknown_concept_is_an_execution_error(scenes) -> None:
    _obs, world, _video = scenes[0]
    vocab = {"color": ("red", "blue"), "material": MATERIALS, "shape": SHAPES}
    cw = ConceptWorld.from_labels(world, vocab)
    with pytest.raises(ExecutionError, match="purple"):
        soft_execute(["objects", "purple", "filter_color", "count"], cw)


# ---------------------------------------------------------------- concept space
def test_objects_of_one_video_get_distinct_triples() -> None:
    """Two objects whose most likely triple is the same: attribute by attribute they share it;
    with ``distinct`` the less sure one takes its next most likely triple (here: blue)."""
    space = ConceptSpace(4, 4, {"color": ("red", "blue"), "material": MATERIALS, "shape": SHAPES})
    probs = {"color": torch.tensor([[0.9, 0.1], [0.6, 0.4]]), "material": torch.tensor([[0.8, 0.2], [0.7, 0.3]]),
             "shape": torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])}
    space.probabilities = lambda features: probs
    same = ("red", MATERIALS[0], SHAPES[1])
    assert space.describe(torch.zeros(2, 4)) == [same, same]
    assert space.describe(torch.zeros(2, 4), distinct=True) == [same, ("blue", MATERIALS[0], SHAPES[1])]


def test_concept_space_add_freeze_and_save(tmp_path: Path) -> None:
    space = ConceptSpace(6, 4, {"color": ("red", "blue"), "material": MATERIALS, "shape": SHAPES})
    before = {k: v.clone() for k, v in space.state_dict().items()}
    space.add_concept("color", "purple")
    params = space.freeze_except(["purple"])
    opt = torch.optim.SGD(params, lr=1.0)
    space.logits("color", torch.randn(5, 6))[:, -1].sum().backward()
    opt.step()
    after = space.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing else moved
    assert not torch.equal(after["embeddings.color.purple"], space.embeddings["color"]["purple"].detach() * 0)
    assert space.vocab["color"] == ("red", "blue", "purple")
    with pytest.raises(ConfigError, match="already exists"):
        space.add_concept("color", "red")
    rebuilt = ConceptSpace.from_state(space.to_state())
    x = torch.randn(3, 6)
    assert torch.allclose(rebuilt.logits("color", x), space.logits("color", x))
    probs = space.probabilities(x)
    assert probs["color"].shape == (3, 3) and torch.allclose(probs["color"].sum(-1), torch.ones(3))


# ---------------------------------------------------------------- learning from answers alone
def _synthetic_videos(scenes, noise: float = 0.3, seed: int = 0) -> tuple[list[VideoExample], torch.Tensor]:
    """Each object's feature: one-hot codes of its words, randomly rotated, plus noise; rows of the
    features are the 'cache'. Labels are kept only for scoring."""
    gen = torch.Generator().manual_seed(seed)
    rot = torch.linalg.qr(torch.randn(13, 13, generator=gen))[0]
    rows, videos = [], []
    for obs, world, video in scenes:
        r = []
        for o in obs.objects:
            code = torch.zeros(13)
            code[COLORS.index(o.color)] = 1
            code[8 + MATERIALS.index(o.material)] = 1
            code[10 + SHAPES.index(o.shape)] = 1
            rows.append(code @ rot + noise * torch.randn(13, generator=gen))
            r.append(len(rows) - 1)
        qas = tuple(QA(program_tree(q.program), q.answer, q.question, q.question_subtype or "")
                    for q in video.questions if not q.is_multiple_choice)
        videos.append(VideoExample(obs.scene_index, world, qas, np.array(r), obs.objects))
    return videos, torch.stack(rows)


def test_concepts_learned_from_answers_without_labels(scenes) -> None:
    videos, features = _synthetic_videos(scenes)
    torch.manual_seed(0)
    space = ConceptSpace(13, 16)
    history = train_concepts(space, videos, features, TrainConfig(epochs=40, batch=3, lr=3e-2))
    assert history[-1] < history[0] / 3
    scores = evaluate(videos, lambda v: video_probs(space, v, features), space.vocab)
    assert scores.concept["shape"] >= 0.9 and scores.concept["material"] >= 0.9
    assert scores.descriptive >= 0.8


def test_few_shot_concept_leaves_the_rest_unchanged(scenes) -> None:
    videos, features = _synthetic_videos(scenes)
    torch.manual_seed(0)
    words = {o.color for v in videos for o in v.labels}
    held = sorted(words)[0]
    vocab = {"color": tuple(c for c in COLORS if c != held), "material": MATERIALS, "shape": SHAPES}
    space = ConceptSpace(13, 16, vocab)
    train_concepts(space, videos, features, TrainConfig(epochs=40, batch=3, lr=3e-2, skip=(held,)))
    old = {k: v.clone() for k, v in space.state_dict().items()}
    examples = few_shot_examples(videos, held, shots=5)
    assert 1 <= len(examples) <= 5
    learn_concept(space, "color", held, examples, features, steps=100)
    assert all(torch.equal(old[k], space.state_dict()[k]) for k in old)
    assert space.vocab["color"][-1] == held


# ---------------------------------------------------------------- object crops and features
def _square_video() -> tuple[np.ndarray, Proposals]:
    frames = np.zeros((3, 40, 60, 3), dtype=np.uint8)
    objs = []
    for f in range(3):
        frames[f, 10:20, 5 + f:15 + f] = (200, 30, 30)
        frames[f, 25:35, 40:50] = (30, 30, 200)
        m0 = np.zeros((40, 60), bool)
        m0[10:20, 5 + f:15 + f] = True
        m1 = np.zeros((40, 60), bool)
        m1[25:35, 40:50] = True
        objs.append(ProposalFrame(f, f"{f}.png", (ProposalObject("red", "rubber", "cube", 1.0, encode(m0), 0),
                                                   ProposalObject("blue", "metal", "cube", 1.0, encode(m1), 1))))
    return frames, Proposals(tuple(objs))


def test_object_crops_are_masked_squares() -> None:
    frames, proposals = _square_video()
    crops = video_object_crops(frames, proposals, CropConfig(n_crops=2, size=16))
    assert sorted(crops) == [0, 1] and crops[0].shape == (2, 16, 16, 3)
    centre = crops[0][:, 8, 8]
    assert (centre == (200, 30, 30)).all()
    assert crops[0][:, 0, 0].sum() == 0  # outside the mask: zero
    mask = np.zeros((40, 60), bool)
    mask[0:4, 0:4] = True  # at the image corner: padded, not shifted
    crop = crop_object(frames[0], mask, CropConfig(size=8))
    assert crop.shape == (8, 8, 3)


def test_dilated_crops_show_the_object_past_a_shrunken_mask() -> None:
    """A mask 2 px short of the object (as a detector's may be) cuts the object's edge off;
    dilate=2 brings the edge back."""
    frames, _ = _square_video()
    mask = np.zeros((40, 60), bool)
    mask[12:18, 7:13] = True  # the object of frame 0 is rows 10:20, columns 5:15
    tight, grown = (crop_object(frames[0], mask, CropConfig(size=16, margin=2.0, dilate=d)) for d in (0, 2))
    lit = [int((c > 0).any(-1).sum()) for c in (tight, grown)]
    assert lit[1] > lit[0]
    with pytest.raises(ConfigError, match="dilate"):
        CropConfig(dilate=-1)


def test_crop_cache_cut_with_another_config_is_cut_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames, proposals = _square_video()
    monkeypatch.setattr(concept_data, "read_video", lambda _path: frames)
    monkeypatch.setattr(concept_data, "read_proposals", lambda _path: proposals)
    monkeypatch.setattr(concept_data, "find_files", lambda _root, kind: {0: f"{kind}_0"})
    path = tmp_path / "crops.npz"
    first = concept_data.cached_crops("root", [0], path, CropConfig(n_crops=2, size=16))
    assert concept_data.CropCache.load(path).config == vars(CropConfig(n_crops=2, size=16))
    again = concept_data.cached_crops("root", [0], path, CropConfig(n_crops=2, size=16))
    assert np.array_equal(again.crops, first.crops)
    grown = concept_data.cached_crops("root", [0], path, CropConfig(n_crops=2, size=16, dilate=3))
    assert grown.config["dilate"] == 3 and len(grown) == len(first)
    assert concept_data.CropCache.load(path).config["dilate"] == 3


def test_learned_concepts_describe_and_round_trip(tmp_path: Path) -> None:
    frames, proposals = _square_video()
    enc = ObjectEncoder("cropnet_tiny", input_size=16, pool="meanmax")
    model = LearnedConcepts(enc, ConceptSpace(enc.feature_dim, 8), CropConfig(n_crops=2, size=16))
    path = tmp_path / "c.pt"
    model.save(path, meta={"command": "test"})
    loaded = LearnedConcepts.load(path)
    words = loaded.describe_video(frames, proposals)
    assert set(words) == {0, 1} and all(w[0] in COLORS and w[1] in MATERIALS and w[2] in SHAPES for w in words.values())
    assert words == model.describe_video(frames, proposals)
    read, probs = model.read_video(frames, proposals)
    assert read == words and set(probs) == {0, 1}
    for k in words:
        assert probs[k]["color"].sum() == pytest.approx(1.0, abs=1e-5) and len(probs[k]["shape"]) == len(SHAPES)


# ---------------------------------------------------------------- palette option, command line
def test_scene_palette_option() -> None:
    config = SceneConfig(colors=("red", "blue"), max_objects=4, **{k: v for k, v in
                                                                    dict(n_observed=96, n_future=0).items()})
    scene = sample_scene(0, 3, config)
    assert {o.color for o in scene.objects} <= {"red", "blue"}
    with pytest.raises(ConfigError, match="colors"):
        SceneConfig(colors=("red", "pink"))


def test_train_concepts_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "concepts", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "c.pt")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["train", "concepts", "--data", str(tmp_path), "--out", str(tmp_path / "c.pt"), "--add", "purple"]) == 2
    assert "--init" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    assert main(["train", "concepts", "--data", str(tmp_path), "--out", str(tmp_path / "c.pt"), "--add", "purple",
                 "--init", str(bad)]) == 2


def test_relabel_observation(scenes) -> None:
    obs = scenes[0][0]
    out = relabel_observation(obs, {0: ("purple", "metal", "cube")})
    assert out.objects[0].key == ("purple", "metal", "cube") and out.objects[1:] == obs.objects[1:]
    assert out.attribute_probs is None
    vocab = {"color": COLORS, "material": MATERIALS, "shape": SHAPES}
    probs = {0: {"color": np.eye(8)[7], "material": np.array([0.9, 0.1]), "shape": np.array([0.0, 0.0, 1.0])}}
    out = relabel_observation(obs, {0: ("purple", "metal", "cube")}, probs, vocab)
    assert out.attribute_probs["material"]["metal"][0] == 0.9 and out.attribute_probs["color"]["purple"][0] == 1.0
    assert out.attribute_probs["shape"]["cube"][1:] == pytest.approx(1 / 3)  # objects not read: uniform
    cw = ConceptWorld.from_probs(ReasoningWorld.from_records(out), out.attribute_probs)
    assert cw.concept("metal")[0].item() == pytest.approx(0.9)
    with pytest.raises(ConfigError, match="vocab"):
        relabel_observation(obs, {}, probs)


# ---------------------------------------------------------------- soft fallback of the pipeline
def _misread_material(obs):
    """An object whose (material, shape) is unique in ``obs``, and ``obs`` with that object's
    material misread (words), its concept probabilities still leaning 45 % to the true one."""
    pairs = [(o.material, o.shape) for o in obs.objects]
    target = next(o for o in obs.objects if pairs.count((o.material, o.shape)) == 1
                  and ({"metal": "rubber", "rubber": "metal"}[o.material], o.shape) not in pairs)
    wrong = {"metal": "rubber", "rubber": "metal"}[target.material]
    words = {target.id: (target.color, wrong, target.shape)}
    probs = {}
    for o in obs.objects:
        material = {target.material: 0.45, wrong: 0.55} if o.id == target.id else {o.material: 1.0}
        probs[o.id] = {"color": np.array([float(o.color == w) for w in COLORS]),
                       "material": np.array([material.get(w, 0.0) for w in MATERIALS]),
                       "shape": np.array([float(o.shape == w) for w in SHAPES])}
    vocab = {"color": COLORS, "material": MATERIALS, "shape": SHAPES}
    return target, relabel_observation(obs, words, probs, vocab)


@pytest.mark.parametrize("soft_fallback", [True, False])
def test_soft_fallback_answers_a_question_the_words_cannot(scenes, soft_fallback: bool) -> None:
    from physreason.datasets.questions import Question, VideoQuestions
    from physreason.pipeline.engine import Engine

    target, seen = _misread_material(scenes[0][0])
    text = f"What is the color of the {target.material} {target.shape}?"
    video = VideoQuestions(seen.scene_index, (Question(0, text, "descriptive"),))
    engine = Engine(soft_fallback=soft_fallback).from_observation(seen)
    errors: list = []
    answers = engine.answer_video(video, on_error=lambda q, exc: errors.append(q.question_id))
    assert errors == [0]  # no object has both words: the program cannot run on them
    if soft_fallback:  # the probabilities still say which object is meant
        assert [a.answer for a in answers.answers] == [target.color]
    else:
        assert answers.answers == ()
