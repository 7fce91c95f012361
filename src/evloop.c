/* Deferred work queue driven by one uv_idle handle: the idle handle is
 * active only while the queue is non-empty, so an empty queue costs nothing
 * and a full one makes the loop poll without blocking. */
#include "evloop.h"

#include <stddef.h>

static uv_idle_t idle;
static tt_defer_t head = {&head, &head, NULL, false};
static bool idle_ready;

static void run_queue(uv_idle_t *h)
{
    (void)h;
    /* Items posted while running wait for the next turn: detach the batch. */
    tt_defer_t batch = {&batch, &batch, NULL, false};
    if (head.next == &head)
        return;
    batch.next = head.next;
    batch.prev = head.prev;
    batch.next->prev = &batch;
    batch.prev->next = &batch;
    head.next = head.prev = &head;
    while (batch.next != &batch) {
        tt_defer_t *d = batch.next;
        d->next->prev = d->prev;
        d->prev->next = d->next;
        d->next = d->prev = NULL;
        d->queued = false;
        d->cb(d);
    }
    if (head.next == &head)
        uv_idle_stop(&idle);
}

int tt_evloop_init(uv_loop_t *loop)
{
    head.next = head.prev = &head;
    int rc = uv_idle_init(loop, &idle);
    idle_ready = rc == 0;
    return rc;
}

void tt_evloop_close(void)
{
    if (idle_ready) {
        idle_ready = false;
        uv_close((uv_handle_t *)&idle, NULL);
    }
}

void tt_defer_post(tt_defer_t *d, tt_defer_cb cb)
{
    if (d->queued)
        return;
    d->cb = cb;
    d->queued = true;
    d->prev = head.prev;
    d->next = &head;
    head.prev->next = d;
    head.prev = d;
    if (idle_ready)
        uv_idle_start(&idle, run_queue);
}

void tt_defer_cancel(tt_defer_t *d)
{
    if (!d->queued)
        return;
    d->next->prev = d->prev;
    d->prev->next = d->next;
    d->next = d->prev = NULL;
    d->queued = false;
}
