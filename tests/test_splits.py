import json
import re

import numpy as np
import pytest

from utils.data.splits import PROTOCOLS, Split, SplitSettings, describe, group_of, make_split
from utils.errors import InputError


def ucf101_style(classes=("ApplyEyeMakeup", "Basketball", "Diving"), groups=7, clips=4):
    paths, labels = [], []
    for label, name in enumerate(classes):
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                paths.append(f"{name}/v_{name}_g{g:02d}_c{c:02d}.avi")
                labels.append(label)
    return np.array(labels, np.int64), np.array(paths)


def ucf11_style(classes=("basketball", "biking", "walking"), groups=5, clips=3):
    paths, labels = [], []
    for label, name in enumerate(classes):
        short = {"basketball": "shooting"}.get(name, name)
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                paths.append(f"{name}/v_{short}_{g:02d}/v_{short}_{g:02d}_{c:02d}.mpg")
                labels.append(label)
    return np.array(labels, np.int64), np.array(paths)


def synthetic_style():
    return ucf101_style(classes=("WalkLeft", "WalkRight", "SquatDown", "StandUp", "WaveHand", "JumpingJack"),
                        groups=5, clips=4)


def assert_well_formed(split, n, complete=True):
    for part in (split.train, split.val, split.test):
        assert part.dtype == np.int64
        assert np.all(np.diff(part) > 0)  # sorted, no repeats
    everything = np.concatenate([split.train, split.val, split.test])
    assert len(np.unique(everything)) == len(everything)  # disjoint
    if complete:
        assert np.array_equal(np.sort(everything), np.arange(n))


def groups_of_part(paths, part):
    return {group_of(paths[i]) for i in part}


# ------------------------------------------------------------------ group_of


@pytest.mark.parametrize("path, group", [
    ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "ApplyEyeMakeup/g08"),
    ("HandstandPushups/v_HandStandPushups_g01_c01.AVI", "HandstandPushups/g01"),
    ("WalkLeft/v_WalkLeft_g03_c02.avi", "WalkLeft/g03"),
    ("basketball/v_shooting_01/v_shooting_01_01.mpg", "basketball/g01"),
    ("walking/v_walk_dog_12/v_walk_dog_12_04.mpg", "walking/g12"),
    ("walking/v_walk_dog_12_04.mpg", "walking/g12"),  # UCF11 with the folder level flattened
    ("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi", None),
    ("golf/Golf_Tips_golf_f_cm_np1_fr_goo_1.avi", None),
    ("Cls/clip.mp4", None),
])
def test_group_of(path, group):
    assert group_of(path) == group


def test_group_numbers_are_normalised_and_classes_kept_apart():
    assert group_of("A/v_A_g8_c1.avi") == group_of("A/v_A_g08_c01.avi")
    assert group_of("A/v_A_g01_c01.avi") != group_of("B/v_B_g01_c01.avi")


# ------------------------------------------------------------------ random


def test_random_split_is_stratified_per_class_within_one_clip():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(5), [10, 23, 37, 8, 51])
    rng.shuffle(labels)
    paths = [f"c{l}/x{i}.avi" for i, l in enumerate(labels)]
    settings = SplitSettings("random", test_size=0.2, val_size=0.1, seed=3)
    split = make_split(labels, paths, settings)
    assert_well_formed(split, len(labels))
    for label in range(5):
        n = np.count_nonzero(labels == label)
        n_test = np.count_nonzero(labels[split.test] == label)
        n_val = np.count_nonzero(labels[split.val] == label)
        assert abs(n_test - 0.2 * n) <= 1
        assert abs(n_val - 0.1 * (n - n_test)) <= 1


def test_random_split_matches_sklearn_train_test_split_of_the_paper():
    from sklearn.model_selection import train_test_split

    labels, paths = ucf101_style()
    split = make_split(labels, paths, SplitSettings("random", test_size=0.2, val_size=0, seed=7))
    _, expected_test = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=7)
    assert np.array_equal(split.test, np.sort(expected_test))
    assert len(split.val) == 0


