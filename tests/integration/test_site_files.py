"""Site files on disk: the demo site, exact round-trips in every format, bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from airspace.errors import SiteFileError, SiteValidationError
from airspace.site import GeofenceKind, Site
from airspace.site_features import site_to_feature_collection, site_to_features
from airspace.site_files import (
    SiteFormat,
    demo_site_path,
    format_for_path,
    load_site,
    save_site,
)
from airspace.site_parse import parse_site
from airspace.volume import AltitudeRef

SUFFIXES = {
    SiteFormat.GEOJSON: ".geojson",
    SiteFormat.KML: ".kml",
    SiteFormat.GPKG: ".gpkg",
}


def awkward_site() -> Site:
    """A site with everything a format might mangle: 9-decimal coordinates,
    clockwise rings, thirds, AMSL bands, text with accents, an auto CRS."""
    ref = (114.128912345, 22.260654321)

    def feature(geometry: Any, **properties: Any) -> dict[str, Any]:
        return {"geometry": geometry, "properties": properties}

    clockwise = Polygon(
        [
            (114.126012345, 22.261098765),
            (114.126012345, 22.262012345),
            (114.127587654, 22.262012345),
            (114.127587654, 22.261098765),
        ]
    )
    return parse_site(
        [
            feature(
                Point(*ref),
                kind="site",
                id="awkward",
                name="Café pier «test»",
                crs="auto",
                ground_elev_m=4.333333333,
                max_alt_agl_m=120.0,
                timezone="Asia/Hong_Kong",
                description="Line one.\nLine two, with ünïcödé.",
            ),
            feature(
                Point(114.129012345, 22.260712345),
                kind="pad",
                id="P1",
                name="Pad",
                charger=True,
                max_takeoff_mass_kg=1 / 3,
                turnaround_min=7.5,
            ),
            feature(
                clockwise,
                kind="corridor",
                id="C1",
                name="Loop",
                floor_m=22.2,
                ceiling_m=64.1,
                alt_ref="AMSL",
                capacity=3,
                over_water=True,
            ),
            feature(
                LineString(
                    [
                        (114.128412345, 22.260312345),
                        (114.125012345, 22.258012345),
                        (114.120098765, 22.255054321),
                    ]
                ),
                kind="corridor",
                id="C2",
                name="Route",
                floor_m=30.0,
                ceiling_m=119.5,
                capacity=2,
                over_water=True,
                half_width_m=47.25,
                over_water_segments="0,1",
            ),
            feature(
                Polygon(
                    [
                        (114.132, 22.2565),
                        (114.1345, 22.2565),
                        (114.1345, 22.2585),
                        (114.132, 22.2565),
                    ]
                ),
                kind="exclusion",
                id="X1",
                name="Block",
                floor_m=0.0,
                ceiling_m=40.0,
            ),
        ]
    )


def coordinates(site: Site) -> list[np.ndarray[Any, Any]]:
    shapes: list[shapely.Geometry] = [p.geometry_lonlat for p in site.pads]
    shapes += [c.geometry_lonlat for c in site.corridors]
    shapes += [g.geometry_lonlat for g in site.geofences]
    return [shapely.get_coordinates(shape) for shape in shapes]


def assert_identical(loaded: Site, original: Site) -> None:
    assert loaded == original  # dataclass equality: every property, exact geometry
    assert (loaded.ref_lon_deg, loaded.ref_lat_deg) == (
        original.ref_lon_deg,
        original.ref_lat_deg,
    )
    for got, want in zip(coordinates(loaded), coordinates(original), strict=True):
        np.testing.assert_array_equal(got, want)


def test_demo_site_is_the_cyberport_pier_in_the_hong_kong_grid() -> None:
    site = load_site(demo_site_path())

    assert site.metric_crs == "EPSG:2326"
    assert site.timezone == "Asia/Hong_Kong"
    assert site.max_alt_agl_m == 90
    assert site.ref_lat_deg == pytest.approx(22.2606, abs=1e-3)
    assert site.ref_lon_deg == pytest.approx(114.1289, abs=1e-3)
    assert "approximate" in site.description
    assert "not for navigation" in site.description


def test_demo_site_has_pads_with_and_without_chargers() -> None:
    site = load_site(demo_site_path())

    assert len(site.pads) >= 4
    assert {pad.charger for pad in site.pads} == {True, False}
    assert {pad.max_takeoff_mass_kg for pad in site.pads} >= {25.0, 7.0}
    assert all(5 <= pad.turnaround_min <= 10 for pad in site.pads)


def test_demo_site_has_the_three_kinds_of_corridor() -> None:
    site = load_site(demo_site_path())
    loop, route, campus = site.corridors

    assert isinstance(loop.geometry_lonlat, Polygon)
    assert (loop.capacity, loop.over_water) == (3, True)
    assert isinstance(route.geometry_lonlat, LineString)
    assert (route.capacity, route.half_width_m) == (2, 50.0)
    assert (route.band.floor_m, route.band.ceiling_m) == (30.0, 90.0)
    assert route.over_water_segments
    assert 0 not in route.over_water_segments  # the first leg crosses the pier
    cheung_chau = Point(route.geometry_lonlat.coords[-1])
    assert cheung_chau.distance(Point(114.028, 22.209)) < 0.005
    assert (campus.capacity, campus.over_water) == (1, False)
    assert (campus.band.floor_m, campus.band.ceiling_m) == (60.0, 90.0)


def test_demo_site_corridors_stay_inside_the_boundary_and_clear_of_exclusions() -> None:
    site = load_site(demo_site_path())
    boundary = site.boundary

    assert boundary is not None
    assert len(site.exclusions) >= 2
    assert any(e.band is not None for e in site.exclusions)
    for corridor in site.corridors:
        assert boundary.volume.outline.covers(corridor.volume.outline)
        for exclusion in site.exclusions:
            shares_band = (
                corridor.volume.floor_amsl_m < exclusion.volume.ceiling_amsl_m
                and exclusion.volume.floor_amsl_m < corridor.volume.ceiling_amsl_m
            )
            if shares_band:
                assert not corridor.volume.outline.intersects(exclusion.volume.outline)


def test_demo_file_is_indented_geojson_equal_to_its_export() -> None:
    text = demo_site_path().read_text(encoding="utf-8")
    collection = json.loads(text)

    assert "\n  " in text
    exported = site_to_feature_collection(load_site(demo_site_path()))
    assert collection["features"] == json.loads(json.dumps(exported["features"]))


@pytest.mark.parametrize("fmt", list(SiteFormat))
def test_demo_site_round_trips_exactly(fmt: SiteFormat, tmp_path: Path) -> None:
    site = load_site(demo_site_path())

    path = save_site(site, tmp_path / f"site{SUFFIXES[fmt]}")

    assert_identical(load_site(path), site)


@pytest.mark.parametrize("fmt", list(SiteFormat))
def test_awkward_site_round_trips_exactly(fmt: SiteFormat, tmp_path: Path) -> None:
    site = awkward_site()

    path = save_site(site, tmp_path / f"site{SUFFIXES[fmt]}")
    loaded = load_site(path)

    assert_identical(loaded, site)
    assert loaded.corridor("C1").band.ref is AltitudeRef.AMSL
    assert loaded.pad("P1").max_takeoff_mass_kg == 0.333333


@pytest.mark.parametrize(
    "order",
    [
        (SiteFormat.GEOJSON, SiteFormat.KML, SiteFormat.GPKG, SiteFormat.GEOJSON),
        (SiteFormat.GPKG, SiteFormat.KML, SiteFormat.GEOJSON, SiteFormat.KML),
    ],
    ids=["geojson-kml-gpkg-geojson", "gpkg-kml-geojson-kml"],
)
@pytest.mark.parametrize(
    "make_site", [awkward_site, lambda: load_site(demo_site_path())]
)
def test_site_survives_a_chain_of_formats(
    order: tuple[SiteFormat, ...], make_site: Any, tmp_path: Path
) -> None:
    original = make_site()
    site = original

    for step, fmt in enumerate(order):
        site = load_site(save_site(site, tmp_path / f"step{step}{SUFFIXES[fmt]}"))

    assert_identical(site, original)


def test_given_format_wins_over_the_suffix(tmp_path: Path) -> None:
    site = load_site(demo_site_path())

    path = save_site(site, tmp_path / "site.data", SiteFormat.GPKG)

    assert path.read_bytes().startswith(b"SQLite format 3")  # a GeoPackage
    assert load_site(path) == site


def test_json_suffix_means_geojson(tmp_path: Path) -> None:
    assert format_for_path(tmp_path / "x.JSON") is SiteFormat.GEOJSON


def test_saving_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "site.gpkg"
    save_site(awkward_site(), path)

    save_site(load_site(demo_site_path()), path)

    assert [str(name) for name, _ in pyogrio.list_layers(path)] == ["site"]
    assert load_site(path) == load_site(demo_site_path())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.gpkg"]


def test_saving_with_an_unknown_suffix_asks_for_a_format(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError, match=r"cannot tell the format .*'\.shp'"):
        save_site(load_site(demo_site_path()), tmp_path / "site.shp")


def test_refuses_kml_text_that_gdal_would_corrupt(tmp_path: Path) -> None:
    features = site_to_features(load_site(demo_site_path()))
    features[0]["properties"]["description"] = "ends a CDATA ]]> early"
    site = parse_site(features)

    with pytest.raises(SiteFileError, match=r"site cyberport-pier .* holds '\]\]>'"):
        save_site(site, tmp_path / "site.kml")
    assert list(tmp_path.iterdir()) == []


def test_saving_into_a_missing_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError, match="does not exist"):
        save_site(load_site(demo_site_path()), tmp_path / "nowhere" / "site.kml")


def test_reads_the_site_layer_of_a_file_with_several(tmp_path: Path) -> None:
    path = tmp_path / "site.gpkg"
    save_site(load_site(demo_site_path()), path)
    extra = gpd.GeoDataFrame({"note": ["x"]}, geometry=[Point(0, 0)], crs="EPSG:4326")
    extra.to_file(path, layer="aaa_notes", driver="GPKG", engine="pyogrio")

    assert load_site(path) == load_site(demo_site_path())


def test_loads_a_file_in_a_projected_crs_as_lon_lat(tmp_path: Path) -> None:
    demo = load_site(demo_site_path())
    frame = gpd.read_file(demo_site_path(), engine="pyogrio").to_crs("EPSG:2326")
    path = tmp_path / "grid.gpkg"
    frame.to_file(path, driver="GPKG", engine="pyogrio")

    site = load_site(path)

    assert site.ref_lon_deg == pytest.approx(demo.ref_lon_deg, abs=1e-8)
    assert site.ref_lat_deg == pytest.approx(demo.ref_lat_deg, abs=1e-8)
    assert len(site.corridors) == len(demo.corridors)


def test_ignores_z_coordinates(tmp_path: Path) -> None:
    collection = site_to_feature_collection(load_site(demo_site_path()))
    for feature in collection["features"]:
        feature["geometry"] = shapely.geometry.mapping(
            shapely.force_3d(shapely.geometry.shape(feature["geometry"]), 42.0)
        )
    path = tmp_path / "with_z.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")

    assert load_site(path) == load_site(demo_site_path())


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


BAD_FILES = [
    pytest.param(
        "random.geojson", os.urandom(512), "cannot read it", id="random-geojson"
    ),
    pytest.param("random.kml", os.urandom(512), "cannot read it", id="random-kml"),
    pytest.param("random.gpkg", os.urandom(4096), "cannot read it", id="random-gpkg"),
    pytest.param("hello.json", b"hello", "cannot read it", id="text-json"),
    pytest.param(
        "empty.geojson",
        b'{"type": "FeatureCollection", "features": []}',
        "holds no features",
        id="no-features",
    ),
    pytest.param("blank.kml", b"", "cannot read it", id="empty-file"),
]


@pytest.mark.parametrize(("name", "data", "reason"), BAD_FILES)
def test_rejects_a_file_that_is_not_a_site(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = write_bytes(tmp_path, name, data)

    with pytest.raises(SiteFileError) as caught:
        load_site(path)

    assert str(caught.value).startswith(f"{path}: {reason}")


def test_rejects_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError, match="no such file"):
        load_site(tmp_path / "absent.geojson")


def test_rejects_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError, match="not a file"):
        load_site(tmp_path)


def test_reports_every_problem_of_a_broken_file(tmp_path: Path) -> None:
    collection = site_to_feature_collection(load_site(demo_site_path()))
    features = collection["features"]
    features[1]["properties"]["charger"] = "perhaps"
    features[5]["properties"]["capacity"] = "two"
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")

    with pytest.raises(SiteValidationError) as caught:
        load_site(path)

    assert [str(p) for p in caught.value.problems] == [
        "pad P1: charger must be true or false, got 'perhaps'",
        "corridor C1: capacity must be an integer >= 1, got 'two'",
    ]


def test_boundary_of_a_loaded_site_is_a_boundary_geofence() -> None:
    site = load_site(demo_site_path())

    assert site.boundary is not None
    assert site.boundary.kind is GeofenceKind.BOUNDARY
