/* The configuration in force: settings and routes, immutable and shared by
 * reference. A reload builds a new snapshot and swaps it in; requests that
 * started under the old one keep it alive until they finish. */
#ifndef TT_SNAPSHOT_H
#define TT_SNAPSHOT_H

#include "config.h"
#include "route.h"

typedef struct tt_tls_config_s tt_tls_config_t;

typedef struct tt_snapshot_s {
    int refs;
    tt_config_t *cfg;
    tt_routes_t *routes;
    tt_tls_config_t *tls_server; /* certificates for https_ports; NULL if none */
} tt_snapshot_t;

/* Takes ownership of both; refs starts at 1. */
tt_snapshot_t *tt_snapshot_new(tt_config_t *cfg, tt_routes_t *routes);
tt_snapshot_t *tt_snapshot_ref(tt_snapshot_t *s);
void tt_snapshot_unref(tt_snapshot_t *s);

#endif