@pytest.mark.parametrize("protocol, data", [("random", ucf101_style), ("group", ucf101_style),
                                            ("group", ucf11_style), ("group", synthetic_style)])
def test_deterministic_and_seed_dependent(protocol, data):
    labels, paths = data()
    a = make_split(labels, paths, SplitSettings(protocol, seed=5))
    b = make_split(labels.copy(), list(paths), SplitSettings(protocol, seed=5))
    np.random.seed(123)  # global state must not matter
    c = make_split(labels, paths, SplitSettings(protocol, seed=5))
    for part in ("train", "val", "test"):
        assert np.array_equal(getattr(a, part), getattr(b, part))
        assert np.array_equal(getattr(a, part), getattr(c, part))
    other = make_split(labels, paths, SplitSettings(protocol, seed=6))
    assert not np.array_equal(a.test, other.test)
    assert_well_formed(a, len(labels))


@pytest.mark.parametrize("protocol", ["random", "group"])
def test_val_is_carved_from_train_only(protocol):
    labels, paths = ucf101_style(groups=10)
    without = make_split(labels, paths, SplitSettings(protocol, val_size=0, seed=2))
    with_val = make_split(labels, paths, SplitSettings(protocol, val_size=0.2, seed=2))
    assert len(without.val) == 0 and len(with_val.val) > 0
    assert np.array_equal(without.test, with_val.test)
    assert np.array_equal(np.union1d(with_val.train, with_val.val), without.train)


# ------------------------------------------------------------------ group


@pytest.mark.parametrize("data", [ucf101_style, ucf11_style, synthetic_style])
def test_group_split_never_puts_a_group_on_two_sides(data):
    labels, paths = data()
    split = make_split(labels, paths, SplitSettings("group", test_size=0.2, val_size=0.2, seed=0))
    assert_well_formed(split, len(labels))
    train, val, test = (groups_of_part(paths, p) for p in (split.train, split.val, split.test))
    assert not train & val and not train & test and not val & test
    for label in np.unique(labels):  # every class has test and train clips
        assert label in labels[split.test] and label in labels[split.train]


def test_group_split_holds_out_about_test_size_of_each_class_groups():
    labels, paths = ucf101_style(groups=25, clips=2)
    split = make_split(labels, paths, SplitSettings("group", test_size=0.2, val_size=0.1, seed=0))
    for label in np.unique(labels):
        members = split.test[labels[split.test] == label]
        assert len(groups_of_part(paths, members)) == 5
        val_members = split.val[labels[split.val] == label]
        assert len(groups_of_part(paths, val_members)) == 2  # 10 % of 20 training groups


def test_group_split_without_group_numbers_is_an_input_error():
    labels = np.array([0, 0, 1, 1])
    paths = ["brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "brush_hair/b.avi",
             "golf/c.avi", "golf/d.avi"]
    with pytest.raises(InputError, match=r"April_09_brush_hair.*--split random or --split official"):
        make_split(labels, paths, SplitSettings("group"))


def test_group_split_with_a_single_group_class_names_the_class():
    labels, paths = ucf101_style(classes=("Basketball",), groups=4)
    labels = np.concatenate([labels, [1, 1, 1]])
    paths = list(paths) + [f"Diving/v_Diving_g01_c0{c}.avi" for c in (1, 2, 3)]
    with pytest.raises(InputError, match=r"class 'Diving' has no test clip under --split group \(only 1 group\)"):
        make_split(labels, paths, SplitSettings("group"), classes=["Basketball", "Diving"])


