/* export flagged: GeoJSON and GeoPackage opened with OGR (count = flagged claims in the
 * database, properties equal to the database's, geometry reprojected to EPSG:4326, and
 * what the report shows: p_mowed, tile, scheme, window, rule, events), CSV with quoting
 * read back by GDAL's CSV driver with the types of its .csvt, its CRS through the .prj
 * and the .vrt; ogrinfo on every export (SRS EPSG:4326, count, typed fields); the
 * season filter, a parcel missing from the file, and the mowcheck command line.
 *
 * usage: test_report_gis MOWCHECK_BINARY */
#include "report_gis.h"
#include "report_test.h"

static char dir[256];
static const char *mowcheck_bin;

static size_t export_to(store *st, report_gis_format fmt, int season, const char *path)
{
    report_gis_options o = {.season = season, .format = fmt, .output = path,
                            .observed = {.min_valid_pixels = 1, .min_valid_share = 0.5,
                                         .season = season}};
    size_t n = 0;
    int rc = report_flagged_export(st, &o, &n);
    if (rc != MC_OK)
        fprintf(stderr, "export %s: %s\n", path, mc_error_message());
    REQUIRE(rc == MC_OK);
    return n;
}

static const fixture_claim *claim_of(const char *claim_id)
{
    for (int i = 0; i < N_FIXTURE; i++)
        if (strcmp(fixture_claims[i].claim, claim_id) == 0)
            return &fixture_claims[i];
    return NULL;
}

static const char *field(OGRFeatureH f, const char *name)
{
    int i = OGR_F_GetFieldIndex(f, name);
    CHECK_MSG(i >= 0, "no property %s", name);
    return i >= 0 && OGR_F_IsFieldSetAndNotNull(f, i) ? OGR_F_GetFieldAsString(f, i) : NULL;
}

/* P-1's south-west corner (500000, 6500000) in UTM 35N lies on the central meridian:
 * longitude 27 exactly. The latitude of northing 6500000 there is 58.6 and a bit; every
 * parcel's south edge has that latitude, and parcel k lies about 1 km * k east. */
static void check_geometry(OGRFeatureH f, const char *parcel)
{
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    if (strcmp(parcel, "P-MISSING") == 0) {
        CHECK_MSG(g == NULL, "P-MISSING should have no geometry");
        return;
    }
    REQUIRE(g != NULL);
    CHECK_STR(OGR_G_GetGeometryName(g), "POLYGON");
    OGREnvelope e;
    OGR_G_GetEnvelope(g, &e);
    int k = strcmp(parcel, "P-1") == 0 ? 0 : strcmp(parcel, "P-2") == 0 ? 1 : 2;
    /* 1 km at 58.6 N is 1 / (111.32 * cos 58.6) = 0.01725 degrees of longitude */
    CHECK_NEAR(e.MinX, 27.0 + 0.01725 * k, 0.0002);
    CHECK(e.MinY > 58.6 && e.MinY < 58.7);
    /* 100 m: 0.0009 degrees of latitude */
    CHECK_NEAR(e.MaxY - e.MinY, 100.0 / 111200.0, 0.00002);
}

static void check_geojson(const char *path, int season)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    REQUIRE(ds != NULL);
    REQUIRE(GDALDatasetGetLayerCount(ds) == 1);
    OGRLayerH layer = GDALDatasetGetLayer(ds, 0);
    CHECK_INT(OGR_L_GetFeatureCount(layer, 1), fixture_flagged_count(season));
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(layer);
    REQUIRE(srs != NULL);
    const char *auth = OSRGetAuthorityCode(srs, NULL);
    CHECK_STR(auth ? auth : "", "4326");
    OGRFeatureH f;
    int seen_hostile = 0, seen_reviewed = 0;
    while ((f = OGR_L_GetNextFeature(layer)) != NULL) {
        const char *claim_id = field(f, "claim_id");
        const fixture_claim *c = claim_id ? claim_of(claim_id) : NULL;
        REQUIRE(c != NULL);
        CHECK(strcmp(c->outcome, "not_mowed") == 0 || strcmp(c->outcome, "inconclusive") == 0);
        CHECK_STR(field(f, "parcel_id"), c->parcel);
        CHECK_STR(field(f, "outcome"), c->outcome);
        CHECK_INT(OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "season")), c->season);
        char *number = fixture_case(c->claim, c->season);
        CHECK(*number != '\0');
        CHECK_STR(field(f, "case_number"), number);
        free(number);
        const char *reviewed = field(f, "reviewed"), *reason = field(f, "reason");
        REQUIRE(reason != NULL);
        if (strcmp(c->claim, "C-1") == 0) {
            seen_reviewed = 1;
            CHECK_STR(reviewed ? reviewed : "(null)", "mowed");
            CHECK(strstr(reason, "Reviewed by inspector inspector-1") == reason);
            CHECK(strstr(reason, hostile_note) != NULL);
        } else {
            CHECK_MSG(reviewed == NULL, "claim %s: reviewed %s", c->claim, reviewed);
            char expected[200];
            snprintf(expected, sizeof expected, "Reason for %s: <no mowing> & \"seen\"", c->claim);
            CHECK_STR(reason, expected);
        }
        seen_hostile |= strcmp(c->parcel, hostile_parcel) == 0;
        check_geometry(f, c->parcel);
        OGR_F_Destroy(f);
    }
    CHECK(seen_hostile == (season != 2025));
    CHECK(seen_reviewed == (season != 2025));
    GDALClose(ds);
}

