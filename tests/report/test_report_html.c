/* The inspector report: the index lists every flagged claim of the database once with
 * its case number, linked to the case's own page (cases/CASE.html, which links back to
 * the index's #case= anchor); hostile strings escaped (the only <script> is ours); the
 * case page's NDVI time line drawn from the stored observations and events (dots, cloud
 * marks, window, events) and its image chips with the colour scale; the index's SVG map
 * of the flagged parcels (from the parcel file, coloured by outcome, each linked to its
 * case); nothing fetched from the network; the footer's runs with "not available"
 * energy; --lang et in Estonian; and the `mowcheck report` command writing the report
 * and both GIS exports.
 *
 * usage: test_report_html MOWCHECK_BINARY
 *
 * Observations (fixture of report_test.h plus): tile 35VLF, six dates 06-01 .. 07-21
 * every 10 days; P-1 clear (NDVI 0.6) on 06-01, 06-11, 07-01, 07-21 and without a valid
 * pixel on 06-21 and 07-11; P-2 clear on all six; an event of P-2 06-11..06-21 (06-16, 0.91). */
#include <cpl_vsi.h>
#include <openssl/evp.h>

#include "report.h"
#include "report_test.h"

static char dir[256];

static char *read_all(const char *path)
{
    char *text = slurp(path); /* harness.h */
    REQUIRE(text != NULL);
    return text;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The text of the table row whose parcel cell is `escaped_parcel` (first such row). */
static char *row_of(const char *html, const char *escaped_parcel)
{
    char needle[300];
    snprintf(needle, sizeof needle, "<td>%s</td>", escaped_parcel);
    const char *p = strstr(html, needle);
    REQUIRE(p != NULL);
    const char *start = p;
    while (start > html && strncmp(start, "<tr ", 4) != 0)
        start--;
    const char *end = strstr(p, "</tr>");
    REQUIRE(end != NULL);
    return strndup(start, (size_t)(end - start));
}

static char *escaped(const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    report_html_escape(m, text);
    fclose(m);
    return buf;
}

/* The case page of a claim (season 2026). */
static char *case_page(const char *claim)
{
    char *number = fixture_case(claim, 2026), path[600];
    snprintf(path, sizeof path, "%s/cases/%s.html", dir, number);
    free(number);
    return read_all(path);
}

/* Nothing fetched from the network. */
static void check_offline(const char *html)
{
    CHECK_INT(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK_INT(count(html, " src="), count(html, " src=\"data:image/png;base64,"));
    CHECK(strstr(html, "<link") == NULL);
    CHECK(strstr(html, "@import") == NULL);
    CHECK_INT(count(html, "url("), count(html, "url(#ndvi)"));
}

static void check_report(const char *html, int season)
{
    CHECK_INT(count(html, " data-outcome="), fixture_flagged_count(season));
    for (int i = 0; i < N_FIXTURE; i++) {
        const fixture_claim *c = &fixture_claims[i];
        int flagged = strcmp(c->outcome, "approved") != 0 && (!season || c->season == season);
        char *number = fixture_case(c->claim, c->season);
        char link[200];
        snprintf(link, sizeof link, "<a href=\"cases/%s.html\">%s</a>", number, number);
        if (flagged)
            CHECK_MSG(*number && strstr(html, link), "claim %s: case %s (link) missing",
                      c->claim, number);
        free(number);
        char cell[64];
        snprintf(cell, sizeof cell, ">%s</td>", c->claim);
        CHECK_INT(count(html, cell), flagged);
    }
    /* escaping: the raw strings never appear, the escaped ones do */
    CHECK(strstr(html, hostile_parcel) == NULL);
    CHECK(strstr(html, hostile_note) == NULL);
    CHECK(strstr(html, "<b>fine</b>") == NULL);
    CHECK(strstr(html, "P-&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;amp;") != NULL);
    CHECK(strstr(html, "Looked &lt;b&gt;fine&lt;/b&gt; &amp; &quot;mowed&quot;") != NULL);
    CHECK_INT(count(html, "<script"), 1);
    CHECK_INT(count(html, "</script>"), 1);
    check_offline(html);
    /* cards on a narrow screen: each cell says what it is */
    CHECK(strstr(html, "#claims td:nth-child(1)::before{content:\"Case\" \": \"}") != NULL);
    CHECK(strstr(html, "#claims td:nth-child(7)::before{content:\"P(mowed)\" \": \"}") != NULL);
}

/* The map: P-1's two claims (not_mowed) and P-2 and the hostile parcel (inconclusive)
 * are drawn and linked to their case; P-MISSING (not in the parcel file) is not. */
static void check_map(const char *html)
{
    const char *start = strstr(html, "<section class=\"map\">"),
               *end = start ? strstr(start, "</section>") : NULL;
    REQUIRE(start != NULL && end != NULL);
    char *map = strndup(start, (size_t)(end - start));
    CHECK_INT(count(map, "<a class=\"parcel not_mowed\" href=\"cases/"), 2);
    CHECK_INT(count(map, "<a class=\"parcel inconclusive\" href=\"cases/"), 2);
    char *number = fixture_case("C-7", 2026), link[200];
    snprintf(link, sizeof link, "href=\"cases/%s.html\"", number);
    CHECK(strstr(map, link) == NULL);
    free(number);
    number = fixture_case("C-2", 2026);
    snprintf(link, sizeof link, "href=\"cases/%s.html\"><title>%s P-2 (inconclusive)</title>"
                                "<path d=\"M", number, number);
    CHECK_MSG(strstr(map, link) != NULL, "map: no outline of P-2 linked to %s", number);
    free(number);
    CHECK(strstr(map, hostile_parcel) == NULL);
    free(map);
}

/* A parcel file where P-MISSING lies 200 km east: on that map a 100 m parcel is under
 * half a pixel wide, so every parcel is a dot without an outline, and P-MISSING has one. */
static void check_map_far(store *st, const report_options *english, const char *path)
{
    char far[600], cmd[2400];
    snprintf(far, sizeof far, "%s/far.gpkg", dir);
    snprintf(cmd, sizeof cmd, "cp '%s/parcels.gpkg' '%s' && ogrinfo -q '%s' -sql \"INSERT INTO"
                              " parcels (parcel_id, geom) VALUES ('P-MISSING',"
                              " ST_GeomFromText('POLYGON ((700000 6500000, 700100 6500000,"
                              " 700100 6500100, 700000 6500100, 700000 6500000))', 32635))\""
                              " >/dev/null", dir, far, far);
    REQUIRE(system(cmd) == 0);
    report_options o = *english;
    o.parcels_path = far;
    o.id_field = "parcel_id";
    o.chips = 0;
    size_t n;
    REQUIRE(report_inspector_write(st, &o, path, &n) == MC_OK);
    char *html = read_all(path);
    const char *start = strstr(html, "<section class=\"map\">"),
               *end = start ? strstr(start, "</section>") : NULL;
    REQUIRE(start && end);
    char *map = strndup(start, (size_t)(end - start));
    CHECK_INT(count(map, "<path d="), 0);
    CHECK_INT(count(map, "<circle "), 5);
    free(map);
    free(html);
}

/* Every case page links back to its row of the index and is offline. */
static void check_case_pages(void)
{
    for (int i = 0; i < N_FIXTURE; i++) {
        const fixture_claim *c = &fixture_claims[i];
        if (c->season != 2026 || strcmp(c->outcome, "approved") == 0)
            continue;
        char *page = case_page(c->claim), *number = fixture_case(c->claim, 2026), back[200];
        snprintf(back, sizeof back, "<a href=\"../report.html#case=%s\">", number);
        CHECK_MSG(strstr(page, back) != NULL, "%s: no link back", number);
        CHECK_INT(count(page, "<script"), 0);
        check_offline(page);
        free(number);
        free(page);
    }
}

static void check_timelines(void)
{
    char *p1 = case_page("C-1");
    CHECK_INT(count(p1, "class=\"obs\""), 4);
    CHECK_INT(count(p1, "class=\"cloud\""), 2);
    CHECK(strstr(p1, "<title>2026-06-21 lost to cloud</title>") != NULL);
    CHECK(strstr(p1, "<title>2026-06-01 NDVI 0.600</title>") != NULL);
    CHECK_INT(count(p1, "class=\"event\""), 0);
    CHECK_INT(count(p1, "class=\"window\""), 1);
    CHECK(strstr(p1, "scheme window 2026-06-01 to 2026-08-31") != NULL);
    CHECK(strstr(p1, "4 clear of 6 dates; 0 event(s)") != NULL);
    free(p1);
    char *p2 = case_page("C-2");
    CHECK_INT(count(p2, "class=\"obs\""), 6);
    CHECK_INT(count(p2, "class=\"cloud\""), 0);
    CHECK_INT(count(p2, "class=\"event\""), 1);
    CHECK(strstr(p2, "mowing between 2026-06-11 and 2026-06-21 (about 2026-06-16), confidence 0.91")
          != NULL);
    CHECK(strstr(p2, "<title>2026-06-01 NDVI 0.700</title>") != NULL);
    free(p2);
    char *ph = case_page("C-3");
    CHECK_INT(count(ph, "class=\"obs\""), 0);
    CHECK(strstr(ph, hostile_parcel) == NULL);
    free(ph);
}

/* The index's data for the filters. */
static void check_rows(const char *html)
{
    char *p1 = row_of(html, "P-1"); /* C-1 (first of P-1's two claims) */
    CHECK(strstr(p1, "data-p=\"0.00\"") != NULL); /* no event touches the window */
    char *p2 = row_of(html, "P-2"); /* its event in the window, 0.91: the rule's figure */
    CHECK(strstr(p2, "data-p=\"0.91\"") != NULL);
    free(p2);
    CHECK(strstr(p1, "data-tile=\"35VLF\"") != NULL);
    CHECK(strstr(p1, "data-review=\"mowed\"") != NULL);
    CHECK(strstr(p1, "4 clear of 6 dates; 0 event(s)") != NULL);
    /* the rule in the report's words before the decision's reason; none for rule "test" */
    CHECK(strstr(p1, "<td class=\"reason\"><strong>Clear views throughout the window, fewer"
                     " mowings than required.</strong> Reviewed by inspector") != NULL);
    free(p1);
    char *h = escaped(hostile_parcel);
    char *ph = row_of(html, h);
    CHECK(strstr(ph, "data-tile=\"\"") != NULL && strstr(ph, "data-p=\"\"") != NULL);
    CHECK(strstr(ph, "data-review=\"\"") != NULL);
    CHECK(strstr(ph, "<td class=\"reason\">Reason for C-3") != NULL);
    free(ph);
    free(h);
}

static void check_footer(const char *html)
{
    const char *f = strstr(html, "<footer>");
    REQUIRE(f != NULL);
    CHECK(strstr(f, "run started 2026-11-01 02:00:00 UTC (ok): 90.0 s, CPU energy 12.5 J") != NULL);
    CHECK(strstr(f, "decide started") != NULL);
    const char *d = strstr(f, "decide started");
    CHECK(d && strstr(d, "energy: not available") != NULL);
}

static void fixture_bands(const char *name, int n_bands)
{
    char scene[400], path[500];
    snprintf(scene, sizeof scene, "%s/%s", dir, name);
    REQUIRE(mkdir(scene, 0777) == 0);
    const char *bands[] = {"B04", "B08", "B03", "B02"};
    const int dn[] = {1500, 5000, 1800, 1300};
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 32635);
    for (int b = 0; b < n_bands; b++) {
        snprintf(path, sizeof path, "%s/%s.tif", scene, bands[b]);
        GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, 300, 300, 1, GDT_UInt16,
                                     NULL);
        REQUIRE(ds != NULL);
        double gt[6] = {499500, 10, 0, 6501500, 0, -10};
        GDALSetGeoTransform(ds, gt);
        GDALSetSpatialRef(ds, srs);
        REQUIRE(GDALFillRaster(GDALGetRasterBand(ds, 1), dn[b], 0) == CE_None);
        GDALClose(ds);
    }
    OSRDestroySpatialReference(srs);
    PGconn *c = db_connect();
    char q[700];
    snprintf(q, sizeof q, "UPDATE scenes SET path = '%s' WHERE acquired_on = '%s'", scene,
             strcmp(name, "scene-0611") == 0 ? "2026-06-11" : "2026-06-21");
    sql(c, q);
    PQfinish(c);
}