# ------------------------------------------------------------------ official


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_official_ucf101_lists(tmp_path):
    labels, paths = ucf101_style(classes=("ApplyEyeMakeup", "HandstandPushups"), groups=4, clips=2)
    paths = list(paths)
    paths.append("HandstandPushups/v_HandstandPushups_g09_c01.avi")  # in the data, in no list
    labels = np.append(labels, 1)
    paths[0] = paths[0].replace(".avi", ".AVI")  # extension case differs from the list
    train_lines, test_lines = [], []
    for index, name in enumerate(("ApplyEyeMakeup", "HandStandPushups"), start=1):
        for g in range(1, 5):
            for c in (1, 2):
                entry = f"{name}/v_{name}_g{g:02d}_c{c:02d}.avi"
                if g == 1:
                    test_lines.append(entry)
                else:
                    train_lines.append(f"{entry} {index}" if g % 2 else entry)  # class index optional
    train_lines.append("ApplyEyeMakeup/v_ApplyEyeMakeup_g05_c01.avi 1")  # listed, not in the data
    write(tmp_path / "trainlist01.txt", "\r\n".join(train_lines) + "\r\n\r\n")
    write(tmp_path / "testlist01.txt", "\n".join(test_lines) + "\n")
    settings = SplitSettings("official", val_size=0.3, split_dir=str(tmp_path), seed=1)
    split = make_split(labels, paths, settings)

    assert_well_formed(split, len(labels), complete=False)
    assert [paths[i] for i in split.test] == [p for p in paths if "_g01_" in p]
    assert np.array_equal(np.union1d(split.train, split.val),
                          [i for i, p in enumerate(paths) if "_g01_" not in p and "_g09_" not in p])
    assert not groups_of_part(paths, split.train) & groups_of_part(paths, split.val)
    assert len(split.val) > 0
    assert "1 listed videos not in the data" in split.note and "1 data videos not in train or test" in split.note
    line = describe(split, labels)
    assert "test" in line and "2 classes" in line and "1 clips in no part" in line and "\n" not in line


def test_official_hmdb51_lists_with_tags(tmp_path):
    names = {"brush_hair": [f"April_09_brush_hair_u_nm_np1_ba_goo_{i}.avi" for i in range(6)],
             "golf": [f"Golf_Tips_golf_f_cm_np1_fr_goo_{i}.avi" for i in range(6)]}
    paths, labels = [], []
    for label, (cls, files) in enumerate(names.items()):
        for f in files:
            paths.append(f"{cls}/{f}")
            labels.append(label)
    tags = [1, 1, 1, 2, 2, 0]
    for cls, files in names.items():
        lines = [f"{f} {t}" for f, t in zip(files, tags)] + [f"missing_{cls}.avi 1", "not_in_data_either.avi 0"]
        write(tmp_path / f"{cls}_test_split1.txt", "\n".join(lines) + "\n")
        write(tmp_path / f"{cls}_test_split2.txt", "\n".join(f"{f} 1" for f in files) + "\n")  # other split
    split = make_split(np.array(labels), paths, SplitSettings("official", val_size=0, split_dir=str(tmp_path)))
    assert split.test.tolist() == [3, 4, 9, 10]
    assert split.train.tolist() == [0, 1, 2, 6, 7, 8]
    assert "2 listed videos not in the data" in split.note and "2 data videos not in train or test" in split.note

    with_val = make_split(np.array(labels), paths,
                          SplitSettings("official", val_size=0.4, split_dir=str(tmp_path), seed=4))
    assert with_val.test.tolist() == [3, 4, 9, 10]
    assert np.array_equal(np.union1d(with_val.train, with_val.val), split.train)
    assert set(np.array(labels)[with_val.val]) == {0, 1}  # stratified: HMDB names have no groups


def test_official_missing_folder_and_files_are_input_errors(tmp_path):
    labels, paths = ucf101_style()
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match=re.escape(str(missing))):
        make_split(labels, paths, SplitSettings("official", split_dir=str(missing)))
    with pytest.raises(InputError, match=r"trainlist01\.txt.*_test_split1\.txt"):
        make_split(labels, paths, SplitSettings("official", split_dir=str(tmp_path)))
    write(tmp_path / "trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 1\n")
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "testlist01.txt"))):
        make_split(labels, paths, SplitSettings("official", split_dir=str(tmp_path)))
    with pytest.raises(InputError, match="trainlist02"):
        make_split(labels, paths, SplitSettings("official", split_dir=str(tmp_path), split_id=2))
    with pytest.raises(InputError, match="--split_dir"):
        SplitSettings("official")


