/* Deferred work queue. Items run in the loop's check phase, right after the
 * I/O callbacks of the same iteration, so work posted while handling I/O
 * costs no extra trip through the poller. An idle handle is active while
 * the queue is non-empty only to keep the poller from blocking when an item
 * is posted outside the I/O phase (from a timer, or by another item). */
#include "evloop.h"

#include <stddef.h>

static uv_check_t check;
static uv_idle_t idle;
static tt_defer_t head = {&head, &head, NULL, false};
static bool ready;

static void run_queue(uv_check_t *h)
{
    (void)h;
    /* Items posted while running wait for the next turn: detach the batch. */
    tt_defer_t batch = {&batch, &batch, NULL, false};
    if (head.next != &head) {
        batch.next = head.next;
        batch.prev = head.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        head.next = head.prev = &head;
    }
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

static void on_idle(uv_idle_t *h)
{
    (void)h; /* only keeps the poll from blocking; the check phase runs the queue */
}

int tt_evloop_init(uv_loop_t *loop)
{
    head.next = head.prev = &head;
    uv_check_init(loop, &check);
    uv_idle_init(loop, &idle);
    int rc = uv_check_start(&check, run_queue);
    uv_unref((uv_handle_t *)&check);
    ready = rc == 0;
    return rc;
}

void tt_evloop_close(void)
{
    if (ready) {
        ready = false;
        uv_close((uv_handle_t *)&check, NULL);
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
    if (ready)
        uv_idle_start(&idle, on_idle);
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
