/* Joules per parcel-date: a reading from a RAPL tree laid out as the kernel does,
 * divided by the parcel observations written; "none" without observations and "not
 * available" without a reading — never a made-up number. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "energy.h"
#include "test.h"

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/mowcheck-energy-per-XXXXXX");
    REQUIRE(mkdtemp(root) != NULL);
    char zone[128];
    snprintf(zone, sizeof zone, "%s/intel-rapl:0", root);
    REQUIRE(mkdir(zone, 0755) == 0);
    put("intel-rapl:0/name", "package-0\n");
    put("intel-rapl:0/energy_uj", "2000000\n");
    put("intel-rapl:0/max_energy_range_uj", "262143328850\n");
    setenv("MOWCHECK_POWERCAP_ROOT", root, 1);

    /* 12.5 J over 500 parcel observations: 0.025 J each */
    energy_meter m;
    energy_start(&m, 0);
    put("intel-rapl:0/energy_uj", "14500000\n");
    energy_reading r;
    energy_read(&m, &r);
    REQUIRE(r.cpu_available);
    CHECK_NEAR(r.cpu_joules, 12.5, 1e-9);
    double per = -1;
    char text[160];
    CHECK_INT(energy_per_parcel_date(r.cpu_available, r.cpu_joules, 500, &per), ENERGY_PER_OK);
    CHECK_NEAR(per, 0.025, 1e-12);
    energy_per_format(ENERGY_PER_OK, per, NULL, text, sizeof text);
    CHECK_STR(text, "0.025 J");
    /* 12.5 J over 3 observations: 4.1666... J, three significant digits */
    CHECK_INT(energy_per_parcel_date(1, 12.5, 3, &per), ENERGY_PER_OK);
    CHECK_NEAR(per, 12.5 / 3, 1e-12);
    energy_per_format(ENERGY_PER_OK, per, NULL, text, sizeof text);
    CHECK_STR(text, "4.17 J");

    /* nothing written: no quotient, said in words */
    CHECK_INT(energy_per_parcel_date(1, 12.5, 0, &per), ENERGY_PER_NOTHING_WRITTEN);
    energy_per_format(ENERGY_PER_NOTHING_WRITTEN, per, NULL, text, sizeof text);
    CHECK_STR(text, "none: no parcel observations written");

    /* no counter (this VM): not available with the reason, whatever was written */
    setenv("MOWCHECK_POWERCAP_ROOT", "/nonexistent/powercap", 1);
    energy_start(&m, 0);
    energy_read(&m, &r);
    CHECK(!r.cpu_available);
    energy_per_status st = energy_per_parcel_date(r.cpu_available, r.cpu_joules, 500, &per);
    CHECK_INT(st, ENERGY_PER_NOT_AVAILABLE);
    energy_per_format(st, per, m.cpu_unavailable_reason, text, sizeof text);
    CHECK(strncmp(text, "not available (no RAPL counters", 31) == 0);
    /* an unknown count (the ingest stage did not say) is not available either */
    CHECK_INT(energy_per_parcel_date(1, 12.5, -1, &per), ENERGY_PER_NOT_AVAILABLE);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    return test_summary();
}
