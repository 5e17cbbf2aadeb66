#include "energy.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_u64(const char *path, uint64_t *value)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fscanf(f, "%" SCNu64, value) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

static int read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *got = fgets(buf, (int)size, f);
    fclose(f);
    if (!got)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* Package domains are the top-level zones named "package-N" (their subzones, core
 * and dram, are parts of the package and would count twice). */
static void find_cpu_domains(energy_meter *m)
{
    const char *root = getenv("MOWCHECK_POWERCAP_ROOT");
    if (!root || !*root)
        root = "/sys/class/powercap";
    DIR *dir = opendir(root);
    if (!dir) {
        snprintf(m->cpu_unavailable_reason, sizeof m->cpu_unavailable_reason,
                 "no RAPL counters (%s: %s)", root, strerror(errno));
        return;
    }
    struct dirent *e;
    int denied = 0;
    while ((e = readdir(dir)) && m->n_cpu_domains < ENERGY_MAX_DOMAINS) {
        /* intel-rapl:0 is a package; intel-rapl:0:0 a subzone (AMD uses the same names). */
        if (strncmp(e->d_name, "intel-rapl:", 11) != 0 || strchr(e->d_name + 11, ':'))
            continue;
        char path[600], name[64];
        snprintf(path, sizeof path, "%s/%s/name", root, e->d_name);
        if (read_line(path, name, sizeof name) != 0 || strncmp(name, "package", 7) != 0)
            continue;
        int i = m->n_cpu_domains;
        snprintf(m->cpu_paths[i], sizeof m->cpu_paths[i], "%s/%s/energy_uj", root, e->d_name);
        snprintf(path, sizeof path, "%s/%s/max_energy_range_uj", root, e->d_name);
        if (read_u64(m->cpu_paths[i], &m->cpu_start_uj[i]) != 0) {
            denied = 1; /* since Linux 5.10 energy_uj is readable by root only */
            continue;
        }
        if (read_u64(path, &m->cpu_range_uj[i]) != 0)
            m->cpu_range_uj[i] = 0;
        m->n_cpu_domains++;
    }
    closedir(dir);
    if (m->n_cpu_domains == 0)
        snprintf(m->cpu_unavailable_reason, sizeof m->cpu_unavailable_reason, "%s",
                 denied ? "RAPL counters not readable (root only)" : "no RAPL package counters");
}

/* NVML is loaded at run time so that mowcheck needs no NVIDIA library to build or run. */
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_get_handle_fn)(unsigned int, void **);
typedef int (*nvml_get_energy_fn)(void *, unsigned long long *);

static int gpu_energy_mj(uint64_t *mj, char *reason, size_t reason_size)
{
    static void *lib;
    static nvml_get_energy_fn get_energy;
    static void *device;
    if (!lib) {
        lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            snprintf(reason, reason_size, "NVML not found");
            return -1;
        }
        nvml_init_fn init = (nvml_init_fn)dlsym(lib, "nvmlInit_v2");
        nvml_get_handle_fn get_handle =
            (nvml_get_handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
        get_energy = (nvml_get_energy_fn)dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption");
        if (!init || !get_handle || !get_energy || init() != 0 || get_handle(0, &device) != 0) {
            snprintf(reason, reason_size, "NVML could not open GPU 0");
            get_energy = NULL;
            return -1;
        }
    }
    unsigned long long value;
    if (!get_energy || get_energy(device, &value) != 0) {
        snprintf(reason, reason_size, "GPU energy counter not supported");
        return -1;
    }
    *mj = value;
    return 0;
}

void energy_start(energy_meter *m, int with_gpu)
{
    memset(m, 0, sizeof *m);
    find_cpu_domains(m);
    if (!with_gpu)
        snprintf(m->gpu_unavailable_reason, sizeof m->gpu_unavailable_reason, "no GPU used");
    else if (gpu_energy_mj(&m->gpu_start_mj, m->gpu_unavailable_reason,
                           sizeof m->gpu_unavailable_reason) == 0)
        m->gpu_available = 1;
}

void energy_read(const energy_meter *m, energy_reading *r)
{
    memset(r, 0, sizeof *r);
    r->cpu_available = m->n_cpu_domains > 0;
    for (int i = 0; i < m->n_cpu_domains; i++) {
        uint64_t now;
        if (read_u64(m->cpu_paths[i], &now) != 0) {
            r->cpu_available = 0;
            break;
        }
        uint64_t delta = now >= m->cpu_start_uj[i] ? now - m->cpu_start_uj[i]
                                                   : now + m->cpu_range_uj[i] - m->cpu_start_uj[i];
        r->cpu_joules += (double)delta / 1e6;
    }
    if (!r->cpu_available)
        r->cpu_joules = 0;
    if (m->gpu_available) {
        uint64_t now;
        char reason[128];
        if (gpu_energy_mj(&now, reason, sizeof reason) == 0 && now >= m->gpu_start_mj) {
            r->gpu_available = 1;
            r->gpu_joules = (double)(now - m->gpu_start_mj) / 1e3;
        }
    }
}

void energy_format(int available, double joules, const char *reason, char *buf, unsigned size)
{
    if (available)
        snprintf(buf, size, "%.1f J", joules);
    else
        snprintf(buf, size, "not available (%s)", reason && *reason ? reason : "no counter");
}

energy_per_status energy_per_parcel_date(int available, double joules, int64_t n_written,
                                         double *joules_per)
{
    *joules_per = 0;
    if (!available || n_written < 0 || !(joules >= 0))
        return ENERGY_PER_NOT_AVAILABLE;
    if (n_written == 0)
        return ENERGY_PER_NOTHING_WRITTEN;
    *joules_per = joules / (double)n_written;
    return ENERGY_PER_OK;
}

void energy_per_format(energy_per_status status, double joules_per, const char *reason,
                       char *buf, unsigned size)
{
    if (status == ENERGY_PER_OK)
        snprintf(buf, size, "%.3g J", joules_per);
    else if (status == ENERGY_PER_NOTHING_WRITTEN)
        snprintf(buf, size, "none: no parcel observations written");
    else
        snprintf(buf, size, "not available (%s)", reason && *reason ? reason : "no counter");
}