def test_official_lists_that_match_no_data_video(tmp_path):
    labels, paths = ucf101_style()
    write(tmp_path / "trainlist01.txt", "Other/v_Other_g02_c01.avi 1\n")
    write(tmp_path / "testlist01.txt", "Other/v_Other_g01_c01.avi\n")
    with pytest.raises(InputError, match=rf"{re.escape(str(tmp_path))}: none of its 2 .*'Other/v_Other_g01_c01.avi'"):
        make_split(labels, paths, SplitSettings("official", split_dir=str(tmp_path)))


def test_official_malformed_lines_name_file_and_line(tmp_path):
    labels, paths = ucf101_style()
    write(tmp_path / "trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 1\nA B C\n")
    write(tmp_path / "testlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n")
    with pytest.raises(InputError, match=r"trainlist01\.txt:2: "):
        make_split(labels, paths, SplitSettings("official", split_dir=str(tmp_path)))
    hmdb = tmp_path / "hmdb"
    write(hmdb / "golf_test_split1.txt", "a.avi 1\nb.avi 3\n")
    with pytest.raises(InputError, match=r"golf_test_split1\.txt:2: "):
        make_split(labels, paths, SplitSettings("official", split_dir=str(hmdb)))


def test_official_class_without_train_clips_is_named(tmp_path):
    labels, paths = ucf101_style(classes=("A", "B"), groups=2, clips=1)
    write(tmp_path / "trainlist01.txt", "A/v_A_g02_c01.avi\n")
    write(tmp_path / "testlist01.txt", "A/v_A_g01_c01.avi\nB/v_B_g01_c01.avi\n")
    with pytest.raises(InputError, match=r"class 'B' has no train clip under --split official"):
        make_split(labels, paths, SplitSettings("official", val_size=0, split_dir=str(tmp_path)))


# ------------------------------------------------------------------ settings and input checks


@pytest.mark.parametrize("kwargs", [dict(test_size=0), dict(test_size=1), dict(test_size=-0.1),
                                    dict(test_size=float("nan")), dict(val_size=1), dict(val_size=-0.1),
                                    dict(seed=-1), dict(split_id=0), dict(protocol="kfold")])
def test_invalid_settings_are_input_errors(kwargs):
    with pytest.raises(InputError):
        SplitSettings(**kwargs)


def test_mismatched_lengths_and_tiny_classes_are_input_errors():
    labels, paths = ucf101_style()
    with pytest.raises(InputError, match="differ in length"):
        make_split(labels[:-1], paths, SplitSettings())
    with pytest.raises(InputError, match="class 'Solo' has only 1 clip"):
        make_split(np.array([0, 0, 0, 1]), ["A/a", "A/b", "A/c", "Solo/x"], SplitSettings(),
                   classes=["A", "Solo"])


def test_settings_json_round_trip():
    settings = SplitSettings("official", 0.25, 0.05, 9, "/lists", 2)
    text = json.dumps(settings.to_json())
    assert SplitSettings.from_json(json.loads(text)) == settings
    assert SplitSettings.from_json({}) == SplitSettings()
    with pytest.raises(InputError, match="unknown split setting"):
        SplitSettings.from_json({"protocl": "group"})
    assert PROTOCOLS == ("random", "group", "official")


def test_describe_is_one_line_with_counts():
    labels, paths = ucf101_style()
    split = make_split(labels, paths, SplitSettings(seed=0))
    assert isinstance(split, Split)
    line = describe(split, labels)
    assert line == (f"split: {len(split.train)} train / {len(split.val)} val / {len(split.test)} test clips, "
                    "3 classes")
