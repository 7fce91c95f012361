/* Subscription filters, as Pushpin's handler applies them. */
#include "filter.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "str.h"

static const char *pub_meta(const tt_pub_item_t *item, const char *name)
{
    for (size_t i = 0; i < item->n_meta; i++)
        if (strcmp(item->meta[i].name, name) == 0)
            return item->meta[i].value;
    return NULL;
}

static bool in_list(const char *list, const char *name)
{
    return list && name && *name && tt_str_list_has(list, strlen(list), name);
}

/* var-subst: "%(name)s" becomes the subscription's meta value, "%%" a "%".
 * Returns false (drop) on an unknown variable or directive, as Pushpin. */
static bool var_subst(const tt_filter_ctx_t *ctx, const char *s, size_t len, tt_buf_t *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            tt_buf_append(out, s + i, 1);
            continue;
        }
        if (i + 1 < len && s[i + 1] == '%') {
            tt_buf_append(out, "%", 1);
            i++;
            continue;
        }
        const char *close = i + 1 < len && s[i + 1] == '(' ? memchr(s + i, ')', len - i) : NULL;
        if (!close || close + 1 >= s + len || close[1] != 's')
            return false;
        char *name = tt_xstrndup(s + i + 2, (size_t)(close - (s + i + 2)));
        const char *v = ctx->sub_meta(ctx->owner, name);
        free(name);
        if (!v)
            return false;
        tt_buf_appends(out, v);
        i = (size_t)(close + 1 - s);
    }
    return true;
}

bool tt_filter_pass(char *const *filters, size_t n, const tt_filter_ctx_t *ctx,
                    const tt_pub_item_t *item, const char **content, size_t *len, tt_buf_t *scratch)
{
    for (size_t f = 0; f < n; f++) {
        const char *name = filters[f];
        const char *user = ctx->sub_meta(ctx->owner, "user");
        if (strcmp(name, "skip-self") == 0) {
            const char *sender = pub_meta(item, "sender");
            if (user && *user && sender && strcmp(user, sender) == 0)
                return false;
        } else if (strcmp(name, "skip-users") == 0) {
            if (in_list(pub_meta(item, "skip_users"), user))
                return false;
        } else if (strcmp(name, "require-sub") == 0) {
            const char *need = pub_meta(item, "require_sub");
            if (need && *need && !ctx->subscribed(ctx->owner, need))
                return false;
        } else if (strcmp(name, "var-subst") == 0 && *content) {
            tt_buf_reset(scratch);
            if (!var_subst(ctx, *content, *len, scratch))
                return false;
            *content = scratch->data ? scratch->data : "";
            *len = scratch->len;
        }
    }
    return true;
}
