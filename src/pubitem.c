/* Publish request parser: `POST /publish` body -> tt_pub_batch_t.
 *
 *     bytes --load_json--> cJSON tree --parse_items--> items --parse_item--> formats
 *
 * load_json makes cJSON accept and refuse what Qt's QJsonDocument does where
 * it matters (UTF-8, control bytes between tokens, the top-level type,
 * infinities). Known gaps, all far from real publishers: cJSON refuses
 * numbers over 63 characters, lone \uD800 surrogates, unknown escapes such as
 * \q, and `.5`, and accepts `01`; it nests 1000 deep, Qt 1024; and a NUL in a
 * string (raw or \u0000) ends it.
 *
 * Each parse_* function then mirrors one Pushpin function (handlerengine.cpp,
 * publishitem.cpp, publishformat.cpp) and checks fields in the same order, so
 * the first error reported is the one Pushpin reports. Pushpin reads the JSON
 * through QVariant, and we follow it there too:
 * - a repeated key: the last one wins; key names are case-sensitive;
 * - null is a value of the wrong type, not an absent key;
 * - objects are read in key order (QVariantMap), which decides which bad
 *   header or meta key is named and the order of {k:v} headers;
 * - `code` and `size` take numbers, numeric strings and booleans (toInt()). */
#include "pubitem.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mbedtls/base64.h>

#include "error.h"
#include "mem.h"

#define NOT_JSON "Body is not valid JSON."

static const char ITEM_PN[] = "publish item object";
static const char RESPONSE_PN[] = "'http-response'";
static const char STREAM_PN[] = "'http-stream'";
static const char WS_PN[] = "'ws-message'";

/* Where error text goes. */
typedef struct perr_s {
    char *buf; /* may be NULL */
    size_t len;
} perr_t;

static int fail_raw(perr_t *e, const char *msg)
{
    if (e->buf && e->len)
        snprintf(e->buf, e->len, "%s", msg);
    return TT_EPARSE;
}