/* B04/B08 (and on 06-11 the optional B03/B02) of 300 x 300 px at 10 m from (499500,
 * 6501500), UTM 35N, everywhere red DN 1500, NIR DN 5000, green DN 1800, blue DN 1300
 * (offset -1000: reflectance 0.05, 0.40, 0.08, 0.03; NDVI 0.35 / 0.45 = 0.7778); the
 * scenes of 06-11 and 06-21 (P-2's event) point at them. */
static void fixture_tiffs(void)
{
    fixture_bands("scene-0611", 4);
    fixture_bands("scene-0621", 2);
}

/* P-2 (501000..501100 E, 6500000..6500100 N) plus 30 m: source columns 147..162, rows
 * 137..152 (16 x 16 px), upscaled by ceil(64 / 16) = 4 to 64 x 64. The west edge (x 501000)
 * is the boundary between source columns 149 and 150: chip column 12. NDVI 0.7778:
 * t = 0.8642 of the ramp (165,120,80) -> (20,140,40) = (40, 137, 45). True colour:
 * 255 * sqrt(reflectance / 0.3) = (104, 132, 81). */
static void check_chip(const char *b64, const int expected[3])
{
    size_t len = strlen(b64);
    unsigned char *png = malloc(len);
    int n = EVP_DecodeBlock(png, (const unsigned char *)b64, (int)len);
    REQUIRE(n > 8);
    CHECK(memcmp(png, "\x89PNG", 4) == 0);
    VSILFILE *f = VSIFileFromMemBuffer("/vsimem/test-chip.png", png, (vsi_l_offset)n, FALSE);
    REQUIRE(f != NULL);
    VSIFCloseL(f);
    GDALDatasetH ds = GDALOpen("/vsimem/test-chip.png", GA_ReadOnly);
    REQUIRE(ds != NULL);
    CHECK_INT(GDALGetRasterXSize(ds), 64);
    CHECK_INT(GDALGetRasterYSize(ds), 64);
    REQUIRE(GDALGetRasterCount(ds) == 3);
    unsigned char px[3];
    for (int b = 0; b < 3; b++) {
        REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Read, 32, 32, 1, 1, &px[b], 1, 1,
                             GDT_Byte, 0, 0) == CE_None);
        CHECK_INT(px[b], expected[b]);
    }
    unsigned char edge[2][3];
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < 2; k++)
            REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Read, 11 + k, 32, 1, 1,
                                 &edge[k][b], 1, 1, GDT_Byte, 0, 0) == CE_None);
    int magenta = 0;
    for (int k = 0; k < 2; k++)
        magenta |= edge[k][0] == 255 && edge[k][1] == 0 && edge[k][2] == 255;
    CHECK_MSG(magenta, "no outline at the west edge (chip column 11/12)");
    unsigned char corner[3];
    for (int b = 0; b < 3; b++)
        REQUIRE(GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Read, 0, 0, 1, 1, &corner[b], 1, 1,
                             GDT_Byte, 0, 0) == CE_None);
    CHECK_INT(corner[1], expected[1]);
    GDALClose(ds);
    VSIUnlink("/vsimem/test-chip.png");
    free(png);
}

