/* The application: owns the loop's subsystems, starts them from the
 * configuration, reloads the routes, and stops in order. */
#ifndef TT_APP_H
#define TT_APP_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"

#define TT_MAX_CLI_PORTS 16
#define TT_MAX_CLI_ROUTES 64

typedef struct tt_app_opts_s {
    const char *config_path;             /* NULL: built-in defaults */
    const char *ports[TT_MAX_CLI_PORTS]; /* --port values, override http_port */
    int n_ports;
    const char *routes[TT_MAX_CLI_ROUTES]; /* --route lines, override the routes file */
    int n_routes;
    int log_level;         /* -1: from the config */
    const char *port_file; /* write "http addr:port" lines once listening */
    bool watch_stdin;      /* stop when stdin reaches EOF (the parent went away) */
} tt_app_opts_t;

/* Load and check the configuration as `run` would, printing every diagnostic
 * to `out`. Returns 0 when it is usable. */
int tt_app_check_config(const tt_app_opts_t *opts, FILE *out);

/* Run until stopped; returns the process exit status. */
int tt_app_run(const tt_app_opts_t *opts);

#endif
