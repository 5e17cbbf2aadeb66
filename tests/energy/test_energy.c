/* Energy: RAPL counters read from a powercap tree laid out as the kernel does,
 * including wrap-around and subzones that must not count twice; "not available"
 * where there is nothing to read. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "energy.h"
#include "test.h"

static char root[256];

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void make_zone(const char *zone, const char *name, const char *energy, const char *range)
{
    char dir[512], rel[300];
    snprintf(dir, sizeof dir, "%s/%s", root, zone);
    mkdir(dir, 0755);
    snprintf(rel, sizeof rel, "%s/name", zone);
    write_file(rel, name);
    snprintf(rel, sizeof rel, "%s/energy_uj", zone);
    write_file(rel, energy);
    snprintf(rel, sizeof rel, "%s/max_energy_range_uj", zone);
    write_file(rel, range);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/mowcheck-energy-XXXXXX");
    REQUIRE(mkdtemp(root) != NULL);
    setenv("MOWCHECK_POWERCAP_ROOT", root, 1);

    /* Two packages; package 1 wraps during the run; a core subzone is ignored. */
    make_zone("intel-rapl:0", "package-0\n", "1000000\n", "262143328850\n");
    make_zone("intel-rapl:1", "package-1\n", "262143000000\n", "262143328850\n");
    make_zone("intel-rapl:0:0", "core\n", "500\n", "262143328850\n");

    energy_meter m;
    energy_start(&m, 0);
    CHECK_INT(m.n_cpu_domains, 2);
    write_file("intel-rapl:0/energy_uj", "13500000\n");   /* +12.5 J */
    write_file("intel-rapl:1/energy_uj", "671150\n");     /* wrapped: +328850 + 671150 uJ = 1 J */
    write_file("intel-rapl:0:0/energy_uj", "999999999\n");
    energy_reading r;
    energy_read(&m, &r);
    CHECK(r.cpu_available);
    CHECK_NEAR(r.cpu_joules, 13.5, 1e-9);
    CHECK(!r.gpu_available);

    char text[200];
    energy_format(r.cpu_available, r.cpu_joules, m.cpu_unavailable_reason, text, sizeof text);
    CHECK_STR(text, "13.5 J");
    energy_format(r.gpu_available, r.gpu_joules, m.gpu_unavailable_reason, text, sizeof text);
    CHECK_STR(text, "not available (no GPU used)");

    /* No powercap tree at all: not available, and the reading is not a made-up zero. */
    setenv("MOWCHECK_POWERCAP_ROOT", "/nonexistent/powercap", 1);
    energy_start(&m, 0);
    energy_read(&m, &r);
    CHECK(!r.cpu_available);
    energy_format(r.cpu_available, r.cpu_joules, m.cpu_unavailable_reason, text, sizeof text);
    CHECK(strncmp(text, "not available (no RAPL counters", 31) == 0);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    return test_summary();
}
