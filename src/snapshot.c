/* Reference-counted configuration snapshot (loop thread only). */
#include "snapshot.h"

#include <stdlib.h>

#include "mem.h"
#include "tls.h"

tt_snapshot_t *tt_snapshot_new(tt_config_t *cfg, tt_routes_t *routes)
{
    tt_snapshot_t *s = tt_xcalloc(1, sizeof *s);
    s->refs = 1;
    s->cfg = cfg;
    s->routes = routes;
    return s;
}

tt_snapshot_t *tt_snapshot_ref(tt_snapshot_t *s)
{
    s->refs++;
    return s;
}

void tt_snapshot_unref(tt_snapshot_t *s)
{
    if (!s || --s->refs > 0)
        return;
    tt_config_free(s->cfg);
    tt_routes_free(s->routes);
    tt_tls_config_unref(s->tls_server);
    free(s);
}
