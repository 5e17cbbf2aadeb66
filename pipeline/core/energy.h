/* Energy of a run: CPU package energy from RAPL (/sys/class/powercap) where the
 * kernel exposes it and we may read it, GPU energy from NVML where a GPU was used.
 * A counter that cannot be read is reported as not available — never as zero. */
#ifndef MOWCHECK_ENERGY_H
#define MOWCHECK_ENERGY_H

#include <stdint.h>

enum { ENERGY_MAX_DOMAINS = 16 };

typedef struct energy_meter {
    int n_cpu_domains;                          /* RAPL package domains found */
    char cpu_paths[ENERGY_MAX_DOMAINS][512];    /* their energy_uj files */
    uint64_t cpu_start_uj[ENERGY_MAX_DOMAINS];
    uint64_t cpu_range_uj[ENERGY_MAX_DOMAINS];  /* the counter wraps at this value */
    int gpu_available;
    uint64_t gpu_start_mj;
    char cpu_unavailable_reason[128];
    char gpu_unavailable_reason[128];
} energy_meter;

typedef struct energy_reading {
    int cpu_available;
    double cpu_joules;
    int gpu_available;
    double gpu_joules;
} energy_reading;

/* Starts measuring. with_gpu: also read the GPU (only when the run uses one).
 * The powercap root is /sys/class/powercap unless MOWCHECK_POWERCAP_ROOT says otherwise. */
void energy_start(energy_meter *m, int with_gpu);

/* Energy since energy_start (counter wrap-around handled once per domain). */
void energy_read(const energy_meter *m, energy_reading *r);

/* "12.3 J" or "not available (reason)". */
void energy_format(int available, double joules, const char *reason, char *buf, unsigned size);

/* Energy per parcel-date: a run's joules over the parcel observations it wrote. */
typedef enum {
    ENERGY_PER_OK = 0,            /* *joules_per is the quotient */
    ENERGY_PER_NOT_AVAILABLE,     /* no energy reading, or the count is unknown (n < 0) */
    ENERGY_PER_NOTHING_WRITTEN,   /* the run wrote no parcel observation: no quotient */
} energy_per_status;

energy_per_status energy_per_parcel_date(int available, double joules, int64_t n_written,
                                         double *joules_per);
/* "0.0123 J", "not available (reason)" or "none: no parcel observations written". */
void energy_per_format(energy_per_status status, double joules_per, const char *reason,
                       char *buf, unsigned size);

#endif
