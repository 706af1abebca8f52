"""Perception from pixels on held-out generated videos: detection, attributes, tracking, events.

For each video of ``--data`` (a generated dataset: mp4, proposal files with ground-truth masks,
annotations), runs the shipped (or ``--weights``) detector and attribute net on every frame
and :func:`physreason.perception.observe.observe` on the result, and scores:

* detection AP at IoU 0.5, on masks and on boxes, against every non-empty ground-truth mask of
  every frame (and recall at any score);
* attribute accuracy per detection (detections matched to a ground-truth mask at IoU >= 0.5)
  and per perceived object (objects matched to ground-truth ones as in the tracking metrics);
* with ``--concepts FILE`` (or ``learned``), attribute accuracy per perceived object of those
  learned concepts too (read from the tracked objects' crops, as ``--concepts`` in the pipeline);
* MOTA, IDF1 (motmetrics), mean / p90 table position error on visible frames, in/out event F1
  (within ``--tolerance`` frames), collision precision and recall (pair and frame within 5)
  (:mod:`physreason.perception.metrics`).

``--robustness CLEAN.pt FGSM.pt ...`` instead prints the attribute-robustness table of those
attribute weight files on ground-truth crops of the videos (every ``--frame-step``-th frame):
clean accuracy, PGD (10 steps) at eps 2/255 and 4/255, Gaussian noise (sigma 0.05) and Gaussian
blur (sigma 1 px), per attribute. Ends with one summary line.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from physreason.concepts.model import load_concepts
from physreason.datasets.files import read_annotation
from physreason.datasets.layout import find_files
from physreason.datasets.proposals import read_proposals
from physreason.datasets.video import read_video
from physreason.perception import attributes as attr
from physreason.perception.detection_metrics import APAccumulator, mask_iou
from physreason.perception.metrics import VideoScores, match_objects, score_video, summarize
from physreason.perception.observe import observe_with_ids
from physreason.perception.perceive import classify_detections, detect_frames, load_models, to_proposals
from physreason.perception.train import frame_masks


def evaluate_video(job: tuple[int, str, str, str, str | None, int, str | None]) -> dict:
    """Scores of one video (run in a worker process): AP inputs, attribute counts, tracking counts."""
    idx, video, proposal, annotation, weights, tolerance, concepts = job
    torch.set_num_threads(1)
    models = load_models(weights)
    frames = read_video(video)
    truth = read_annotation(annotation)
    gt_frames = {f.frame_index: f for f in read_proposals(proposal).frames}
    t0 = time.process_time()
    dets = detect_frames(frames, models.detector, models.decode)
    labels = classify_detections(frames, dets, models)
    perceived = to_proposals(dets, labels)
    seen, ids = observe_with_ids(perceived, truth.camera, len(frames), idx)
    cpu = time.process_time() - t0
    learned = {} if concepts is None else load_concepts(concepts).describe_video(frames, perceived, ids)
    ap_mask, ap_box = APAccumulator(0.5), APAccumulator(0.5)
    det_correct = np.zeros(3)
    det_total = 0
    for t, (det, (lab, _)) in enumerate(zip(dets, labels)):
        masks, gt_lab = frame_masks(gt_frames[t]) if t in gt_frames else (np.zeros((0, 1, 1), bool), [])
        if masks.shape[0] == 0:
            masks = np.zeros((0,) + frames.shape[1:3], bool)
        ap_mask.add_masks(det.scores, det.masks, masks, "mask")
        ap_box.add_masks(det.scores, det.masks, masks, "box")
        if len(det) and len(masks):
            iou = mask_iou(det.masks, masks)
            for k in range(len(det)):
                j = int(iou[k].argmax())
                if iou[k, j] >= 0.5:
                    det_correct += lab[k] == np.asarray(gt_lab[j])
                    det_total += 1
    obj_correct, learned_correct = np.zeros(3), np.zeros(3)
    mapping = match_objects(truth, seen)
    for i, j in mapping.items():
        a, b = seen.objects[i], truth.objects[j]
        key = (b.color, b.material, b.shape)
        obj_correct += np.equal((a.color, a.material, a.shape), key)
        if i in learned:
            learned_correct += np.equal(learned[i], key)
    return {"ap_mask": ap_mask, "ap_box": ap_box, "det_correct": det_correct, "det_total": det_total,
            "obj_correct": obj_correct, "learned_correct": learned_correct, "obj_total": len(mapping),
            "n_truth_objects": len(truth.objects),
            "scores": score_video(truth, seen, tolerance=tolerance), "cpu": cpu}


def _merge(accs: list[APAccumulator]) -> APAccumulator:
    out = APAccumulator(accs[0].threshold)
    for a in accs:
        out.scores.extend(a.scores)
        out.tps.extend(a.tps)
        out.n_truth += a.n_truth
    return out


def evaluate(args: argparse.Namespace) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    models = load_models(args.weights)
    videos, props, annots = (find_files(args.data, k) for k in ("video", "proposal", "annotation"))
    indices = sorted(set(videos) & set(props) & set(annots))[args.start : args.start + args.videos]
    jobs = [(i, str(videos[i]), str(props[i]), str(annots[i]), args.weights, args.tolerance, args.concepts)
            for i in indices]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(tqdm(pool.map(evaluate_video, jobs), total=len(jobs), desc="videos", unit="video"))
    else:
        results = [evaluate_video(j) for j in tqdm(jobs, desc="videos", unit="video")]
    ap_mask = _merge([r["ap_mask"] for r in results])
    ap_box = _merge([r["ap_box"] for r in results])
    det_total = sum(r["det_total"] for r in results)
    obj_total = sum(r["obj_total"] for r in results)
    det_acc = sum(r["det_correct"] for r in results) / max(det_total, 1)
    obj_acc = sum(r["obj_correct"] for r in results) / max(obj_total, 1)
    learned_acc = sum(r["learned_correct"] for r in results) / max(obj_total, 1)
    s = summarize([r["scores"] for r in results])
    seconds = sum(r["cpu"] for r in results)
    err = s.position_errors
    p90 = float(np.percentile(err, 90)) if err.size else 0.0
    print(f"{len(indices)} videos of {args.data} (indices {indices[0]}..{indices[-1]}), weights {models.folder}")
    print(f"{'metric':<34} {'value':>8}")
    rows = [
        ("mask AP50", ap_mask.ap), ("box AP50", ap_box.ap), ("mask recall@0.5 (any score)", ap_mask.recall),
        ("color acc. (detections)", det_acc[0]), ("material acc. (detections)", det_acc[1]),
        ("shape acc. (detections)", det_acc[2]), ("color acc. (objects)", obj_acc[0]),
        ("material acc. (objects)", obj_acc[1]), ("shape acc. (objects)", obj_acc[2]),
        *([] if args.concepts is None else [(f"{a} acc. (objects, learned)", v)
                                            for a, v in zip(("color", "material", "shape"), learned_acc)]),
        ("MOTA", s.mota), ("IDF1", s.idf1), ("ID switches", s.num_switches),
        ("position error mean (units)", float(err.mean()) if err.size else 0.0), ("position error p90 (units)", p90),
        ("in/out event F1", s.event_f1), ("collision precision", s.collision_precision),
        ("collision recall", s.collision_recall),
    ]
    for name, value in rows:
        print(f"{name:<34} {value:8.4f}" if isinstance(value, float) else f"{name:<34} {value:8d}")
    print(f"({det_total} matched detections, {obj_total} matched of {sum(r['n_truth_objects'] for r in results)} "
          f"ground-truth objects, {ap_mask.n_truth} ground-truth masks; "
          f"in/out events {s.event_tp} TP / {s.event_fp} FP / {s.event_fn} FN; "
          f"collisions {s.collision_tp} TP / {s.collision_fp} FP / {s.collision_fn} FN)")
    learned_text = ("" if args.concepts is None else
                    f" (learned {learned_acc[0]:.3f} / {learned_acc[1]:.3f} / {learned_acc[2]:.3f})")
    print(f"summary: AP50 mask {ap_mask.ap:.3f} box {ap_box.ap:.3f}; attributes (objects) color {obj_acc[0]:.3f} "
          f"material {obj_acc[1]:.3f} shape {obj_acc[2]:.3f}{learned_text}; MOTA {s.mota:.3f} IDF1 {s.idf1:.3f} "
          f"err {float(err.mean()) if err.size else 0.0:.3f} in/out F1 {s.event_f1:.3f} "
          f"collisions P/R {s.collision_precision:.3f}/{s.collision_recall:.3f}; "
          f"{seconds / max(len(indices), 1):.2f} CPU s/video (perception only, 1 thread)")


def robustness(args: argparse.Namespace) -> None:
    import kornia

    from physreason.perception.train import prepare
    from physreason.perception.training import robust_accuracy

    videos = sorted(set(find_files(args.data, "video")) & set(find_files(args.data, "proposal")))
    indices = videos[args.start : args.start + args.videos]
    data = prepare(args.data, frame_step=args.frame_step, indices=indices, progress=False, seed=1)
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(data.crops))[: args.crops]
    x = torch.from_numpy(data.crops[pick]).float() / 255
    y = torch.from_numpy(data.labels[pick])
    rgb, mask = x[:, :3].contiguous(), x[:, 3:].contiguous()
    gen = torch.Generator().manual_seed(0)
    noisy = (rgb + 0.05 * torch.randn(rgb.shape, generator=gen)).clamp(0, 1)
    blurred = kornia.filters.gaussian_blur2d(rgb, (5, 5), (1.0, 1.0))
    print(f"attribute robustness on {len(pick)} ground-truth crops of {len(indices)} videos of {args.data}")
    header = f"{'weights':<12} {'attribute':<9} {'clean':>7} {'PGD 2/255':>10} {'PGD 4/255':>10} {'noise .05':>10} {'blur 1px':>9}"
    print(header)
    summary = []
    for spec in args.robustness:
        name, _, path = spec.rpartition("=")
        path = Path(path)
        name = name or path.stem
        data_w = torch.load(path, map_location="cpu", weights_only=True)
        model = attr.AttributeNet(**data_w["config"])
        model.load_state_dict(data_w["state_dict"])
        model.eval()
        wrapped = attr.RGBOnly(model, mask)
        worst = []
        for i, a in enumerate(attr.SLICES):
            view = attr.AttributeView(wrapped, a)
            ya = y[:, i]
            vals = [robust_accuracy(view, rgb, ya, 0.0),
                    robust_accuracy(view, rgb, ya, 2 / 255, steps=10, generator=torch.Generator().manual_seed(1)),
                    robust_accuracy(view, rgb, ya, 4 / 255, steps=10, generator=torch.Generator().manual_seed(1)),
                    robust_accuracy(view, noisy, ya, 0.0), robust_accuracy(view, blurred, ya, 0.0)]
            worst.append(vals)
            print(f"{name:<12} {a:<9} " + " ".join(f"{v:>{w}.4f}" for v, w in zip(vals, (7, 10, 10, 10, 9))))
        w = np.array(worst).min(axis=0)
        summary.append(f"{name} clean {w[0]:.3f} PGD4 {w[2]:.3f}")
    print("summary (worst attribute): " + "; ".join(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/data/heldout", help="generated dataset (held-out seed)")
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--start", type=int, default=0, help="position of the first video among those found")
    parser.add_argument("--weights", help="weight folder (default: the shipped weights)")
    parser.add_argument("--concepts", metavar="FILE",
                        help="also score these learned concepts ('learned': the shipped ones) on the tracked objects")
    parser.add_argument("--tolerance", type=int, default=3, help="frames allowed between matched in/out events")
    parser.add_argument("--robustness", nargs="+", metavar="[NAME=]ATTRIBUTES.pt",
                        help="print the attribute robustness table of these weight files instead")
    parser.add_argument("--frame-step", type=int, default=16, help="crops from every N-th frame (--robustness)")
    parser.add_argument("--crops", type=int, default=1000, help="crops attacked (--robustness)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (one thread each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is far faster on a busy machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.robustness:
        robustness(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