/* The CSV read back by GDAL's CSV driver (RFC 4180 quoting): the hostile parcel id and
 * note arrive intact, and the wkt column holds the polygon. */
static void check_csv(const char *path)
{
    const char *oo[] = {"HEADERS=YES", NULL};
    const char *drivers[] = {"CSV", NULL};
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, drivers, oo, NULL);
    REQUIRE(ds != NULL);
    OGRLayerH layer = GDALDatasetGetLayer(ds, 0);
    CHECK_INT(OGR_L_GetFeatureCount(layer, 1), fixture_flagged_count(2026));
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
    const char *cols[] = {"claim_id", "parcel_id", "season", "outcome", "case_number",
                          "reviewed", "reason", "wkt", "p_mowed", "tile", "scheme",
                          "window_start", "window_end", "rule", "n_events", "event_dates"};
    REQUIRE(OGR_FD_GetFieldCount(defn) == 16);
    for (int i = 0; i < 16; i++)
        CHECK_STR(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)), cols[i]);
    /* the types of the .csvt */
    CHECK_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, 2)), OFTInteger);
    CHECK_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, 8)), OFTReal);
    CHECK_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, 11)), OFTDate);
    OGRFeatureH f;
    int n_hostile = 0;
    while ((f = OGR_L_GetNextFeature(layer)) != NULL) {
        const fixture_claim *c = claim_of(OGR_F_GetFieldAsString(f, 0));
        REQUIRE(c != NULL);
        CHECK_STR(OGR_F_GetFieldAsString(f, 1), c->parcel);
        CHECK_STR(OGR_F_GetFieldAsString(f, 3), c->outcome);
        const char *wkt = OGR_F_GetFieldAsString(f, 7);
        if (strcmp(c->parcel, "P-MISSING") == 0)
            CHECK_STR(wkt, "");
        else
            CHECK(strncmp(wkt, "POLYGON ((27", 12) == 0 || strncmp(wkt, "POLYGON ((27.", 13) == 0);
        if (strcmp(c->claim, "C-1") == 0) {
            CHECK_STR(OGR_F_GetFieldAsString(f, 5), "mowed");
            CHECK(strstr(OGR_F_GetFieldAsString(f, 6), hostile_note) != NULL);
        }
        if (strcmp(c->claim, "C-2") == 0) {
            CHECK_NEAR(OGR_F_GetFieldAsDouble(f, 8), 0.91, 1e-6);
            CHECK_STR(OGR_F_GetFieldAsString(f, 15), "2026-06-11/2026-06-21");
        }
        n_hostile += strcmp(c->parcel, hostile_parcel) == 0;
        OGR_F_Destroy(f);
    }
    CHECK_INT(n_hostile, 1);
    GDALClose(ds);
}

/* What the report shows, per claim (fixture_series: P-1 P 0.05, P-2 P 0.55 with an
 * event 06-11..06-21, both on tile 35VLF; the others have neither). */
static void check_extras(const char *path)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    REQUIRE(ds != NULL);
    OGRLayerH layer = GDALDatasetGetLayerByName(ds, "flagged");
    REQUIRE(layer != NULL);
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(layer);
    const char *auth = srs ? OSRGetAuthorityCode(srs, NULL) : NULL;
    CHECK_STR(auth ? auth : "", "4326");
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
    CHECK_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, OGR_FD_GetFieldIndex(defn, "p_mowed"))),
              OFTReal);
    CHECK_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, OGR_FD_GetFieldIndex(defn,
                                                                             "window_end"))),
              OFTDate);
    OGRFeatureH f;
    int seen = 0;
    while ((f = OGR_L_GetNextFeature(layer)) != NULL) {
        const char *claim = field(f, "claim_id");
        REQUIRE(claim != NULL);
        CHECK_STR(field(f, "scheme"), "GRASS-1CUT");
        CHECK_STR(field(f, "window_start"), "2026/06/01");
        CHECK_STR(field(f, "window_end"), "2026/08/31");
        CHECK_STR(field(f, "rule"), claim_of(claim)->rule);
        int p = OGR_F_GetFieldIndex(f, "p_mowed");
        /* p_mowed is the figure the rule used: the most confident event touching the
         * window (P-1 has none; the season's largest candidate p, 0.05, is not it) */
        if (strcmp(claim, "C-1") == 0 || strcmp(claim, "C-5") == 0) {
            CHECK_NEAR(OGR_F_GetFieldAsDouble(f, p), 0.0, 1e-9);
            CHECK_STR(field(f, "tile"), "35VLF");
            CHECK_STR(field(f, "n_events"), "0");
            CHECK(field(f, "event_dates") == NULL);
            seen++;
        } else if (strcmp(claim, "C-2") == 0) {
            CHECK_NEAR(OGR_F_GetFieldAsDouble(f, p), 0.91, 1e-6);
            CHECK_STR(field(f, "event_dates"), "2026-06-11/2026-06-21");
            CHECK_STR(field(f, "n_events"), "1");
            seen++;
        } else {
            CHECK(!OGR_F_IsFieldSetAndNotNull(f, p) && field(f, "tile") == NULL);
        }
        OGR_F_Destroy(f);
    }
    CHECK_INT(seen, 3);
    GDALClose(ds);
}

