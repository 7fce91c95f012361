/* Channels, subscribers and fan-out.
 *
 * Channels live in a chained hash table keyed by name and exist while they
 * have subscribers or items waiting for a predecessor. Delivery walks the
 * channel's subscriber list; `iter_next` lets a callback unsubscribe anyone
 * during the walk. A batch is reference-counted: items waiting for their
 * predecessor keep it alive. */
#include "hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "wsdeflate.h"
#include "wsframe.h"

#define PENDING_MAX 100 /* per channel, as Pushpin's sequencer */
#define ID_CACHE_MAX 256
#define PENDING_TICK_MS 50

typedef struct batch_ref_s {
    int refs;
    tt_pub_batch_t *b;
} batch_ref_t;

typedef struct pending_s {
    struct pending_s *next;
    batch_ref_t *ref;
    const tt_pub_item_t *item;
    uint64_t deadline;
} pending_t;

typedef struct id_entry_s {
    char *id;
    uint64_t expires;
} id_entry_t;

struct tt_chan_s {
    char *name;
    uint32_t hash;
    tt_chan_t *hnext;
    tt_sub_t *subs;
    size_t n_subs;
    char *last_id;
    pending_t *pending; /* in arrival order */
    size_t n_pending;
    id_entry_t *ids; /* ring of ID_CACHE_MAX recently seen ids, made on first use */
    size_t ids_next;
    int walking; /* deliveries in progress: do not free */
};

struct tt_hub_s {
    uv_loop_t *loop;
    tt_hub_opts_t opts;
    tt_hub_stats_t stats;
    tt_chan_t **table;
    size_t cap, count;
    tt_sub_t *iter_next;
    uv_timer_t tick;
    bool ticking;
    size_t chans_pending;
};

