/* The hub: channels, their subscribers, and fan-out of published items.
 *
 * A subscriber embeds one tt_sub_t per channel and gets every item published
 * to the channel through its callback, synchronously, inside
 * tt_hub_publish(). The callback may unsubscribe (itself or others) and
 * may close connections; it must not free other subscribers' memory.
 *
 * Items are rendered once per transport: tt_hub_stream_chunk() returns the
 * http-stream content framed as one HTTP chunk, built on first use and shared
 * (by reference) by every subscriber of the publish.
 *
 * Sequencing (GRIP.md 5): an item whose prev-id is not the channel's last id
 * waits up to message_wait for its predecessor, at most 100 per channel;
 * items seen again within id_cache_ttl are dropped; `no-seq` bypasses both;
 * only channels with subscribers are sequenced. */
#ifndef TT_HUB_H
#define TT_HUB_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "pubitem.h"
#include "rbuf.h"

typedef struct tt_hub_s tt_hub_t;
typedef struct tt_sub_s tt_sub_t;
typedef struct tt_chan_s tt_chan_t;

/* One item being delivered, with its lazily rendered shared buffers. */
typedef struct tt_delivery_s {
    const tt_pub_item_t *item;
    tt_rbuf_t *chunk; /* http-stream content as "%x\r\n<content>\r\n" */
    tt_rbuf_t *raw;   /* http-stream content as is (HTTP/1.0 clients) */
    tt_rbuf_t *body;  /* http-response body */
    tt_rbuf_t *ws;    /* ws-message as one WebSocket frame */
    tt_rbuf_t *ws_z;  /* the same, permessage-deflate compressed (window 15) */
} tt_delivery_t;

typedef void (*tt_sub_cb)(tt_sub_t *sub, tt_delivery_t *d);

enum tt_sub_mode { TT_SUB_RESPONSE = 0, TT_SUB_STREAM, TT_SUB_WS };

struct tt_sub_s {
    tt_sub_t *prev, *next;
    tt_chan_t *chan; /* NULL when not subscribed */
    tt_sub_cb cb;
    void *owner;
    uint8_t mode;
};

typedef struct tt_hub_opts_s {
    uint64_t message_wait_ms; /* out-of-order wait */
    uint64_t id_cache_ttl_ms; /* 0 = no dedup */
} tt_hub_opts_t;

typedef struct tt_hub_stats_s {
    uint64_t published, delivered, dropped_dup, reordered, released_late;
    uint64_t channels, subscribers;
} tt_hub_stats_t;

tt_hub_t *tt_hub_new(uv_loop_t *loop, const tt_hub_opts_t *opts);
/* Frees channels and pending items; subscribers must be gone. */
void tt_hub_free(tt_hub_t *h);
const tt_hub_stats_t *tt_hub_stats(const tt_hub_t *h);

/* Subscribe `sub` (embedded in `owner`) to `channel`. */
void tt_hub_subscribe(tt_hub_t *h, tt_sub_t *sub, const char *channel, enum tt_sub_mode mode,
                      tt_sub_cb cb, void *owner);
/* Remove a subscription; no-op if not subscribed. */
void tt_hub_unsubscribe(tt_hub_t *h, tt_sub_t *sub);
/* Number of subscribers of a channel. */
size_t tt_hub_count(const tt_hub_t *h, const char *channel);
/* The last published id of a channel (NULL if unknown). */
const char *tt_hub_last_id(const tt_hub_t *h, const char *channel);
/* Forget every channel's last id (POST /recover). */
void tt_hub_recover(tt_hub_t *h);

/* Publish the items of a batch, in order. The hub takes the batch and frees
 * it when no item of it waits any more. Returns the number of deliveries
 * made now (items held for sequencing count when released); `counts` (may
 * be NULL, batch->n entries) gets each item's. */
size_t tt_hub_publish(tt_hub_t *h, tt_pub_batch_t *batch, size_t *counts);

/* The http-stream content of `d` as one HTTP chunk (shared; take a ref to keep). */
tt_rbuf_t *tt_hub_stream_chunk(tt_delivery_t *d);
/* The ws-message as one unmasked WebSocket frame (shared). */
tt_rbuf_t *tt_hub_ws_frame(tt_delivery_t *d);
/* The ws-message compressed with permessage-deflate (window 15), or the
 * plain frame when compressing does not pay (shared). */
tt_rbuf_t *tt_hub_ws_frame_z(tt_delivery_t *d);
/* The http-response body (shared). */
tt_rbuf_t *tt_hub_response_body(tt_delivery_t *d);
/* The http-stream content as is (shared). */
tt_rbuf_t *tt_hub_stream_raw(tt_delivery_t *d);

#endif
