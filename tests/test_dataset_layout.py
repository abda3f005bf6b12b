from utils.data.dataset_layout import discover_videos


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_classes_sorted_and_videos_found_recursively_in_ucf11_layout(tmp_path):
    touch(tmp_path / "walking" / "v_walking_02" / "v_walking_02_01.mpg")
    touch(tmp_path / "walking" / "v_walking_01" / "v_walking_01_02.mpg")
    touch(tmp_path / "walking" / "v_walking_01" / "v_walking_01_01.mpg")
    touch(tmp_path / "biking" / "v_biking_01" / "v_biking_01_01.mpg")
    classes, videos = discover_videos(tmp_path)
    assert classes == ["biking", "walking"]
    assert [(v.label, v.relative_path) for v in videos] == [
        (0, "biking/v_biking_01/v_biking_01_01.mpg"),
        (1, "walking/v_walking_01/v_walking_01_01.mpg"),
        (1, "walking/v_walking_01/v_walking_01_02.mpg"),
        (1, "walking/v_walking_02/v_walking_02_01.mpg"),
    ]


def test_extensions_match_case_insensitively_and_other_files_are_ignored(tmp_path):
    for name in ["a.AVI", "b.Mp4", "c.mkv", "d.webm", "e.MOV", "f.wmv", "g.flv", "h.m4v", "i.mpeg",
                 "notes.txt", "thumb.jpg", "video.avi.part", ".hidden.avi"]:
        touch(tmp_path / "Cls" / name)
    touch(tmp_path / "Cls" / ".cache" / "x.avi")
    classes, videos = discover_videos(tmp_path)
    assert classes == ["Cls"]
    assert [v.relative_path.split("/")[-1] for v in videos] == [
        "a.AVI", "b.Mp4", "c.mkv", "d.webm", "e.MOV", "f.wmv", "g.flv", "h.m4v", "i.mpeg"]


def test_files_at_the_top_level_and_hidden_folders_are_not_classes(tmp_path):
    touch(tmp_path / "loose.avi")
    touch(tmp_path / ".git" / "x.avi")
    touch(tmp_path / "Empty" / "readme.txt")
    classes, videos = discover_videos(tmp_path)
    assert classes == ["Empty"]
    assert videos == []


def test_video_whose_path_is_not_utf8_is_left_out_and_reported(tmp_path):
    import os

    touch(tmp_path / "Cls" / "a.avi")
    touch(tmp_path / "Cls" / "sub" / "b.avi")
    os.rename(os.fsencode(tmp_path / "Cls" / "sub"), os.fsencode(tmp_path / "Cls") + b"/s\xe9")
    touch(tmp_path / "Cls" / "c.avi")
    os.rename(os.fsencode(tmp_path / "Cls" / "c.avi"), os.fsencode(tmp_path / "Cls") + b"/\xff.avi")
    unusable = []
    classes, videos = discover_videos(tmp_path, unusable)
    assert classes == ["Cls"] and [v.relative_path for v in videos] == ["Cls/a.avi"]
    assert unusable == ["b'Cls/\\xff.avi'", "b'Cls/s\\xe9/b.avi'"]


def test_class_folder_whose_name_classes_txt_cannot_hold_is_refused(tmp_path):
    import os

    import pytest

    from utils.errors import InputError

    touch(tmp_path / "Good" / "a.avi")
    for name, fragment in [(b"B\xe9", "not valid UTF-8"), (b"B\nC", "line break"), (b"B\xc2\x85C", "line break"),
                           (b"\t", "blank name")]:
        path = os.fsencode(tmp_path) + b"/" + name
        os.mkdir(path)
        with pytest.raises(InputError, match=fragment):
            discover_videos(tmp_path)
        os.rmdir(path)
