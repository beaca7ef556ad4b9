"""``riskstream score``: layout and order of the output, no look-ahead, batch invariance, clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from detectors.anomaly import AnomalyParams
from riskstream.cli import main
from riskstream.commands.score import parse_overrides


def write_series(path: Path, ts: list[str], values: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["timestamp", "value"])
        w.writerows(zip(ts, values, strict=True))


def minutes(n: int, start: str = "2014-04-01T00:00", step_min: int = 5) -> list[str]:
    t0 = np.datetime64(start, "m")
    return [str(t0 + np.timedelta64(i * step_min, "m")).replace("T", " ") + ":00" for i in range(n)]


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def make_input(root: Path, n: int = 400, seed: int = 0) -> dict[str, tuple[list[str], list[str]]]:
    rng = np.random.default_rng(seed)
    files = {
        "a/one.csv": (minutes(n), [f"{v:.3f}" for v in 10 + rng.normal(size=n)]),
        "a/b/two.csv": (
            minutes(n - 50, "2014-04-01T03:02"),
            [f"{v:.3f}" for v in 5 + rng.normal(size=n - 50)],
        ),
        "three.csv": (minutes(n, step_min=7), [str(int(v)) for v in rng.poisson(3, size=n)]),
    }
    files["three.csv"][1][300] = "60"  # a spike
    for name, (ts, vals) in files.items():
        write_series(root / name, ts, vals)
    return files


def scores_of(out: Path, name: str) -> np.ndarray:
    return np.array([float(r[2]) for r in read_rows(out / name)[1:]])


def test_output_mirrors_input_row_for_row(tmp_path: Path) -> None:
    files = make_input(tmp_path / "in")
    assert main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    for name, (ts, vals) in files.items():
        rows = read_rows(tmp_path / "out" / name)
        assert rows[0] == ["timestamp", "value", "anomaly_score"]
        assert [r[0] for r in rows[1:]] == ts
        assert [r[1] for r in rows[1:]] == vals
        scores = np.array([float(r[2]) for r in rows[1:]])
        assert ((scores >= 0) & (scores <= 1)).all()
    assert scores_of(tmp_path / "out", "three.csv")[300] > 0.9


def test_repeated_timestamps_each_get_a_score_in_input_order(tmp_path: Path) -> None:
    ts = minutes(300)
    ts = [*ts[:200], ts[199], ts[199], *ts[200:]]  # the same timestamp three times
    vals = [f"{10 + (i % 7) * 0.1:.1f}" for i in range(len(ts))]
    vals[200] = "99"  # the second of the three repeats is a spike
    write_series(tmp_path / "in" / "dup.csv", ts, vals)
    assert main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    rows = read_rows(tmp_path / "out" / "dup.csv")[1:]
    assert len(rows) == len(ts)
    assert [r[1] for r in rows] == vals
    assert float(rows[200][2]) > 0.9 and float(rows[199][2]) < 0.5


def test_no_look_ahead_and_batch_size_changes_nothing(tmp_path: Path) -> None:
    files = make_input(tmp_path / "in")
    main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "big"), "--quiet"])
    main(
        [
            "score",
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "one"),
            "--batch",
            "1",
            "--quiet",
        ]
    )
    for name in files:
        np.testing.assert_array_equal(scores_of(tmp_path / "big", name), scores_of(tmp_path / "one", name))
    # cut every series at 250 rows: the scores of the kept rows do not change
    for name, (ts, vals) in files.items():
        write_series(tmp_path / "cut" / name, ts[:250], vals[:250])
    main(["score", "--input", str(tmp_path / "cut"), "--output", str(tmp_path / "cut_out"), "--quiet"])
    for name in files:
        np.testing.assert_array_equal(
            scores_of(tmp_path / "cut_out", name), scores_of(tmp_path / "big", name)[:250]
        )


def test_other_series_do_not_change_a_series_scores(tmp_path: Path) -> None:
    files = make_input(tmp_path / "in")
    main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "all"), "--quiet"])
    ts, vals = files["three.csv"]
    write_series(tmp_path / "alone" / "three.csv", ts, vals)
    main(["score", "--input", str(tmp_path / "alone"), "--output", str(tmp_path / "alone_out"), "--quiet"])
    np.testing.assert_array_equal(
        scores_of(tmp_path / "all", "three.csv"), scores_of(tmp_path / "alone_out", "three.csv")
    )


def test_unscored_rows(tmp_path: Path) -> None:
    ts = minutes(100)
    vals = ["1.0"] * 100
    vals[60] = ""  # a missing reading
    write_series(tmp_path / "in" / "s.csv", ts, vals)
    main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "z"), "--quiet"])
    rows = read_rows(tmp_path / "z" / "s.csv")[1:]
    warmup = AnomalyParams().warmup
    assert all(r[2] == "0" for r in rows[:warmup]) and rows[60][2] == "0"
    main(
        [
            "score",
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "e"),
            "--unscored",
            "empty",
            "--quiet",
        ]
    )
    rows = read_rows(tmp_path / "e" / "s.csv")[1:]
    assert all(r[2] == "" for r in rows[:warmup]) and rows[60][2] == "" and rows[warmup][2] != ""


def test_epoch_millisecond_timestamps(tmp_path: Path) -> None:
    ts = [str(1_400_000_000_000 + i * 60_000) for i in range(100)]
    write_series(tmp_path / "in" / "ms.csv", ts, [str(i % 5) for i in range(100)])
    assert main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert len(read_rows(tmp_path / "out" / "ms.csv")) == 101


def test_progress_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_input(tmp_path / "in")
    assert main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "scored 1,150/1,150 readings (100%)" in err
    assert "scored 3 files" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("time,val\n2014-01-01 00:00:00,1\n", "line 1: header must start with timestamp,value"),
        ("timestamp,value\n", "no data rows"),
        ("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00\n", "line 3: expected 2 fields"),
        ("timestamp,value\n2014-01-01 00:00:00,1\nyesterday,2\n", "line 3: bad timestamp 'yesterday'"),
        (
            "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n",
            "line 3: value 'abc' is not a number",
        ),
    ],
)
def test_bad_csvs_give_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.csv").write_text(content)
    assert main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "bad.csv" in err and message in err


def test_missing_input_folder_and_no_csvs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "out")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["score", "--input", str(tmp_path / "empty"), "--output", str(tmp_path / "out")]) == 1
    assert "no .csv files" in capsys.readouterr().err


def test_output_inside_input_is_not_read_back(tmp_path: Path) -> None:
    make_input(tmp_path / "in")
    out = tmp_path / "in" / "scored"
    assert main(["score", "--input", str(tmp_path / "in"), "--output", str(out), "--quiet"]) == 0
    assert main(["score", "--input", str(tmp_path / "in"), "--output", str(out), "--quiet"]) == 0
    assert not (out / "scored").exists()


def test_parameter_overrides() -> None:
    p = parse_overrides(["tail_step=0.3", "warmup=10"])
    assert p.tail_step == 0.3 and p.warmup == 10
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_overrides(["nonsense=1"])
    with pytest.raises(ValueError, match="warmup must be of type int"):
        parse_overrides(["warmup=ten"])