/* "Invalid format: " + detail, the shape of every item-level error. */
static int fail(perr_t *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int fail(perr_t *e, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!e->buf || !e->len)
        return TT_EPARSE;
    n = snprintf(e->buf, e->len, "Invalid format: ");
    if (n >= 0 && (size_t)n < e->len) {
        va_start(ap, fmt);
        vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return TT_EPARSE;
}

/* ---- JSON access, Qt style ---- */

/* The value of `key`, NULL if absent. cJSON_GetObjectItem will not do: it
 * ignores case and returns the first of repeated keys. */
static const cJSON *get(const cJSON *obj, const char *key)
{
    const cJSON *found = NULL;

    for (const cJSON *c = obj->child; c; c = c->next)
        if (strcmp(c->string, key) == 0)
            found = c;
    return found;
}

static size_t array_size(const cJSON *a)
{
    size_t n = 0;

    for (const cJSON *c = a->child; c; c = c->next)
        n++;
    return n;
}

typedef struct member_s {
    const cJSON *v;
    size_t idx;
} member_t;

static int member_cmp(const void *a, const void *b)
{
    const member_t *x = a, *y = b;
    int c = strcmp(x->v->string, y->v->string);

    if (c != 0)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The members of an object as a QVariantMap holds them: sorted by key and,
 * for a repeated key, only the last value. The order is by bytes; Qt
 * compares UTF-16 units, which only differs for keys with characters past
 * U+FFFF against ones in U+E000..U+FFFF. Returns the count; free *out. */
static size_t members(const cJSON *obj, const cJSON ***out)
{
    size_t n = array_size(obj), k = 0;
    member_t *m = tt_xcalloc(n, sizeof *m);
    const cJSON **v = tt_xcalloc(n, sizeof *v);

    for (const cJSON *c = obj->child; c; c = c->next, k++) {
        m[k].v = c;
        m[k].idx = k;
    }
    qsort(m, n, sizeof *m, member_cmp);
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || strcmp(m[i].v->string, m[i + 1].v->string) != 0)
            v[k++] = m[i].v;
    free(m);
    *out = v;
    return k;
}

/* Pushpin's getString(): absent is fine unless required; anything but a
 * string, null included, is the wrong type. *out is NULL when absent. */
static int get_str(perr_t *e, const cJSON *obj, const char *pn, const char *key, bool required,
                   const char **out)
{
    const cJSON *v = get(obj, key);

    *out = NULL;
    if (!v)
        return required ? fail(e, "%s does not contain '%s'", pn, key) : 0;
    if (!cJSON_IsString(v))
        return fail(e, "%s contains '%s' with wrong type", pn, key);
    *out = v->valuestring;
    return 0;
}

static int dup_str(perr_t *e, const cJSON *obj, const char *pn, const char *key, bool required,
                   char **out)
{
    const char *s;
    int rc = get_str(e, obj, pn, key, required, &s);

    if (rc == 0 && s)
        *out = tt_xstrdup(s);
    return rc;
}

/* ---- QVariant::toInt() ---- */

/* The low 32 bits as a signed int, as a C++ cast from qlonglong gives. */
static int low32(int64_t v)
{
    uint32_t u = (uint32_t)v;

    return u <= INT32_MAX ? (int)u : -(int)(UINT32_MAX - u) - 1;
}

/* Qt 5's qRound64(): halves round up (-0.5 gives 0). Out of range, the x86
 * conversion Qt relies on yields INT64_MIN, whose low 32 bits are 0. */
static int64_t qround64(double d)
{
    int64_t t;

    if (d >= 0.0)
        return d + 0.5 < 9223372036854775808.0 ? (int64_t)(d + 0.5) : INT64_MIN;
    if (d - 1 < -9223372036854775808.0)
        return INT64_MIN;
    t = (int64_t)(d - 1);
    return (int64_t)(d - (double)t + 0.5) + t;
}

static bool is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* QString::toLongLong(): optional surrounding whitespace, an optional sign,
 * decimal digits. Anything else, or an overflow, gives 0. */
static int64_t qt_str_to_ll(const char *s)
{
    uint64_t v = 0;
    bool neg = false;

    while (is_space(*s))
        s++;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!is_digit(*s))
        return 0;
    for (; is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    while (is_space(*s))
        s++;
    if (*s != '\0' || v > (uint64_t)INT64_MAX + neg)
        return 0;
    if (neg)
        return v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    return (int64_t)v;
}

/* QVariant::toInt() of a JSON value, as Pushpin reads `code` and `size`:
 * numbers round with qRound64, strings parse as a decimal qlonglong (0 when
 * they are not one), both are cut to 32 bits; true is 1. Returns false for
 * what cannot convert at all (null, arrays, objects).
 * Known gap: Qt keeps integer literals exactly as qlonglong, cJSON as a
 * double, so literals past 2^53 can cut to different low bits. */
static bool qt_to_int(const cJSON *v, int *out)
{
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v))
        *out = low32(qround64(v->valuedouble));
    else if (cJSON_IsString(v))
        *out = low32(qt_str_to_ll(v->valuestring));
    else
        return false;
    return true;
}

/* An int field, when present: convertible, then 0..max. */
static int get_int(perr_t *e, const cJSON *obj, const char *pn, const char *key, int max, int *out)
{
    const cJSON *v = get(obj, key);
    int n;

    if (!v)
        return 0;
    if (!qt_to_int(v, &n))
        return fail(e, "%s contains '%s' with wrong type", pn, key);
    if (n < 0 || n > max)
        return fail(e, "%s contains '%s' with invalid value", pn, key);
    *out = n;
    return 0;
}

/* ---- field values ---- */

/* Standard base64; padding may be left out and whitespace is skipped, as Qt
 * does. Anything else is refused (Qt would skip it; see pubitem.h). */
static bool b64_decode(const char *s, char **out, size_t *outlen)
{
    size_t n = strlen(s), k = 0, cap, olen = 0;
    unsigned char *clean = tt_xmalloc(n + 3), *dst;
    int rc;

    for (; *s; s++)
        if (!is_space(*s))
            clean[k++] = (unsigned char)*s;
    if (k % 4 == 1) {
        free(clean);
        return false;
    }
    while (k % 4 != 0)
        clean[k++] = '=';
    cap = k / 4 * 3 + 1;
    dst = tt_xmalloc(cap);
    rc = mbedtls_base64_decode(dst, cap, &olen, clean, k);
    free(clean);
    if (rc != 0) {
        free(dst);
        return false;
    }
    dst[olen] = '\0';
    *out = (char *)dst;
    *outlen = olen;
    return true;
}

