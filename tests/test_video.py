"""Video I/O: mp4 and PNG-folder round trips, determinism, and clean errors."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from physreason.datasets.video import (
    VideoInfo,
    frame_files,
    iter_frames,
    read_video,
    video_info,
    write_frames,
    write_video,
)
from physreason.errors import ConfigError, VideoError


def _frames(n: int = 12, h: int = 64, w: int = 96) -> np.ndarray:
    """Smooth synthetic frames: a colour gradient with a moving disc, uint8 (n, h, w, 3)."""
    yy, xx = np.mgrid[:h, :w]
    out = np.empty((n, h, w, 3), np.uint8)
    out[..., 0] = xx * 255 // w
    out[..., 1] = yy * 255 // h
    out[..., 2] = 120
    for t in range(n):
        out[t][(yy - h // 2) ** 2 + (xx - 10 - 5 * t) ** 2 < 12**2] = (200, 40, 40)
    return out


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "video_00000.mp4"
    write_video(path, _frames())
    return path


def test_mp4_round_trip(mp4: Path) -> None:
    got = read_video(mp4)
    want = _frames()
    assert got.shape == want.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - want).mean() < 3


def test_mp4_info_and_streaming(mp4: Path) -> None:
    assert video_info(mp4) == VideoInfo(n_frames=12, width=96, height=64, fps=25.0)
    frames = list(iter_frames(mp4))
    assert len(frames) == 12 and frames[0].shape == (64, 96, 3)
    first = next(iter_frames(mp4))  # stopping early is fine
    assert first.shape == (64, 96, 3)


def test_mp4_is_byte_identical(tmp_path: Path, mp4: Path) -> None:
    # several tries: a nondeterministic encoder setting showed up in about one run in four
    for i in range(6):
        again = tmp_path / f"again{i}.mp4"
        write_video(again, iter(_frames()) if i % 2 else list(_frames()))
        assert again.read_bytes() == mp4.read_bytes()


def test_fps_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    write_video(path, _frames(4), fps=10)
    assert video_info(path).fps == 10.0


def test_expected_size(mp4: Path, tmp_path: Path) -> None:
    assert read_video(mp4, expected_size=(96, 64)).shape[0] == 12
    with pytest.raises(VideoError, match=r"video_00000\.mp4.*96x64.*480x320"):
        read_video(mp4, expected_size=(480, 320))
    folder = tmp_path / "frames"
    write_frames(folder, _frames(2))
    with pytest.raises(VideoError, match=r"1\.png.*96x64"):
        read_video(folder, expected_size=(480, 320))


def test_png_folder_round_trip_is_exact(tmp_path: Path) -> None:
    frames = _frames(11)
    written = write_frames(tmp_path / "dcl", frames)
    assert [p.name for p in written[:3]] == ["1.png", "2.png", "3.png"]
    assert np.array_equal(read_video(tmp_path / "dcl"), frames)  # 10.png sorts after 9.png
    write_frames(tmp_path / "nsdr", frames, pattern="frame_{:05d}.png", start=0)
    assert frame_files(tmp_path / "nsdr")[0].name == "frame_00000.png"
    assert np.array_equal(read_video(tmp_path / "nsdr"), frames)
    assert next(iter_frames(tmp_path / "nsdr")).flags.writeable
    assert video_info(tmp_path / "nsdr") == VideoInfo(11, 96, 64, None)


def test_png_folder_ignores_other_files_and_converts_modes(tmp_path: Path) -> None:
    frames = _frames(2)
    write_frames(tmp_path, frames)
    (tmp_path / "notes.txt").write_text("not a frame")
    Image.fromarray(frames[1]).convert("RGBA").save(tmp_path / "2.png")
    assert np.array_equal(read_video(tmp_path), frames)


def test_write_frames_refuses_to_mix_with_old_frames(tmp_path: Path) -> None:
    write_frames(tmp_path, _frames(5))
    with pytest.raises(VideoError, match="already holds 5 PNG"):
        write_frames(tmp_path, _frames(3))
    write_frames(tmp_path, _frames(3), overwrite=True)
    assert len(read_video(tmp_path)) == 3


def test_write_is_atomic_on_error(tmp_path: Path) -> None:
    frames = list(_frames(3))
    frames.append(np.zeros((32, 32, 3), np.uint8))
    path = tmp_path / "bad.mp4"
    with pytest.raises(VideoError, match=r"bad\.mp4: frame 3 is 32x32 but frame 0 is 96x64"):
        write_video(path, frames)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    for call in (read_video, video_info):
        with pytest.raises(VideoError, match=r"nope\.mp4: no such"):
            call(tmp_path / "nope.mp4")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "fake.mp4"
    path.write_text("this is not a video\n")
    for call in (read_video, video_info):
        with pytest.raises(VideoError, match=r"fake\.mp4: not a readable video"):
            call(path)


def test_truncated_mp4(tmp_path: Path, mp4: Path) -> None:
    data = mp4.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4"):
        read_video(path)


def test_truncated_streamable_mp4(tmp_path: Path, mp4: Path) -> None:
    # moov atom first (ffmpeg -movflags +faststart): the container opens, then frames run out
    src = tmp_path / "fast.mp4"
    faststart = {"movflags": "+faststart"}
    with av.open(str(mp4)) as inp, av.open(str(src), "w", options=faststart) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    assert read_video(src).shape == (12, 64, 96, 3)
    data = src.read_bytes()
    path = tmp_path / "fastcut.mp4"
    path.write_bytes(data[: int(len(data) * 0.9)])
    with pytest.raises(VideoError, match=r"fastcut\.mp4: truncated or corrupt, decoded \d+ of 12"):
        read_video(path)
    path.write_bytes(data[: int(len(data) * 0.3)])  # cut inside the first (key) frame
    with pytest.raises(VideoError, match=r"fastcut\.mp4: frame 0: cannot decode"):
        read_video(path)


def test_corrupt_mp4_header(tmp_path: Path, mp4: Path) -> None:
    data = bytearray(mp4.read_bytes())
    at = data.index(b"moov")
    data[at + 4 : at + 204] = b"\xff" * 200
    path = tmp_path / "broken.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError, match=r"broken\.mp4: file has no video stream"):
        read_video(path)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=f"{tmp_path.name}: frame folder holds no PNG"):
        read_video(tmp_path)
    with pytest.raises(VideoError, match="no PNG"):
        video_info(tmp_path)


def test_inconsistent_frame_sizes_in_folder(tmp_path: Path) -> None:
    write_frames(tmp_path, _frames(3))
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "3.png")
    with pytest.raises(VideoError, match=r"3\.png: frame 2 is 32x32 but frame 0 is 96x64"):
        read_video(tmp_path)


def test_corrupt_png_in_folder(tmp_path: Path) -> None:
    write_frames(tmp_path, _frames(4))
    png = (tmp_path / "3.png").read_bytes()
    (tmp_path / "3.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(VideoError, match=r"3\.png: frame 2: cannot read PNG"):
        read_video(tmp_path)
    (tmp_path / "3.png").write_bytes(b"garbage")
    with pytest.raises(VideoError, match=r"3\.png: frame 2: cannot read PNG"):
        read_video(tmp_path)


def test_ambiguous_frame_names(tmp_path: Path) -> None:
    write_frames(tmp_path, _frames(2))
    (tmp_path / "01.png").write_bytes((tmp_path / "1.png").read_bytes())
    with pytest.raises(VideoError, match="frame number 1 is also used"):
        read_video(tmp_path)
    (tmp_path / "01.png").unlink()
    (tmp_path / "cover.png").write_bytes((tmp_path / "1.png").read_bytes())
    with pytest.raises(VideoError, match=r"cover\.png: frame file name has no frame number"):
        read_video(tmp_path)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([], "no frames to write"),
        ([np.zeros((64, 96, 3), np.float32)], "frame 0: expected a uint8"),
        ([np.zeros((64, 96), np.uint8)], "frame 0: expected a uint8"),
        ([np.zeros((63, 96, 3), np.uint8)], "even width and height"),
    ],
)
def test_write_video_rejects_bad_frames(tmp_path: Path, frames: list, message: str) -> None:
    with pytest.raises(VideoError, match=message) as info:
        write_video(tmp_path / "out.mp4", frames)
    assert "out.mp4" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_write_video_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fps"):
        write_video(tmp_path / "a.mp4", _frames(2), fps=0)
    with pytest.raises(ConfigError, match="crf"):
        write_video(tmp_path / "a.mp4", _frames(2), crf=60)


def test_write_frames_rejects_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"2\.png: frame 1 is 32x32 but frame 0 is 96x64"):
        write_frames(tmp_path, [_frames(1)[0], np.zeros((32, 32, 3), np.uint8)])
    with pytest.raises(VideoError, match="no frames to write"):
        write_frames(tmp_path / "empty", [])
