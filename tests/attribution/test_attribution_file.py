"""Reading ChannelAttribution-style path files: layout, delimiters, errors with file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from kassa.attribution import attribute, read_path_file
from kassa.attribution.paths import BadPathFile
from kassa.errors import MissingColumn


def write(tmp_path: Path, text: str, name: str = "paths.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_reads_the_channelattribution_layout(tmp_path):
    f = write(
        tmp_path,
        "path,total_conversions,total_conversion_value,total_null\nvk > seo > direct,2,3000,5\nseo,0,0,7\n",
    )
    t = read_path_file(f)
    assert t.frame["path"].to_list() == [["vk", "seo", "direct"], ["seo"]]
    assert t.frame["conversions"].to_list() == [2.0, 0.0]
    assert t.frame["nulls"].to_list() == [5.0, 7.0]
    assert t.has_value and t.has_nulls and not t.has_times


def test_semicolon_file_like_the_package_sample(tmp_path):
    # ChannelAttribution's own Data.csv is semicolon-separated.
    f = write(tmp_path, "path;total_conversions;total_conversion_value;total_null\neta > iota;1;10.5;3\n")
    assert read_path_file(f).frame["value"].to_list() == [10.5]


def test_other_separator_and_days(tmp_path):
    f = write(tmp_path, "path,total_conversions,total_null,days_before\nvk|seo,1,0,10|0\n")
    t = read_path_file(f, sep="|")
    assert t.frame["path"].to_list() == [["vk", "seo"]]
    assert t.frame["days_before"].to_list() == [[10.0, 0.0]]
    assert not t.has_value
    # With times, time decay uses days: half-life 10 -> weights 1/2 and 1 -> vk 1/3, seo 2/3
    r = attribute(t, "time_decay", params={"half_life_days": 10})["time_decay"]
    assert r.as_dict() == pytest.approx({"vk": 1 / 3, "seo": 2 / 3})


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("path,total_conversions,total_null\na > b,1,0\nb,x,0\n", 3, "total_conversions"),
        ("path,total_conversions,total_null\na > b,1,-2\n", 2, "total_null"),
        ("path,total_conversions,total_null\na > b,1,0\n,1,0\n", 3, "path"),
        ("path,total_conversions,total_null\na >  > b,1,0\n", 2, "path"),
        ("path,total_conversions,total_conversion_value,total_null\na,0,100,1\n", 2, "value"),
    ],
)
def test_bad_values_name_file_line_and_column(tmp_path, text, line, column):
    f = write(tmp_path, text)
    with pytest.raises(BadPathFile) as e:
        read_path_file(f)
    assert e.value.error.line == line
    assert e.value.error.column == column
    assert str(f) in str(e.value)


def test_missing_required_column(tmp_path):
    with pytest.raises(MissingColumn, match="total_conversions"):
        read_path_file(write(tmp_path, "path,conversions,total_null\na,1,0\n"))
