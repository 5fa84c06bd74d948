"""Probing real files, good and bad, each made here with OpenCV (and a few bytes patched where needed)."""

from __future__ import annotations

import math
import shutil
import time
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from feedapp.media.features import FEATURE_NAMES
from feedapp.media.probe import MIN_DURATION_MS, ProbeError, ProbeInfo, probe, videos_opened
from tests.clipgen import make_clip
from tests.media.mp4tools import set_codec, set_handler, set_rotation


def _marked_clip(path: Path, size: tuple[int, int] = (320, 180), seconds: float = 1.0) -> Path:
    """A clip with a white square in the top-left corner of every stored frame (to see where rotation puts it)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    for i in range(round(seconds * 30)):
        frame = np.full((h, w, 3), (120, 40, 40), np.uint8)
        frame[:40, :40] = 255
        frame[h - 20 :, (i * 5) % (w - 20) :][:, :20] = (0, 200, 0)  # something moving
        writer.write(frame)
    writer.release()
    return path


def _reason(path: Path) -> str:
    with pytest.raises(ProbeError) as info:
        probe(path)
    reason = info.value.reason
    assert reason and "\n" not in reason and len(reason) < 200
    return reason


def test_portrait_clip_is_probed_with_duration_fps_size_and_features(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "p.mp4", seconds=2.0, size=(240, 426), colour=(40, 40, 220))
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (240, 426, 0)
    assert info.orientation == "portrait"
    assert info.fps == pytest.approx(30.0)
    assert info.frame_count == 60 and info.duration_ms == 2000
    assert info.codec == "FMP4"  # FFmpeg's name for mp4v
    assert len(info.features) == len(FEATURE_NAMES) and all(math.isfinite(v) for v in info.features)
    poster = cv2.imdecode(np.frombuffer(info.poster, np.uint8), cv2.IMREAD_COLOR)
    assert poster.shape[1] == 180 and poster.shape[0] == round(426 * 180 / 240)


def test_landscape_clip_is_accepted_as_landscape(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "wide.mp4", seconds=1.0, size=(426, 240)))
    assert (info.width, info.height, info.orientation) == (426, 240, "landscape")


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_metadata_gives_display_size_and_an_upright_poster(tmp_path: Path, degrees: int) -> None:
    path = _marked_clip(tmp_path / f"rot{degrees}.mp4")
    set_rotation(path, degrees)
    info = probe(path)
    assert info.rotation == degrees
    if degrees in (90, 270):
        assert (info.width, info.height, info.orientation) == (180, 320, "portrait")
    else:
        assert (info.width, info.height) == (320, 180)
    poster = cv2.imdecode(np.frombuffer(info.poster, np.uint8), cv2.IMREAD_GRAYSCALE)
    ph, pw = poster.shape
    corners = {
        "top-left": poster[: ph // 6, : pw // 6].mean(),
        "top-right": poster[: ph // 6, -pw // 6 :].mean(),
        "bottom-left": poster[-ph // 6 :, : pw // 6].mean(),
        "bottom-right": poster[-ph // 6 :, -pw // 6 :].mean(),
    }
    # turning the picture clockwise by `degrees` carries the stored top-left corner here:
    expected = {90: "top-right", 180: "bottom-right", 270: "bottom-left"}[degrees]
    assert max(corners, key=corners.get) == expected, corners


def test_4k_clip_is_accepted_without_decoding_the_whole_file(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "uhd.mp4", seconds=1.0, size=(3840, 2160))
    cap = cv2.VideoCapture(str(path))
    t0 = time.perf_counter()
    n = 0
    while cap.read()[0]:
        n += 1
    full_decode = time.perf_counter() - t0
    cap.release()
    t0 = time.perf_counter()
    info = probe(path)
    probe_time = time.perf_counter() - t0
    assert (info.width, info.height, info.frame_count) == (3840, 2160, n)
    assert info.frames_read <= 9 < n  # 4 sample points x 2 frames + the first frame
    print(f"4K probe {probe_time * 1000:.0f} ms, full decode+convert {full_decode * 1000:.0f} ms")


def test_one_frame_clip_is_rejected_as_too_short(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "one.mp4", seconds=1 / 30)
    reason = _reason(path)
    assert "too short" in reason and "1 frame" in reason
    assert f"{MIN_DURATION_MS / 1000:.1f} s" in reason


def test_zero_byte_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert "empty (0 bytes)" in _reason(path)


def test_text_file_named_mp4_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("Participant 12 said the cat video was their favourite.\n" * 5, encoding="utf-8")
    assert "text file" in _reason(path)


def test_mp4_cut_in_half_is_rejected_as_incomplete(tmp_path: Path) -> None:
    # OpenCV writes the index (moov) at the end: half a file has frames but no index, so nothing can play it.
    full = make_clip(tmp_path / "full.mp4", seconds=3.0).read_bytes()
    path = tmp_path / "half.mp4"
    path.write_bytes(full[: len(full) // 2])
    assert "incomplete" in _reason(path)


def test_avi_cut_in_half_is_rejected_with_the_decodable_length(tmp_path: Path) -> None:
    # An AVI cut in half still opens and plays its first half: its header claims 3 s, 1.5 s decode.
    full = make_clip(tmp_path / "full.avi", seconds=3.0, fourcc="MJPG").read_bytes()
    path = tmp_path / "half.avi"
    path.write_bytes(full[: len(full) // 2])
    reason = _reason(path)
    assert "incomplete" in reason and "of its 3.0 s" in reason


def test_unknown_codec_is_rejected_naming_the_codec(tmp_path: Path) -> None:
    # Everything OpenCV can write it can also decode, so relabel a real mp4v track as a codec FFmpeg lacks.
    path = make_clip(tmp_path / "odd.mp4", seconds=1.0)
    set_codec(path, "zzzz")
    reason = _reason(path)
    assert "codec 'zzzz'" in reason and "convert" in reason


def test_codec_known_but_frames_undecodable_is_rejected(tmp_path: Path) -> None:
    # Labelled AV1 (a decoder exists) but holding MPEG-4 data: it opens, yet no frame decodes.
    path = make_clip(tmp_path / "fake_av1.mp4", seconds=1.0)
    set_codec(path, "av01")
    assert "cannot be decoded" in _reason(path)


def test_wav_audio_renamed_mp4_is_rejected_as_audio(tmp_path: Path) -> None:
    path = tmp_path / "song.mp4"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000)
    assert not cv2.VideoCapture(str(path)).isOpened()  # what OpenCV itself says: nothing
    assert "WAV audio" in _reason(path)


def test_mp4_with_only_an_audio_track_is_rejected(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "voice.mp4", seconds=1.0)
    set_handler(path, "soun")
    assert "no video track" in _reason(path)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    assert "does not exist" in _reason(tmp_path / "gone.mp4")


def test_names_with_spaces_and_non_latin_characters(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "café 猫 clip.mp4", seconds=1.0)
    assert probe(path).duration_ms == 1000


def test_percent_sign_in_name_is_not_taken_as_an_image_sequence(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "100% real %d.mp4", seconds=1.0)
    assert probe(path).frame_count == 30


def test_long_clip_is_sampled_by_seeking(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "long.mp4", seconds=12.0, size=(240, 426))
    info = probe(path)  # 360 x 240 x 426 pixels: within the read-through budget
    assert info.duration_ms == 12000
    big = make_clip(tmp_path / "big.mp4", seconds=5.0, size=(720, 1280))
    info = probe(big)  # 150 frames of 720x1280: over the budget, seeks instead
    assert info.frame_count == 150 and info.frames_read < 20


def test_features_tell_colours_and_motion_apart(tmp_path: Path) -> None:
    red = probe(make_clip(tmp_path / "red.mp4", seconds=1.0, colour=(20, 20, 230)))
    blue = probe(make_clip(tmp_path / "blue.mp4", seconds=1.0, colour=(230, 20, 20)))
    names = list(FEATURE_NAMES)
    assert red.features[names.index("hue_00")] > 0.8  # red is hue 0
    assert blue.features[names.index("hue_08")] > 0.8  # blue is hue 240 degrees -> bin 8
    still = tmp_path / "still.mp4"
    writer = cv2.VideoWriter(str(still), cv2.VideoWriter_fourcc(*"mp4v"), 30, (240, 426))
    for _ in range(30):
        writer.write(np.full((426, 240, 3), 128, np.uint8))
    writer.release()
    grey = probe(still)
    motion = names.index("motion")
    assert grey.features[motion] < 0.002 < red.features[motion]
    assert sum(grey.features[:12]) == 0.0  # no colour at all: an all-zero histogram, not NaN


def test_probe_info_round_trips_through_the_cache_format(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "c.mp4", seconds=1.0))
    again = ProbeInfo.from_dict(info.to_dict(), info.poster)
    assert again == info and again.poster == info.poster


def test_videos_opened_counts_each_probe(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "n.mp4", seconds=1.0)
    before = videos_opened()
    probe(path)
    probe(shutil.copy(path, tmp_path / "m.mp4"))
    assert videos_opened() - before == 2


# -- real codecs and variable frame rates (tests/corpus.py, made with ffmpeg) --------------------------


@pytest.mark.parametrize("name", ["vfr_h264.mkv", "vfr_vp9_opus.webm", "vfr_h264.mp4"])
def test_variable_frame_rate_files_are_accepted_with_their_true_duration(corpus, name):
    """OpenCV counts Matroska frames as duration x nominal rate (120 here) while only 72 exist: the probe
    goes by timestamps, so the screen recording is 4.0 s long, not '2.4 s of 4.0 s, incomplete'."""
    info = probe(corpus[name])
    assert abs(info.duration_ms - 4000) <= 2, info
    assert info.frame_count == 72  # 6 of every 10 frames of 30 fps, decoded and counted
    assert (info.width, info.height) == (640, 360)


def test_every_corpus_codec_is_probed(corpus):
    from tests.corpus import corpus_spec

    for spec in corpus_spec():
        info = probe(corpus[spec.name])
        assert (info.width, info.height) == spec.size, spec.name
        assert abs(info.duration_ms - spec.seconds * 1000) <= 40, (spec.name, info.duration_ms)
        assert info.rotation == spec.rotation


def test_long_vfr_matroska_is_checked_at_its_end_by_timestamps(tmp_path):
    """Over the read-through budget the probe seeks; for Matroska it reads the last seconds' timestamps."""
    from tests.corpus import H264, CorpusClip, make_clip_with_ffmpeg, ffmpeg_path

    if ffmpeg_path() is None:
        pytest.skip("ffmpeg is not installed (scripts/setup.sh --test installs it)")
    path = make_clip_with_ffmpeg(CorpusClip("long_vfr.mkv", H264, (1280, 720), 8.0, vfr=True), tmp_path)
    info = probe(path)
    assert abs(info.duration_ms - 8000) <= 2 and info.frames_read < 150, info


@pytest.mark.parametrize("name", ["vfr_h264.mkv", "vfr_vp9_opus.webm"])
def test_matroska_cut_in_half_is_still_rejected_as_incomplete(corpus, tmp_path, name):
    """Decoding that really stops well before the container's duration is still 'incomplete'."""
    data = corpus[name].read_bytes()
    path = tmp_path / f"half_{name}"
    path.write_bytes(data[: len(data) // 2])
    reason = _reason(path)
    assert "incomplete" in reason and "of its 4.0 s" in reason, reason
