#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

static const cli_option *find_option(const cli_option *options, const char *name, size_t len)
{
    for (const cli_option *o = options; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static void print_help(const char *usage, const cli_option *options)
{
    printf("%s\n", usage);
    if (options && options->name)
        printf("\nOptions:\n");
    for (const cli_option *o = options; o && o->name; o++)
        printf("  --%-22s %s\n", o->name, o->help ? o->help : "");
    printf("\nCommon: --config FILE, --db DSN, --state-dir DIR, --device auto|cpu|cuda,\n"
           "        --threads N, --quiet, --verbose, --help; any setting as --name value.\n"
           "More: man mowcheck (SETTINGS, EXIT STATUS, FILES).\n");
}

/* The value of --config, looked up before anything else so the file loads first. */
static const char *find_config_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

int cli_parse(int argc, char **argv, const char *usage, const cli_option *options,
              mc_settings *s, const char **positional, int *n_positional)
{
    *n_positional = 0;
    if (settings_load(s, find_config_flag(argc, argv)) != MC_OK) {
        log_error("%s", mc_error_message());
        return CLI_ERR;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            positional[(*n_positional)++] = arg;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const char *inline_value = eq ? eq + 1 : NULL;

        if (strcmp(name, "help") == 0) {
            print_help(usage, options);
            return CLI_HELP;
        }
        if (strcmp(name, "quiet") == 0) {
            log_set_level(LOG_WARN);
            continue;
        }
        if (strcmp(name, "verbose") == 0) {
            log_set_level(LOG_DEBUG);
            continue;
        }
        const cli_option *o = find_option(options, name, name_len);
        char setting_name[64];
        if (!o && name_len < sizeof setting_name) {
            memcpy(setting_name, name, name_len);
            setting_name[name_len] = '\0';
        } else {
            setting_name[0] = '\0';
        }
        if (!o && !settings_known(setting_name)) {
            const char *near = settings_nearest(setting_name);
            char hint[96] = "";
            if (near) {
                snprintf(hint, sizeof hint, "did you mean --");
                for (size_t k = strlen(hint); *near && k + 2 < sizeof hint; near++)
                    hint[k++] = *near == '_' ? '-' : *near, hint[k] = '\0';
                strncat(hint, "? ", sizeof hint - strlen(hint) - 1);
            }
            log_error("unknown option --%.*s (%ssee %s --help)", (int)name_len, name, hint,
                      argv[0]);
            return CLI_ERR;
        }
        if (o && !o->value) { /* a switch */
            if (inline_value) {
                log_error("--%s takes no value", o->name);
                return CLI_ERR;
            }
            if (o->is_set)
                *o->is_set = 1;
            continue;
        }
        const char *value = inline_value;
        if (!value) {
            if (i + 1 >= argc) {
                log_error("--%.*s needs a value", (int)name_len, name);
                return CLI_ERR;
            }
            value = argv[++i];
        }
        if (o) {
            *o->value = value;
            if (o->is_set)
                *o->is_set = 1;
        } else if (settings_set(s, setting_name, value) != MC_OK) {
            log_error("%s", mc_error_message());
            return CLI_ERR;
        }
    }
    return CLI_OK;
}

void cli_put_text_char(FILE *out, char c)
{
    unsigned char u = (unsigned char)c;
    fputc(u < 0x20 || u == 0x7f ? '?' : u, out);
}

void cli_put_text(FILE *out, const char *text)
{
    for (const char *c = text ? text : ""; *c; c++)
        cli_put_text_char(out, *c);
}

int cli_absolute_path(const char *option, const char *path, char *buf, size_t size)
{
    if (strncmp(path, "/vsi", 4) == 0 || strchr(path, ':')) {
        snprintf(buf, size, "%s", path);
        return MC_OK;
    }
    char resolved[PATH_MAX];
    if (!realpath(path, resolved))
        return mc_fail("--%s %s: %s", option, path,
                       errno == ENOENT ? "no such file or folder" : strerror(errno));
    int n = snprintf(buf, size, "%s", resolved);
    if (n < 0 || (size_t)n >= size)
        return mc_fail("--%s %s: path too long", option, path);
    return MC_OK;
}

int cli_quiet_stdout_begin(void)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
    if (saved < 0 || null < 0 || dup2(null, STDOUT_FILENO) < 0) {
        if (saved >= 0)
            close(saved);
        saved = -1;
    }
    if (null >= 0)
        close(null);
    return saved;
}

void cli_quiet_stdout_end(int saved)
{
    if (saved < 0)
        return;
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
}