/* A payload field: `body`/`content` as text, or their `-bin` twins in base64. */
static int take_payload(perr_t *e, const cJSON *v, const char *pn, const char *key, bool b64,
                        char **out, size_t *len)
{
    if (!cJSON_IsString(v))
        return fail(e, "%s contains '%s' with wrong type", pn, key);
    if (b64) {
        if (!b64_decode(v->valuestring, out, len))
            return fail(e, "%s contains '%s' with invalid value", pn, key);
        return 0;
    }
    *len = strlen(v->valuestring);
    *out = tt_xstrndup(v->valuestring, *len);
    return 0;
}

/* A {k:"v"} object into pairs; `what` names it in the error. */
static int take_pairs(perr_t *e, const cJSON *obj, const char *what, tt_pub_pair_t **out, size_t *n)
{
    const cJSON **m;
    size_t count = members(obj, &m);
    int rc = 0;

    *out = tt_xcalloc(count, sizeof **out);
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (!cJSON_IsString(m[i])) {
            rc = fail(e, "%s contains '%s' with wrong type", what, m[i]->string);
            break;
        }
        (*out)[*n].name = tt_xstrdup(m[i]->string);
        (*out)[*n].value = tt_xstrdup(m[i]->valuestring);
        (*n)++;
    }
    free(m);
    return rc;
}

static int parse_filters(perr_t *e, const cJSON *f, const char *pn, tt_pub_filters_t *out)
{
    const cJSON *v = get(f, "content-filters");

    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return fail(e, "%s contains 'content-filters' with wrong type", pn);
    out->present = true;
    out->names = tt_xcalloc(array_size(v), sizeof *out->names);
    for (const cJSON *c = v->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return fail(e, "content-filters contains element with wrong type");
        out->names[out->n++] = tt_xstrdup(c->valuestring);
    }
    return 0;
}

static int parse_action(perr_t *e, const cJSON *f, const char *pn, tt_pub_action_t *out)
{
    static const char *const names[] = {"send", "hint", "close", "refresh"};
    const char *s;
    int rc = get_str(e, f, pn, "action", false, &s);

    if (rc != 0 || !s)
        return rc;
    for (size_t i = 0; i < TT_ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (tt_pub_action_t)i;
            return 0;
        }
    }
    /* Pushpin fails here without a message: the reply is "Invalid format: ".
     * (1.36 also refuses "refresh" so; 1.38 added it, and so do we.) */
    return fail(e, "%s", "");
}

/* ---- formats ---- */

static int parse_header_list(perr_t *e, const cJSON *list, tt_pub_http_response_t *r)
{
    r->headers = tt_xcalloc(array_size(list), sizeof *r->headers);
    for (const cJSON *h = list->child; h; h = h->next) {
        if (!cJSON_IsArray(h))
            return fail(e, "headers contains element with wrong type");
        if (array_size(h) != 2)
            return fail(e, "headers contains list with wrong number of elements");
        if (!cJSON_IsString(h->child))
            return fail(e, "header contains name element with wrong type");
        if (!cJSON_IsString(h->child->next))
            return fail(e, "header contains value element with wrong type");
        r->headers[r->n_headers].name = tt_xstrdup(h->child->valuestring);
        r->headers[r->n_headers].value = tt_xstrdup(h->child->next->valuestring);
        r->n_headers++;
    }
    return 0;
}

static int parse_headers(perr_t *e, const cJSON *f, tt_pub_http_response_t *r)
{
    const cJSON *v = get(f, "headers");

    if (!v)
        return 0;
    if (cJSON_IsArray(v))
        return parse_header_list(e, v, r);
    if (cJSON_IsObject(v))
        return take_pairs(e, v, "headers", &r->headers, &r->n_headers);
    return fail(e, "%s contains 'headers' with wrong type", RESPONSE_PN);
}

