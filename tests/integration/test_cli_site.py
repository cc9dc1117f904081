"""``skyberth site validate`` and ``skyberth site export`` on real files."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from airspace.site_features import site_to_feature_collection
from airspace.site_files import SiteFormat, demo_site_path, load_site
from web.cli_site import site_app

runner = CliRunner()


def broken_copy_of_demo(tmp_path: Path) -> Path:
    """The demo site with two mistakes: a wordy capacity and a too-high ceiling."""
    collection = site_to_feature_collection(load_site(demo_site_path()))
    for feature in collection["features"]:
        if feature["properties"]["id"] == "C1":
            feature["properties"]["capacity"] = "two"
        if feature["properties"]["id"] == "C3":
            feature["properties"]["ceiling_m"] = 120.0
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def test_validate_summarises_a_sound_site() -> None:
    result = runner.invoke(site_app, ["validate", str(demo_site_path())])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Site cyberport-pier: Cyberport waterfront pier"
    assert "CRS EPSG:2326" in lines[1]
    assert "4 pads, 3 corridors, 3 geofences (2 exclusions, 1 boundary)" in lines[3]
    assert lines[5].startswith("    C1 Over-water test loop: 20-60 m AGL, capacity 3, ")
    assert "over water" in lines[5]
    assert lines[6].startswith(
        "    C2 Maritime route to Cheung Chau: 30-90 m AGL, capacity 2, length "
    )
    assert "half-width 50 m" in lines[6]
    assert lines[7].startswith("    C3 Campus crossing: 60-90 m AGL, capacity 1, ")
    assert lines[7].endswith("over land")
    assert result.stderr == ""


def test_validate_lists_every_problem_of_a_broken_file_and_exits_1(
    tmp_path: Path,
) -> None:
    path = broken_copy_of_demo(tmp_path)

    result = runner.invoke(site_app, ["validate", str(path)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}: 2 problems in site:",
        "  - corridor C1: capacity must be an integer >= 1, got 'two'",
        "  - corridor C3: ceiling 120 m AGL is above the site limit of 90 m AGL",
    ]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("absent.geojson", None, "no such file"),
        ("garbage.kml", b"\x00\xff not a site \x13", "cannot read it as a site file"),
        ("empty.geojson", b'{"type": "FeatureCollection", "features": []}', "holds no"),
    ],
    ids=["missing", "garbage", "no-features"],
)
def test_validate_explains_a_file_that_is_not_a_site(
    tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    result = runner.invoke(site_app, ["validate", str(path)])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}: {reason}")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("fmt", list(SiteFormat))
def test_export_writes_the_demo_site_in_each_format(
    tmp_path: Path, fmt: SiteFormat
) -> None:
    output = tmp_path / f"demo.{fmt}"

    result = runner.invoke(
        site_app, ["export", "--format", fmt.value, "--output", str(output)]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote site cyberport-pier as {fmt} to {output}\n"
    assert load_site(output) == load_site(demo_site_path())


def test_export_converts_a_given_site_file(tmp_path: Path) -> None:
    source = tmp_path / "source.gpkg"
    runner.invoke(site_app, ["export", "--format", "gpkg", "--output", str(source)])
    output = tmp_path / "copy.kml"

    result = runner.invoke(
        site_app, ["export", "--site", str(source), "--output", str(output)]
    )

    assert result.exit_code == 0, result.output
    assert load_site(output) == load_site(source)


def test_export_refuses_an_output_suffix_it_cannot_map_to_a_format(
    tmp_path: Path,
) -> None:
    output = tmp_path / "demo.shp"

    result = runner.invoke(site_app, ["export", "--output", str(output)])

    assert result.exit_code == 1
    assert "cannot tell the format from the suffix '.shp'" in result.stderr
    assert not output.exists()


def test_export_of_a_broken_site_writes_nothing(tmp_path: Path) -> None:
    output = tmp_path / "out.kml"

    result = runner.invoke(
        site_app,
        ["export", "--site", str(broken_copy_of_demo(tmp_path)), "-o", str(output)],
    )

    assert result.exit_code == 1
    assert "capacity must be an integer >= 1, got 'two'" in result.stderr
    assert not output.exists()


def test_site_commands_are_mounted_on_the_skyberth_cli() -> None:
    from web.cli import app

    result = runner.invoke(app, ["site", "validate", str(demo_site_path())])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Site cyberport-pier")


def test_validate_gives_the_reference_point_in_hk1980_and_the_ground_in_mpd() -> None:
    result = runner.invoke(site_app, ["validate", str(demo_site_path())])

    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    assert last.startswith("  HK1980 Grid (EPSG:2326) E 831323.17 N 813533.60; ")
    # Ground 5 m AMSL, approximate reference MSL = +1.23 mPD.
    assert "ground 6.23 mPD approx." in last


def test_validate_uses_the_sites_surveyed_mpd_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKYBERTH_MPD_OFFSET_M", '{"cyberport-pier": 1.31}')
    monkeypatch.setenv("SKYBERTH_MPD_BENCHMARK", '{"cyberport-pier": "BM 7"}')
    result = runner.invoke(site_app, ["validate", str(demo_site_path())])

    assert "ground 6.31 mPD (offset +1.31 m surveyed at BM 7)" in result.stdout


def test_a_geojson_site_written_in_hk1980_grid_loads_like_the_lonlat_one(
    tmp_path: Path,
) -> None:
    # Site files may be written in EPSG:2326 (GeoJSON's legacy "crs" member, as
    # GDAL reads and writes it); positions come out the same in lon/lat.
    demo = load_site(demo_site_path())
    path = tmp_path / "grid.geojson"
    frame = gpd.read_file(demo_site_path()).to_crs("EPSG:2326")
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    written = json.loads(path.read_text())
    assert "2326" in json.dumps(written["crs"])
    first = written["features"][0]["geometry"]["coordinates"]
    assert first[0] > 800_000  # easting first, as always_xy keeps it

    grid = load_site(path)
    assert grid.ref_lon_deg == pytest.approx(demo.ref_lon_deg, abs=1e-8)
    assert grid.ref_lat_deg == pytest.approx(demo.ref_lat_deg, abs=1e-8)
    assert grid.pad("P2").geometry_m.distance(demo.pad("P2").geometry_m) < 0.001
