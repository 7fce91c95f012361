/* Subscription filters (Grip-Channel `filter=`, WebSocket subscribe
 * `filters`), Pushpin's semantics: skip-self, skip-users, require-sub and
 * var-subst read the subscription's meta and the published item's meta.
 * Pure: the caller says how to look up its meta and subscriptions. */
#ifndef TT_FILTER_H
#define TT_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "pubitem.h"

typedef struct tt_filter_ctx_s {
    const char *(*sub_meta)(void *owner, const char *name); /* NULL if unset */
    bool (*subscribed)(void *owner, const char *channel);
    void *owner;
} tt_filter_ctx_t;

/* Run `filters` (n of them) for `item`. Returns false to drop the item for
 * this subscriber. When var-subst rewrites the content, content and len point
 * into `scratch` afterwards (the caller frees it). */
bool tt_filter_pass(char *const *filters, size_t n, const tt_filter_ctx_t *ctx,
                    const tt_pub_item_t *item, const char **content, size_t *len,
                    tt_buf_t *scratch);

#endif