/* One of body-bin, body, body-patch, in that order of preference. */
static int parse_body(perr_t *e, const cJSON *f, tt_pub_http_response_t *r)
{
    const cJSON *v;

    if ((v = get(f, "body-bin")) || (v = get(f, "body"))) {
        r->has_body = true;
        return take_payload(e, v, RESPONSE_PN, v->string, strcmp(v->string, "body-bin") == 0,
                            &r->body, &r->body_len);
    }
    v = get(f, "body-patch");
    if (!v)
        return fail(e, "%s does not contain 'body', 'body-bin', or 'body-patch'", RESPONSE_PN);
    if (!cJSON_IsArray(v))
        return fail(e, "%s contains 'body-patch' with wrong type", RESPONSE_PN);
    char *text = cJSON_PrintUnformatted(v);
    if (!text) {
        fprintf(stderr, "tether: out of memory printing body-patch\n");
        abort();
    }
    r->body_patch_json = tt_xstrdup(text);
    cJSON_free(text);
    return 0;
}

static int parse_http_response(perr_t *e, const cJSON *f, tt_pub_http_response_t *r)
{
    const char *reason;
    int rc;

    if (!cJSON_IsObject(f))
        return fail(e, "%s is not an object", RESPONSE_PN);
    r->present = true;
    rc = parse_action(e, f, RESPONSE_PN, &r->action);
    if (rc != 0 || r->action != TT_ACT_SEND)
        return rc;
    rc = get_int(e, f, RESPONSE_PN, "code", 999, &r->code);
    if (rc == 0)
        rc = get_str(e, f, RESPONSE_PN, "reason", false, &reason);
    if (rc != 0)
        return rc;
    if (reason && *reason)
        r->reason = tt_xstrdup(reason);
    rc = parse_headers(e, f, r);
    if (rc == 0)
        rc = parse_filters(e, f, RESPONSE_PN, &r->filters);
    if (rc == 0)
        rc = parse_body(e, f, r);
    return rc;
}

/* content-bin wins over content, even over a content of the wrong type.
 * Returns 1 when neither is there, for the caller to decide. */
static int parse_content(perr_t *e, const cJSON *f, const char *pn, char **out, size_t *len,
                         bool *bin)
{
    const cJSON *v;

    *bin = false;
    if ((v = get(f, "content-bin"))) {
        *bin = true;
        return take_payload(e, v, pn, "content-bin", true, out, len);
    }
    if ((v = get(f, "content")))
        return take_payload(e, v, pn, "content", false, out, len);
    return 1;
}

static int parse_http_stream(perr_t *e, const cJSON *f, tt_pub_http_stream_t *s)
{
    bool bin;
    int rc;

    if (!cJSON_IsObject(f))
        return fail(e, "%s is not an object", STREAM_PN);
    s->present = true;
    rc = parse_action(e, f, STREAM_PN, &s->action);
    if (rc != 0 || s->action != TT_ACT_SEND)
        return rc;
    rc = parse_filters(e, f, STREAM_PN, &s->filters);
    if (rc == 0)
        rc = parse_content(e, f, STREAM_PN, &s->content, &s->content_len, &bin);
    if (rc == 1)
        rc = fail(e, "%s does not contain 'content' or 'content-bin'", STREAM_PN);
    return rc;
}

/* `type`, or -1 when absent. */
static int parse_ws_type(perr_t *e, const cJSON *f, int *type)
{
    static const char *const names[] = {"text", "binary", "ping", "pong"};
    const char *s;
    int rc = get_str(e, f, WS_PN, "type", false, &s);

    *type = -1;
    if (rc != 0 || !s)
        return rc;
    for (size_t i = 0; i < TT_ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *type = (int)i;
            return 0;
        }
    }
    return fail(e, "%s contains 'type' with unknown value", WS_PN);
}