/* The n-th image of a page (0-based), as base64. */
static char *image_b64(const char *page, int n)
{
    const char *src = page;
    for (int k = 0; k <= n && src; k++) {
        src = strstr(src, "base64,");
        src = src ? src + strlen("base64,") : NULL;
    }
    REQUIRE(src != NULL);
    const char *end = strchr(src, '"');
    REQUIRE(end != NULL);
    return strndup(src, (size_t)(end - src));
}

static void check_chips(void)
{
    static const int ndvi[3] = {40, 137, 45}, true_colour[3] = {104, 132, 81};
    char *p2 = case_page("C-2");
    /* 06-11: NDVI and true colour; 06-21 has no B02/B03: NDVI only */
    CHECK_INT(count(p2, "<img "), 3);
    CHECK_INT(count(p2, "alt=\"before 2026-06-11\""), 2);
    CHECK_INT(count(p2, "alt=\"after 2026-06-21\""), 1);
    char *b64 = image_b64(p2, 0);
    check_chip(b64, ndvi);
    free(b64);
    b64 = image_b64(p2, 1);
    check_chip(b64, true_colour);
    free(b64);
    /* a click enlarges (a checkbox in the label); the colour scale and the date beside */
    CHECK(strstr(p2, "<label><input type=\"checkbox\"><img alt=\"before 2026-06-11\"") != NULL);
    CHECK(strstr(p2, "<figcaption>NDVI, before 2026-06-11</figcaption>") != NULL);
    CHECK(strstr(p2, "<figcaption>true colour, before 2026-06-11</figcaption>") != NULL);
    CHECK(strstr(p2, "<figcaption>true colour, after") == NULL);
    CHECK(strstr(p2, "<linearGradient id=\"ndvi\"><stop offset=\"0\" stop-color=\"rgb(165,120,80)\"/>")
          != NULL);
    free(p2);
    char *p1 = case_page("C-1"); /* its dates' scenes have no files: no image */
    CHECK_INT(count(p1, "<img "), 0);
    CHECK(strstr(p1, "no image") != NULL);
    free(p1);
}

