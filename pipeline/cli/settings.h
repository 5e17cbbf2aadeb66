/* The agency's settings: one table of names, read from the config file, then
 * the environment (MOWCHECK_<NAME>), then command-line flags (--name value),
 * each overriding the one before. Names use underscores in files and the
 * environment and dashes on the command line (min_valid_share, --min-valid-share). */
#ifndef MOWCHECK_SETTINGS_H
#define MOWCHECK_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

typedef struct mc_settings {
    /* common */
    char *db;          /* libpq DSN; empty: private cluster in state_dir */
    char *state_dir;
    char *config;      /* the file these came from, if any */
    char *device;      /* auto | cpu | cuda */
    int threads;       /* 0: all cores */
    /* ingest */
    char *id_field;
    double inner_buffer_m;
    double parcel_overlap_share; /* overlaps above this share of a parcel: warned, flagged */
    int64_t min_valid_pixels;
    double min_valid_share;
    char *scl_valid_classes; /* comma-separated SCL classes counted as clear, e.g. "4,5" */
    /* detect */
    char *model;       /* model file; empty: the shipped default */
    /* run: where no energy counter can be read, an estimate from CPU time at this
     * many watts per busy core (NAN, unset: no estimate) */
    double cpu_watts_per_core;
    /* decide */
    double approval_min_confidence; /* an event's confidence for an automatic approval;
                                     * NAN (unset): the model's approval_threshold */
    /* registry (the exchange API; registry_client.h) */
    char *registry_url;      /* security server base URL */
    char *registry_service;  /* INSTANCE/CLASS/MEMBER/SUBSYSTEM of the registry */
    char *registry_client;   /* our X-Road-Client */
    char *registry_user_id;  /* X-Road-UserId: the responsible official */
    char *registry_tls_cert, *registry_tls_key, *registry_tls_ca; /* mutual TLS */
    int registry_timeout_ms;
    int registry_max_attempts;
    int registry_backoff_ms;
    int registry_max_url_bytes;
    int registry_breaker_failures; /* consecutive exchange failures that stop the asking */
    int registry_allow_plain_http; /* 1: http:// with client-certificate settings (development) */
} mc_settings;

/* Defaults, then the file named by config_path (may be NULL), then the environment. */
int settings_load(mc_settings *s, const char *config_path);
/* Sets one setting by name ("min_valid_share" or "min-valid-share"); checks the value. */
int settings_set(mc_settings *s, const char *name, const char *value);
/* 1 if name is a known setting. */
int settings_known(const char *name);
/* The setting nearest to a misspelt name ('-' and '_' alike), or NULL where none is near. */
const char *settings_nearest(const char *name);
void settings_free(mc_settings *s);

/* Derived values, checked. */
int settings_device(const mc_settings *s, kernel_device *device);
int settings_scl_mask(const mc_settings *s, uint16_t *mask);
/* Checks before any stage runs (a night must not fail after hours of ingest): the
 * device, the SCL classes, the state directory where no DSN is set, a model file that
 * is named. */
int settings_check_common(const mc_settings *s);
/* The registry settings (url: --registry, else registry_url): an http(s) URL, the
 * responsible official's registry_user_id, and TLS files that can work (present,
 * PEM, the key matching the certificate). */
int settings_check_registry(const mc_settings *s, const char *url);

/* The state directory: the setting, else $XDG_STATE_HOME/mowcheck, else ~/.local/state/mowcheck. */
int settings_state_dir(const mc_settings *s, char *buf, size_t size);

#endif