static int parse_ws_send(perr_t *e, const cJSON *f, tt_pub_ws_message_t *w)
{
    bool bin = false;
    int type;
    int rc = parse_ws_type(e, f, &type);

    if (rc == 0)
        rc = parse_filters(e, f, WS_PN, &w->filters);
    if (rc == 0)
        rc = parse_content(e, f, WS_PN, &w->content, &w->content_len, &bin);
    if (rc == 1 && (type == TT_WSMSG_PING || type == TT_WSMSG_PONG)) {
        w->content = tt_xstrdup("");
        rc = 0;
    } else if (rc == 1) {
        rc = fail(e, "%s does not contain 'content' or 'content-bin'", WS_PN);
    }
    if (type < 0)
        type = bin ? TT_WSMSG_BINARY : TT_WSMSG_TEXT;
    w->type = (tt_ws_type_t)type;
    return rc;
}

static int parse_ws_close(perr_t *e, const cJSON *f, tt_pub_ws_message_t *w)
{
    const char *reason;
    int rc = get_int(e, f, WS_PN, "code", INT_MAX, &w->close_code);

    if (rc == 0)
        rc = get_str(e, f, WS_PN, "reason", false, &reason);
    if (rc == 0 && reason && *reason)
        w->close_reason = tt_xstrdup(reason);
    return rc;
}

static int parse_ws_message(perr_t *e, const cJSON *f, tt_pub_ws_message_t *w)
{
    int rc;

    if (!cJSON_IsObject(f))
        return fail(e, "%s is not an object", WS_PN);
    w->present = true;
    rc = parse_action(e, f, WS_PN, &w->action);
    if (rc != 0)
        return rc;
    if (w->action == TT_ACT_SEND)
        return parse_ws_send(e, f, w);
    if (w->action == TT_ACT_CLOSE)
        return parse_ws_close(e, f, w);
    return 0;
}

/* ---- items ---- */

static int parse_formats(perr_t *e, const cJSON *item, tt_pub_item_t *it)
{
    const cJSON *formats = get(item, "formats"), *src, *hr, *hs, *ws;
    bool any;
    int rc = 0;

    if (formats && !cJSON_IsObject(formats))
        return fail(e, "%s contains 'formats' with wrong type", ITEM_PN);
    /* Without `formats`, the legacy form has the format keys on the item.
     * Any key counts in a `formats` object, known or not. */
    src = formats ? formats : item;
    hr = get(src, "http-response");
    hs = get(src, "http-stream");
    ws = get(src, "ws-message");
    any = formats ? formats->child != NULL : (hr || hs || ws);
    if (!any)
        return fail(e, "no formats specified");
    if (hr)
        rc = parse_http_response(e, hr, &it->http_response);
    if (rc == 0 && hs)
        rc = parse_http_stream(e, hs, &it->http_stream);
    if (rc == 0 && ws)
        rc = parse_ws_message(e, ws, &it->ws_message);
    return rc;
}

static int parse_item_tail(perr_t *e, const cJSON *item, tt_pub_item_t *it)
{
    const cJSON *meta = get(item, "meta"), *noseq = get(item, "no-seq");
    int rc = 0;

    if (meta && !cJSON_IsObject(meta))
        return fail(e, "%s contains 'meta' with wrong type", ITEM_PN);
    if (meta)
        rc = take_pairs(e, meta, "'meta'", &it->meta, &it->n_meta);
    if (rc == 0)
        rc = get_int(e, item, ITEM_PN, "size", INT_MAX, &it->size);
    if (rc == 0 && noseq && !cJSON_IsBool(noseq))
        rc = fail(e, "%s contains 'no-seq' with wrong type", ITEM_PN);
    if (rc == 0 && noseq)
        it->no_seq = cJSON_IsTrue(noseq);
    return rc;
}

static int parse_item(perr_t *e, const cJSON *v, tt_pub_item_t *it)
{
    int rc;

    it->size = -1;
    it->http_response.code = 200;
    it->ws_message.close_code = -1;
    if (!cJSON_IsObject(v))
        return fail(e, "%s is not an object", ITEM_PN);
    rc = dup_str(e, v, ITEM_PN, "channel", true, &it->channel);
    if (rc == 0)
        rc = dup_str(e, v, ITEM_PN, "id", false, &it->id);
    if (rc == 0)
        rc = dup_str(e, v, ITEM_PN, "prev-id", false, &it->prev_id);
    if (rc == 0)
        rc = parse_formats(e, v, it);
    if (rc == 0)
        rc = parse_item_tail(e, v, it);
    return rc;
}