/* --lang et: the words of et/report.conf, the same data. */
static void check_estonian(store *st, const report_options *english, const char *path)
{
    report_options o = *english;
    o.lang = "et";
    size_t n;
    REQUIRE(report_inspector_write(st, &o, path, &n) == MC_OK);
    char *html = read_all(path);
    CHECK(strstr(html, "<html lang=\"et\">") != NULL);
    CHECK(strstr(html, "<h1>Märgitud taotlused</h1>") != NULL);
    CHECK(strstr(html, ">niitmata</td>") != NULL && strstr(html, ">ebaselge</td>") != NULL);
    CHECK(strstr(html, ">üle vaatamata</td>") != NULL);
    CHECK(strstr(html, "Flagged claims") == NULL && strstr(html, "not reviewed") == NULL);
    CHECK(strstr(html, "run algas 2026-11-01 02:00:00 UTC (ok): 90.0 s, protsessori energia 12.5 J")
          != NULL);
    CHECK(strstr(html, "energia pole teada") != NULL && strstr(html, "not available") == NULL);
    CHECK(strstr(html, "<strong>Selged vaated kogu ajavahemiku jooksul, nõutust vähem niitmisi."
                       "</strong>") != NULL);
    free(html);
    char *p1 = case_page("C-1");
    CHECK(strstr(p1, "<title>2026-06-21 pilve all</title>") != NULL);
    CHECK(strstr(p1, ">juuni</text>") != NULL);
    free(p1);
    o.lang = "xx";
    CHECK(report_inspector_write(st, &o, path, &n) != MC_OK);
    CHECK(strstr(mc_error_message(), "xx/report.conf") != NULL);
}

