/* Running the real tether binary in integration tests: a temp dir with a
 * config and a routes file, `tether run -c ... --port 127.0.0.1:0
 * --port-file ...`, and the port read back. */
#ifndef TT_TEST_TETHER_H
#define TT_TEST_TETHER_H

#include "support.h"

typedef struct tt_tether_s {
    tt_proc_t *proc;
    int port;
    int control_port; /* the publish API */
    int https_port;   /* the first https_ports listener, 0 if none */
    char *dir;
    char *conf;   /* path of the config file */
    char *routes; /* path of the routes file */
    char *log;    /* path of tether's log */
} tt_tether_t;

/* Start tether with `conf` as the config file text (a [tether] section etc.;
 * NULL for an empty file) and `routes` as the routes file text. `extra` are
 * more command line arguments (NULL-terminated, may be NULL). Returns 0 or
 * -1 (the log is printed to stderr then). */
int tt_tether_start(tt_tether_t *t, const char *conf, const char *routes,
                    const char *const *extra);
/* Ask tether to stop (stdin EOF, which works on every OS), wait up to 15 s
 * for exit (then kill), remove the temp dir.
 * Returns the exit status, or -1 if it had to be killed. */
int tt_tether_stop(tt_tether_t *t);
/* Tether's log so far (malloc'd). */
char *tt_tether_log(const tt_tether_t *t);
/* Poll the log until it contains `needle`, up to timeout_ms. Returns 1 if found. */
int tt_tether_wait_log(const tt_tether_t *t, const char *needle, int timeout_ms);
/* Run `tether ARGS...` to completion (bounded), capturing its output into a
 * malloc'd string *out; returns the exit status or -1 on timeout. */
int tt_tether_cli(const char *const *args, char **out);
/* POST `json` to the control API's /publish; returns the HTTP status (or -1)
 * and leaves the response in *r when r is not NULL. */
int tt_tether_publish(const tt_tether_t *t, const char *json, tt_resp_t *r);
/* A 127.0.0.1 port where nothing listens (bound, then closed). */
int tt_dead_port(void);

#endif