/* ---- the body ---- */

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
 * Qt refuses a body that is not, as invalid JSON; cJSON does not look. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
    size_t i = 0, k;
    unsigned cp;

    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            k = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            k = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, cp = c & 0x07;
        else
            return false;
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

/* Qt refuses numbers that overflow a double (1e400); cJSON makes them inf. */
static bool numbers_finite(const cJSON *v)
{
    for (; v; v = v->next) {
        if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
            return false;
        if (v->child && !numbers_finite(v->child))
            return false;
    }
    return true;
}

/* Between tokens cJSON skips any byte up to ' ' as whitespace; JSON and Qt
 * allow only space, tab, CR and LF there. (Raw control bytes inside strings,
 * NUL included, are fine for both.) */
static bool gaps_valid(const char *s, size_t n)
{
    bool in_str = false;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c < ' ' && c != '\t' && c != '\n' && c != '\r') {
            return false;
        }
    }
    return true;
}

/* The tree, or NULL when Qt would say "Body is not valid JSON.". */
static cJSON *load_json(const char *json, size_t len)
{
    const char *end = NULL;
    cJSON *root;

    if (!json || len == 0 || !utf8_valid((const unsigned char *)json, len) ||
        !gaps_valid(json, len))
        return NULL;
    root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root)
        return NULL;
    while (end < json + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    /* QJsonDocument only takes an object or an array at the top. */
    if (end != json + len || !numbers_finite(root) ||
        !(cJSON_IsObject(root) || cJSON_IsArray(root))) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int parse_items(perr_t *e, const cJSON *items, tt_pub_batch_t **out)
{
    tt_pub_batch_t *b = tt_xcalloc(1, sizeof *b);
    int rc = 0;

    b->items = tt_xcalloc(array_size(items), sizeof *b->items);
    for (const cJSON *v = items->child; v && rc == 0; v = v->next)
        rc = parse_item(e, v, &b->items[b->n++]);
    if (rc != 0) {
        tt_pubitem_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int tt_pubitem_parse(const char *json, size_t len, tt_pub_batch_t **out, char *err, size_t errlen)
{
    perr_t e = {err, errlen};
    const cJSON *items;
    cJSON *root;
    int rc;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    root = load_json(json, len);
    if (!root)
        return fail_raw(&e, NOT_JSON);
    items = cJSON_IsObject(root) ? get(root, "items") : NULL;
    if (cJSON_IsArray(root))
        rc = fail_raw(&e, "Invalid format.");
    else if (!items)
        rc = fail(&e, "object does not contain 'items'");
    else if (!cJSON_IsArray(items))
        rc = fail(&e, "object contains 'items' with wrong type");
    else
        rc = parse_items(&e, items, out);
    cJSON_Delete(root);
    return rc;
}

/* ---- freeing ---- */

static void free_pairs(tt_pub_pair_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

static void free_filters(tt_pub_filters_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
}

static void free_item(tt_pub_item_t *it)
{
    free(it->channel);
    free(it->id);
    free(it->prev_id);
    free_pairs(it->meta, it->n_meta);
    free(it->http_response.reason);
    free_pairs(it->http_response.headers, it->http_response.n_headers);
    free(it->http_response.body);
    free(it->http_response.body_patch_json);
    free_filters(&it->http_response.filters);
    free(it->http_stream.content);
    free_filters(&it->http_stream.filters);
    free(it->ws_message.content);
    free(it->ws_message.close_reason);
    free_filters(&it->ws_message.filters);
}

void tt_pubitem_free(tt_pub_batch_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free_item(&b->items[i]);
    free(b->items);
    free(b);
}

const char *tt_pub_action_name(tt_pub_action_t a)
{
    static const char *const names[] = {"send", "hint", "close", "refresh"};

    return (unsigned)a < TT_ARRAY_SIZE(names) ? names[a] : "?";
}
