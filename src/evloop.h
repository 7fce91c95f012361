/* Loop glue: deferred work. An object embeds a tt_defer_t and posts it to
 * run on the next loop turn, outside the current callback chain (nginx's
 * posted events). This is how Tether never re-enters a caller and never
 * frees an object from inside its own callbacks. One loop thread only. */
#ifndef TT_EVLOOP_H
#define TT_EVLOOP_H

#include <stdbool.h>
#include <uv.h>

typedef struct tt_defer_s tt_defer_t;
typedef void (*tt_defer_cb)(tt_defer_t *d);

struct tt_defer_s {
    tt_defer_t *prev, *next;
    tt_defer_cb cb;
    bool queued;
};

/* Once per loop, before any tt_defer_post. */
int tt_evloop_init(uv_loop_t *loop);
/* Close the loop's own handles (at shutdown). */
void tt_evloop_close(void);
/* Post `d` to run `cb` on the next turn. Posting a queued item again is a
 * no-op (the callback of the first post is kept). */
void tt_defer_post(tt_defer_t *d, tt_defer_cb cb);
/* Remove `d` if queued (before its owner is freed). */
void tt_defer_cancel(tt_defer_t *d);

#endif