static void check_cli(const char *mowcheck_bin)
{
    char out[400], cmd[1400];
    snprintf(out, sizeof out, "%s/cli", dir);
    snprintf(cmd, sizeof cmd, "'%s' report -o '%s' --season 2026 --db '%s' 2>/dev/null",
             mowcheck_bin, out, db_dsn);
    CHECK_INT(system(cmd), 0);
    const char *files[] = {"report.html", "flagged.geojson", "flagged.csv", "flagged.gpkg",
                           "flagged.prj", "flagged.csvt", "flagged.vrt"};
    for (int i = 0; i < 7; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        CHECK_MSG(access(path, R_OK) == 0, "%s not written", path);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = read_all(path);
    check_report(html, 2026);
    free(html);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    db_create("report_html");
    snprintf(dir, sizeof dir, "/tmp/mowcheck-report-html-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    char parcels[400], path[400];
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", dir);
    fixture_parcels(parcels);
    store *st = db_store();
    fixture_store(st, parcels);
    fixture_series();
    fixture_tiffs();

    report_options o = {.season = 2026, .chips = 1,
                        .observed = {.min_valid_pixels = 1, .min_valid_share = 0.5,
                                     .season = 2026}};
    snprintf(path, sizeof path, "%s/report.html", dir);
    size_t n = 0;
    int rc = report_inspector_write(st, &o, path, &n);
    if (rc != MC_OK)
        fprintf(stderr, "report: %s\n", mc_error_message());
    REQUIRE(rc == MC_OK);
    CHECK_INT((long)n, 5);
    char *html = read_all(path);
    check_report(html, 2026);
    check_rows(html);
    check_map(html);
    check_footer(html);
    free(html);
    check_timelines();
    check_chips();
    check_case_pages();
    check_estonian(st, &o, path);
    check_map_far(st, &o, path);

    /* a page no longer listed is removed; the listed ones stay */
    char stale[600];
    snprintf(stale, sizeof stale, "%s/cases/MC-2026-000099-00.html", dir);
    FILE *sf = fopen(stale, "w");
    REQUIRE(sf != NULL);
    fclose(sf);
    o.season = 0;
    REQUIRE(report_inspector_write(st, &o, path, &n) == MC_OK);
    CHECK_INT((long)n, 6);
    CHECK(access(stale, F_OK) != 0);
    char *c6 = fixture_case("C-6", 2025), page[600];
    snprintf(page, sizeof page, "%s/cases/%s.html", dir, c6);
    CHECK(access(page, R_OK) == 0);
    free(c6);
    html = read_all(path);
    check_report(html, 0);
    free(html);
    check_cli(argv[1]);

    store_close(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    db_drop();
    return test_summary();
}