/* ogrinfo, as a GIS user runs it: the CRS is known and the fields are typed. */
static void check_ogrinfo(const char *file, const char *extra_expected)
{
    char cmd[1200], *out = NULL;
    snprintf(cmd, sizeof cmd, "ogrinfo -ro -so -al '%s/%s' 2>&1", dir, file);
    CHECK_INT(run_capture(cmd, &out), 0);
    CHECK_MSG(strstr(out, "ID[\"EPSG\",4326]") != NULL, "%s: SRS not EPSG:4326:\n%s", file,
              out);
    CHECK_MSG(strstr(out, "Feature Count: 5") != NULL, "%s: count:\n%s", file, out);
    CHECK_MSG(strstr(out, "p_mowed: Real") != NULL, "%s: p_mowed not Real:\n%s", file, out);
    CHECK_MSG(strstr(out, extra_expected) != NULL, "%s: '%s' missing:\n%s", file,
              extra_expected, out);
    free(out);
}

static void check_cli(void)
{
    char out[400], cmd[1200];
    snprintf(out, sizeof out, "%s/cli.geojson", dir);
    snprintf(cmd, sizeof cmd, "'%s' export flagged --season 2026 --format geojson -o '%s' --db '%s'",
             mowcheck_bin, out, db_dsn);
    CHECK_INT(system(cmd), 0);
    check_geojson(out, 2026);
    /* stdout: a header and the 5 flagged claims of 2026 (no reason holds a newline) */
    snprintf(cmd, sizeof cmd, "test \"$('%s' export flagged --season 2026 --format csv --db '%s'"
                              " 2>/dev/null | wc -l)\" = 6", mowcheck_bin, db_dsn);
    CHECK_INT(system(cmd), 0);
    /* a device is written in place, never renamed over */
    snprintf(cmd, sizeof cmd, "'%s' export flagged -o /dev/null --db '%s' 2>/dev/null && test -c"
                              " /dev/null", mowcheck_bin, db_dsn);
    CHECK_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' export flagged --format kml --db '%s' 2>/dev/null",
             mowcheck_bin, db_dsn);
    int st = system(cmd);
    CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 2);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    mowcheck_bin = argv[1];
    db_create("report_gis");
    snprintf(dir, sizeof dir, "/tmp/mowcheck-report-gis-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    char parcels[400], path[400];
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", dir);
    fixture_parcels(parcels);
    store *st = db_store();
    fixture_store(st, parcels);
    fixture_series();

    CHECK_INT(fixture_flagged_count(2026), 5);
    snprintf(path, sizeof path, "%s/flagged.geojson", dir);
    CHECK_INT(export_to(st, REPORT_GIS_GEOJSON, 2026, path), 5);
    check_geojson(path, 2026);
    snprintf(path, sizeof path, "%s/all.geojson", dir);
    CHECK_INT(export_to(st, REPORT_GIS_GEOJSON, 0, path), 6);
    check_geojson(path, 0);
    snprintf(path, sizeof path, "%s/2025.geojson", dir);
    CHECK_INT(export_to(st, REPORT_GIS_GEOJSON, 2025, path), 1);
    check_geojson(path, 2025);
    snprintf(path, sizeof path, "%s/flagged.geojson", dir);
    check_extras(path);
    snprintf(path, sizeof path, "%s/flagged.gpkg", dir);
    CHECK_INT(export_to(st, REPORT_GIS_GPKG, 2026, path), 5);
    check_extras(path);
    snprintf(path, sizeof path, "%s/flagged.csv", dir);
    CHECK_INT(export_to(st, REPORT_GIS_CSV, 2026, path), 5);
    check_csv(path);
    check_ogrinfo("flagged.gpkg", "window_start: Date");
    check_ogrinfo("flagged.geojson", "window_end: Date");
    check_ogrinfo("flagged.vrt", "Geometry: Polygon");
    /* the .prj beside the CSV holds the WKT of EPSG:4326 */
    snprintf(path, sizeof path, "%s/flagged.prj", dir);
    char *prj = slurp(path);
    CHECK(strncmp(prj, "GEOGCS[\"WGS 84\"", 15) == 0 && strstr(prj, "AUTHORITY[\"EPSG\",\"4326\"]"));
    free(prj);
    check_cli();

    store_close(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    db_drop();
    return test_summary();
}