/* ---- table ------------------------------------------------------------------ */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static tt_chan_t *find(const tt_hub_t *h, const char *name)
{
    uint32_t hv = hash_str(name);
    for (tt_chan_t *c = h->table[hv & (h->cap - 1)]; c; c = c->hnext)
        if (c->hash == hv && strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void grow(tt_hub_t *h)
{
    size_t cap = h->cap * 2;
    tt_chan_t **t = tt_xcalloc(cap, sizeof *t);
    for (size_t i = 0; i < h->cap; i++) {
        tt_chan_t *c = h->table[i];
        while (c) {
            tt_chan_t *next = c->hnext;
            c->hnext = t[c->hash & (cap - 1)];
            t[c->hash & (cap - 1)] = c;
            c = next;
        }
    }
    free(h->table);
    h->table = t;
    h->cap = cap;
}

static tt_chan_t *find_or_add(tt_hub_t *h, const char *name)
{
    tt_chan_t *c = find(h, name);
    if (c)
        return c;
    if (h->count * 2 >= h->cap)
        grow(h);
    c = tt_xcalloc(1, sizeof *c);
    c->name = tt_xstrdup(name);
    c->hash = hash_str(name);
    size_t i = c->hash & (h->cap - 1);
    c->hnext = h->table[i];
    h->table[i] = c;
    h->count++;
    h->stats.channels++;
    return c;
}

static void batch_unref(batch_ref_t *r)
{
    if (--r->refs > 0)
        return;
    tt_pubitem_free(r->b);
    free(r);
}

static void chan_free(tt_hub_t *h, tt_chan_t *c)
{
    tt_chan_t **pp = &h->table[c->hash & (h->cap - 1)];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
    h->count--;
    h->stats.channels--;
    for (size_t i = 0; c->ids && i < ID_CACHE_MAX; i++)
        free(c->ids[i].id);
    free(c->ids);
    free(c->last_id);
    free(c->name);
    free(c);
}

/* A channel without subscribers forgets its last id (GRIP.md 5) and goes
 * away once nothing waits in it. */
static void chan_maybe_free(tt_hub_t *h, tt_chan_t *c)
{
    if (c->n_subs || c->walking)
        return;
    if (c->pending) {
        free(c->last_id);
        c->last_id = NULL;
        return;
    }
    chan_free(h, c);
}

/* ---- subscribe ---------------------------------------------------------------- */

void tt_hub_subscribe(tt_hub_t *h, tt_sub_t *sub, const char *channel, enum tt_sub_mode mode,
                      tt_sub_cb cb, void *owner)
{
    tt_hub_unsubscribe(h, sub);
    tt_chan_t *c = find_or_add(h, channel);
    sub->chan = c;
    sub->cb = cb;
    sub->owner = owner;
    sub->mode = (uint8_t)mode;
    sub->prev = NULL;
    sub->next = c->subs;
    if (c->subs)
        c->subs->prev = sub;
    c->subs = sub;
    c->n_subs++;
    h->stats.subscribers++;
}

void tt_hub_unsubscribe(tt_hub_t *h, tt_sub_t *sub)
{
    tt_chan_t *c = sub->chan;
    if (!c)
        return;
    if (h->iter_next == sub)
        h->iter_next = sub->next;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        c->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    sub->prev = sub->next = NULL;
    sub->chan = NULL;
    c->n_subs--;
    h->stats.subscribers--;
    chan_maybe_free(h, c);
}

size_t tt_hub_count(const tt_hub_t *h, const char *channel)
{
    const tt_chan_t *c = find(h, channel);
    return c ? c->n_subs : 0;
}

const char *tt_hub_last_id(const tt_hub_t *h, const char *channel)
{
    const tt_chan_t *c = find(h, channel);
    return c ? c->last_id : NULL;
}

void tt_hub_recover(tt_hub_t *h)
{
    for (size_t i = 0; i < h->cap; i++)
        for (tt_chan_t *c = h->table[i]; c; c = c->hnext) {
            free(c->last_id);
            c->last_id = NULL;
        }
}

/* ---- rendering ---------------------------------------------------------------- */

tt_rbuf_t *tt_hub_stream_chunk(tt_delivery_t *d)
{
    if (!d->chunk) {
        const tt_pub_http_stream_t *s = &d->item->http_stream;
        char size[24];
        int n = snprintf(size, sizeof size, "%zx\r\n", s->content_len);
        d->chunk = tt_rbuf_new((size_t)n + s->content_len + 2);
        memcpy(d->chunk->data, size, (size_t)n);
        if (s->content_len)
            memcpy(d->chunk->data + n, s->content, s->content_len);
        memcpy(d->chunk->data + n + s->content_len, "\r\n", 2);
    }
    return d->chunk;
}

tt_rbuf_t *tt_hub_ws_frame(tt_delivery_t *d)
{
    if (!d->ws) {
        const tt_pub_ws_message_t *m = &d->item->ws_message;
        static const int opcodes[] = {TT_WS_TEXT, TT_WS_BINARY, TT_WS_PING, TT_WS_PONG};
        d->ws = tt_ws_frame_shared(opcodes[m->type], m->content, m->content_len);
    }
    return d->ws;
}

tt_rbuf_t *tt_hub_ws_frame_z(tt_delivery_t *d)
{
    if (d->ws_z)
        return d->ws_z;
    const tt_pub_ws_message_t *m = &d->item->ws_message;
    tt_buf_t z = TT_BUF_INIT;
    bool data = m->type == TT_WSMSG_TEXT || m->type == TT_WSMSG_BINARY;
    if (data && m->content_len >= 64 && tt_wsd_deflate(m->content, m->content_len, 15, &z) == 0 &&
        z.len < m->content_len)
        d->ws_z = tt_wsd_frame_shared(m->type == TT_WSMSG_TEXT ? TT_WS_TEXT : TT_WS_BINARY, z.data,
                                      z.len);
    else
        d->ws_z = tt_rbuf_ref(tt_hub_ws_frame(d));
    tt_buf_free(&z);
    return d->ws_z;
}

tt_rbuf_t *tt_hub_response_body(tt_delivery_t *d)
{
    if (!d->body) {
        const tt_pub_http_response_t *r = &d->item->http_response;
        d->body = tt_rbuf_copy(r->has_body ? r->body : "", r->has_body ? r->body_len : 0);
    }
    return d->body;
}

tt_rbuf_t *tt_hub_stream_raw(tt_delivery_t *d)
{
    if (!d->raw) {
        const tt_pub_http_stream_t *s = &d->item->http_stream;
        d->raw = tt_rbuf_copy(s->content, s->content_len);
    }
    return d->raw;
}

/* ---- delivery ----------------------------------------------------------------- */

static bool id_seen(tt_hub_t *h, tt_chan_t *c, const char *id, uint64_t now)
{
    if (!h->opts.id_cache_ttl_ms)
        return false;
    if (!c->ids)
        c->ids = tt_xcalloc(ID_CACHE_MAX, sizeof *c->ids);
    for (size_t i = 0; i < ID_CACHE_MAX; i++)
        if (c->ids[i].id && c->ids[i].expires > now && strcmp(c->ids[i].id, id) == 0)
            return true;
    id_entry_t *e = &c->ids[c->ids_next];
    c->ids_next = (c->ids_next + 1) % ID_CACHE_MAX;
    free(e->id);
    e->id = tt_xstrdup(id);
    e->expires = now + h->opts.id_cache_ttl_ms;
    return false;
}

static size_t deliver(tt_hub_t *h, tt_chan_t *c, const tt_pub_item_t *item)
{
    if (item->id) {
        free(c->last_id);
        c->last_id = tt_xstrdup(item->id);
    }
    tt_delivery_t d = {item, NULL, NULL, NULL, NULL, NULL};
    size_t n = 0;
    tt_sub_t *saved = h->iter_next;
    c->walking++;
    for (tt_sub_t *s = c->subs; s; s = h->iter_next) {
        h->iter_next = s->next;
        s->cb(s, &d);
        n++;
    }
    c->walking--;
    h->iter_next = saved;
    tt_rbuf_unref(d.chunk);
    tt_rbuf_unref(d.raw);
    tt_rbuf_unref(d.body);
    tt_rbuf_unref(d.ws);
    tt_rbuf_unref(d.ws_z);
    h->stats.delivered += n;
    return n;
}

static void start_tick(tt_hub_t *h);

static void hold_back(tt_hub_t *h, tt_chan_t *c, batch_ref_t *ref, const tt_pub_item_t *item)
{
    pending_t *p = tt_xcalloc(1, sizeof *p);
    p->ref = ref;
    ref->refs++;
    p->item = item;
    p->deadline = uv_now(h->loop) + h->opts.message_wait_ms;
    pending_t **pp = &c->pending;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    if (c->n_pending++ == 0)
        h->chans_pending++;
    h->stats.reordered++;
    start_tick(h);
}

static void drop_pending(tt_hub_t *h, tt_chan_t *c, pending_t *p)
{
    pending_t **pp = &c->pending;
    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    if (--c->n_pending == 0)
        h->chans_pending--;
    batch_unref(p->ref);
    free(p);
}

/* After a delivery, items that were waiting for it may go, in chain order. */
static size_t release_successors(tt_hub_t *h, tt_chan_t *c)
{
    size_t n = 0;
    bool progress = true;
    while (progress && c->last_id && c->pending) {
        progress = false;
        for (pending_t *p = c->pending; p; p = p->next) {
            if (strcmp(p->item->prev_id, c->last_id) == 0) {
                const tt_pub_item_t *item = p->item;
                batch_ref_t *ref = p->ref;
                ref->refs++;
                drop_pending(h, c, p);
                n += deliver(h, c, item);
                batch_unref(ref);
                progress = true;
                break;
            }
        }
    }
    return n;
}

static size_t publish_item(tt_hub_t *h, batch_ref_t *ref, const tt_pub_item_t *item)
{
    h->stats.published++;
    tt_chan_t *c = find(h, item->channel);
    if (!c || c->n_subs == 0)
        return 0; /* nobody listens: nothing to sequence either */
    if (!item->no_seq) {
        if (item->id && id_seen(h, c, item->id, uv_now(h->loop))) {
            h->stats.dropped_dup++;
            tt_log_debug("publish channel=%s id=%s: duplicate dropped", item->channel, item->id);
            return 0;
        }
        if (item->prev_id && c->last_id && strcmp(item->prev_id, c->last_id) != 0 &&
            c->n_pending < PENDING_MAX && h->opts.message_wait_ms) {
            hold_back(h, c, ref, item);
            return 0;
        }
    }
    c->walking++;
    size_t n = deliver(h, c, item);
    n += release_successors(h, c);
    c->walking--;
    chan_maybe_free(h, c);
    return n;
}

size_t tt_hub_publish(tt_hub_t *h, tt_pub_batch_t *batch, size_t *counts)
{
    batch_ref_t *ref = tt_xmalloc(sizeof *ref);
    ref->refs = 1;
    ref->b = batch;
    size_t n = 0;
    for (size_t i = 0; i < batch->n; i++) {
        size_t k = publish_item(h, ref, &batch->items[i]);
        if (counts)
            counts[i] = k;
        tt_log_info("publish channel=%s receivers=%zu", batch->items[i].channel, k);
        n += k;
    }
    batch_unref(ref);
    return n;
}

/* ---- late release ------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    tt_hub_t *h = t->data;
    uint64_t now = uv_now(h->loop);
    for (size_t i = 0; i < h->cap && h->chans_pending; i++) {
        tt_chan_t *c = h->table[i];
        while (c) {
            tt_chan_t *next = c->hnext;
            c->walking++;
            /* Past its wait, an item goes anyway; subscribers see the gap. */
            while (c->pending && c->pending->deadline <= now) {
                pending_t *p = c->pending;
                const tt_pub_item_t *item = p->item;
                batch_ref_t *ref = p->ref;
                ref->refs++;
                drop_pending(h, c, p);
                h->stats.released_late++;
                if (c->n_subs)
                    deliver(h, c, item);
                release_successors(h, c);
                batch_unref(ref);
            }
            c->walking--;
            chan_maybe_free(h, c);
            c = next;
        }
    }
    if (!h->chans_pending) {
        uv_timer_stop(&h->tick);
        h->ticking = false;
    }
}

