def test_clip_dir_has_real_clips(clip_dir):
    import cv2

    files = sorted(clip_dir.rglob("*.mp4"))
    assert len(files) == 6
    cap = cv2.VideoCapture(str(files[0]))
    ok, frame = cap.read()
    assert ok and frame.shape == (426, 240, 3)
