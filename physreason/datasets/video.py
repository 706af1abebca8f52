"""Video input/output: H.264 mp4 files (through PyAV) and folders of numbered PNG frames.

Frames are uint8 RGB arrays of shape (H, W, 3); a video is (T, H, W, 3). A frame folder holds
one PNG per frame, ordered by the number in the file name (``1.png, 2.png, ...`` as DCL/VRDP
extract them, or ``frame_00000.png`` as NS-DR does). Every failure is a :class:`VideoError`
naming the file (and the frame index when one frame is at fault).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from physreason.datasets.fileio import atomic_path, atomic_write_bytes
from physreason.errors import ConfigError, VideoError

PathLike = str | os.PathLike[str]

_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class VideoInfo:
    """Frame count, frame size in pixels and frame rate (None for a PNG folder)."""

    n_frames: int
    width: int
    height: int
    fps: float | None


def _reason(exc: BaseException) -> str:
    """The readable part of an av/PIL/OS error, without file names repeated."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _check_size(path: Path, width: int, height: int, expected: tuple[int, int] | None) -> None:
    if expected is not None and (width, height) != tuple(expected):
        raise VideoError(
            f"{path}: video is {width}x{height} but {expected[0]}x{expected[1]} was expected"
        )


def _existing(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such video file or frame folder")
    return p


# ---------------------------------------------------------------------------------- folders


def frame_files(folder: PathLike) -> list[Path]:
    """The PNG files of a frame folder in frame order (by the last number in each name)."""
    folder = Path(folder)
    numbered: list[tuple[int, Path]] = []
    for f in folder.iterdir():
        if f.suffix.lower() != ".png" or not f.is_file():
            continue
        numbers = _NUMBER.findall(f.stem)
        if not numbers:
            raise VideoError(f"{f}: frame file name has no frame number")
        numbered.append((int(numbers[-1]), f))
    if not numbered:
        raise VideoError(f"{folder}: frame folder holds no PNG frames")
    numbered.sort()
    for (a, fa), (b, fb) in zip(numbered, numbered[1:]):
        if a == b:
            raise VideoError(f"{fb}: frame number {b} is also used by {fa.name}")
    return [f for _, f in numbered]


def _read_png(path: Path, index: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return np.array(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as exc:
        raise VideoError(f"{path}: frame {index}: cannot read PNG ({_reason(exc)})") from None


def _iter_folder(folder: Path, expected_size: tuple[int, int] | None) -> Iterator[np.ndarray]:
    first: tuple[int, ...] | None = None
    for i, f in enumerate(frame_files(folder)):
        frame = _read_png(f, i)
        if first is None:
            first = frame.shape
            _check_size(f, frame.shape[1], frame.shape[0], expected_size)
        elif frame.shape != first:
            raise VideoError(
                f"{f}: frame {i} is {frame.shape[1]}x{frame.shape[0]} "
                f"but frame 0 is {first[1]}x{first[0]}"
            )
        yield frame


# ---------------------------------------------------------------------------------- containers


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: not a readable video ({_reason(exc)})") from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    if not container.streams.video:
        raise VideoError(f"{path}: file has no video stream")
    return container.streams.video[0]


def _iter_container(path: Path, expected_size: tuple[int, int] | None) -> Iterator[np.ndarray]:
    with _open(path) as container:
        stream = _video_stream(container, path)
        width, height = stream.codec_context.width, stream.codec_context.height
        _check_size(path, width, height, expected_size)
        stream.thread_type = "AUTO"
        declared = stream.frames
        n = 0
        try:
            for frame in container.decode(stream):
                arr = frame.to_ndarray(format="rgb24")
                if arr.shape[:2] != (height, width):
                    raise VideoError(
                        f"{path}: frame {n} is {arr.shape[1]}x{arr.shape[0]} "
                        f"but the stream is {width}x{height}"
                    )
                yield arr
                n += 1
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"{path}: frame {n}: cannot decode ({_reason(exc)})") from None
        if n == 0:
            raise VideoError(f"{path}: video has no decodable frames")
        if declared and n < declared:
            raise VideoError(f"{path}: truncated or corrupt, decoded {n} of {declared} frames")


# ---------------------------------------------------------------------------------- reading


def iter_frames(
    path: PathLike, expected_size: tuple[int, int] | None = None
) -> Iterator[np.ndarray]:
    """Yield uint8 RGB frames (H, W, 3) of a video file or PNG frame folder, in order.

    ``expected_size`` is (width, height) in pixels; a video of another size raises VideoError.
    """
    p = _existing(path)
    if p.is_dir():
        return _iter_folder(p, expected_size)
    return _iter_container(p, expected_size)


def read_video(path: PathLike, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """All frames of a video file or PNG frame folder as a uint8 array (T, H, W, 3), RGB."""
    return np.stack(list(iter_frames(path, expected_size)))


def video_info(path: PathLike) -> VideoInfo:
    """Frame count, size and rate of a video file or PNG frame folder, without decoding frames."""
    p = _existing(path)
    if p.is_dir():
        files = frame_files(p)
        try:
            with Image.open(files[0]) as img:
                width, height = img.size
        except (OSError, SyntaxError, ValueError) as exc:
            raise VideoError(f"{files[0]}: frame 0: cannot read PNG ({_reason(exc)})") from None
        return VideoInfo(len(files), width, height, None)
    with _open(p) as container:
        stream = _video_stream(container, p)
        n_frames = stream.frames
        if not n_frames:
            try:
                n_frames = sum(1 for pkt in container.demux(stream) if pkt.size)
            except av.FFmpegError as exc:
                raise VideoError(f"{p}: cannot read packets ({_reason(exc)})") from None
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(
            n_frames,
            stream.codec_context.width,
            stream.codec_context.height,
            float(rate) if rate else None,
        )


# ---------------------------------------------------------------------------------- writing


def _as_frame(frame: np.ndarray, index: int, path: Path) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise VideoError(
            f"{path}: frame {index}: expected a uint8 (H, W, 3) RGB array, "
            f"got {arr.dtype} {arr.shape}"
        )
    return np.ascontiguousarray(arr)


def _same_size(arr: np.ndarray, first: np.ndarray, index: int, path: Path) -> None:
    if arr.shape != first.shape:
        raise VideoError(
            f"{path}: frame {index} is {arr.shape[1]}x{arr.shape[0]} "
            f"but frame 0 is {first.shape[1]}x{first.shape[0]}"
        )


def write_video(
    path: PathLike, frames: Iterable[np.ndarray], fps: int | Fraction = 25, crf: int = 18
) -> None:
    """Write uint8 RGB frames (H, W, 3) as an H.264 (libx264, yuv420p) mp4, atomically.

    ``fps`` is frames per second; ``crf`` is x264's constant quality (0 lossless luma, 51
    worst). Encoding is single-threaded and without x264's mbtree, so the same frames always
    give the same bytes.
    Width and height must be even (a yuv420p requirement).
    """
    dest = Path(path)
    rate = Fraction(fps)
    if rate <= 0:
        raise ConfigError(f"fps must be positive, got {fps}")
    if not 0 <= crf <= 51:
        raise ConfigError(f"crf must be in 0..51, got {crf}")
    with atomic_path(dest, suffix=".mp4") as tmp:
        try:
            with av.open(str(tmp), mode="w", format="mp4") as container:
                stream: av.VideoStream | None = None
                first: np.ndarray | None = None
                for i, frame in enumerate(frames):
                    arr = _as_frame(frame, i, dest)
                    if first is None:
                        first = arr
                        stream = _add_h264_stream(container, dest, arr, rate, crf)
                    _same_size(arr, first, i, dest)
                    vf = av.VideoFrame.from_ndarray(arr, format="rgb24").reformat(
                        format="yuv420p"
                    )
                    vf.pts = i
                    container.mux(stream.encode(vf))
                if stream is None:
                    raise VideoError(f"{dest}: no frames to write")
                container.mux(stream.encode(None))
        except av.FFmpegError as exc:
            raise VideoError(f"{dest}: cannot encode H.264 video ({_reason(exc)})") from None


def _add_h264_stream(
    container: av.container.OutputContainer, dest: Path, first: np.ndarray, rate: Fraction, crf: int
) -> av.VideoStream:
    height, width = first.shape[:2]
    if width % 2 or height % 2:
        raise VideoError(
            f"{dest}: H.264 yuv420p needs an even width and height, got {width}x{height}"
        )
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.time_base = 1 / rate
    stream.codec_context.time_base = 1 / rate
    stream.codec_context.thread_count = 1
    # x264's macroblock-tree rate control (mbtree) gave different bytes for the same frames
    # in about one run in four on short smooth clips, even single-threaded; without it the
    # output was byte-stable in every trial.
    stream.codec_context.options = {
        "crf": str(crf),
        "preset": "medium",
        "x264-params": "mbtree=0",
    }
    return stream


def write_frames(
    folder: PathLike,
    frames: Iterable[np.ndarray],
    pattern: str = "{}.png",
    start: int = 1,
    overwrite: bool = False,
) -> list[Path]:
    """Write uint8 RGB frames (H, W, 3) as PNGs named ``pattern.format(start + i)``; return them.

    The default names (``1.png, 2.png, ...``) follow DCL/VRDP; ``"frame_{:05d}.png", start=0``
    gives NS-DR's. Each file is written atomically. A folder that already holds PNGs raises
    VideoError unless ``overwrite`` is set, which first deletes those PNGs.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    old = sorted(f for f in out.iterdir() if f.suffix.lower() == ".png" and f.is_file())
    if old and not overwrite:
        raise VideoError(f"{out}: folder already holds {len(old)} PNG files (e.g. {old[0].name})")
    for f in old:
        f.unlink()
    written: list[Path] = []
    first: np.ndarray | None = None
    for i, frame in enumerate(frames):
        dest = out / pattern.format(start + i)
        arr = _as_frame(frame, i, dest)
        if first is None:
            first = arr
        _same_size(arr, first, i, dest)
        img = Image.fromarray(arr)
        atomic_write_bytes(dest, lambda fh: img.save(fh, format="PNG"))
        written.append(dest)
    if not written:
        raise VideoError(f"{out}: no frames to write")
    return written