static void start_tick(tt_hub_t *h)
{
    if (h->ticking)
        return;
    h->ticking = true;
    uv_timer_start(&h->tick, on_tick, PENDING_TICK_MS, PENDING_TICK_MS);
}

/* ---- life --------------------------------------------------------------------- */

tt_hub_t *tt_hub_new(uv_loop_t *loop, const tt_hub_opts_t *opts)
{
    tt_hub_t *h = tt_xcalloc(1, sizeof *h);
    h->loop = loop;
    h->opts = *opts;
    h->cap = 64;
    h->table = tt_xcalloc(h->cap, sizeof *h->table);
    uv_timer_init(loop, &h->tick);
    h->tick.data = h;
    uv_unref((uv_handle_t *)&h->tick);
    return h;
}

const tt_hub_stats_t *tt_hub_stats(const tt_hub_t *h)
{
    return &h->stats;
}

static void hub_closed(uv_handle_t *t)
{
    free(t->data);
}

void tt_hub_free(tt_hub_t *h)
{
    for (size_t i = 0; i < h->cap; i++) {
        while (h->table[i]) {
            tt_chan_t *c = h->table[i];
            while (c->pending)
                drop_pending(h, c, c->pending);
            chan_free(h, c);
        }
    }
    free(h->table);
    h->table = NULL;
    uv_close((uv_handle_t *)&h->tick, hub_closed);
}
