/* WebSocket-over-HTTP events, GRIP control messages and the grip extension
 * (see wsevents.h). Pure: no I/O, no loop.
 *
 * Events are parsed line by line, as Pushpin's decodeEvents does:
 *
 *     body --line "NAME[ LEN]\r\n"--> name --LEN?--> content + "\r\n" --> next
 *
 * Control messages go through cJSON, then one small parser per type fills
 * the tt_wsctl_t, checking fields in the order of Pushpin's
 * WsControlMessage::fromVariant so that the first error is the same one.
 * The grip extension is cut as HttpHeaders::takeAll and wsproxysession.cpp's
 * parseParams cut it. */
#include "wsevents.h"

#include "base64.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "str.h"

static const char *const NAMES[] = {"OPEN", "TEXT",  "BINARY",    "PING",
                                    "PONG", "CLOSE", "DISCONNECT"};

/* The shortest event, "OPEN\r\n": bounds the event count by the body size. */
#define MIN_EVENT 6

static int fail(char *err, size_t errlen, const char *fmt, ...) TT_PRINTF(3, 4);

/* Write the reason into err (if any) and return TT_EPARSE. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return TT_EPARSE;
}

/* Qt's trimmed() whitespace. */
static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static void trim(const char *s, size_t *from, size_t *to)
{
    while (*from < *to && is_space(s[*from]))
        (*from)++;
    while (*to > *from && is_space(s[*to - 1]))
        (*to)--;
}

/* Printable copy of s, cut at QUOTE_MAX bytes, for an error message. */
#define QUOTE_MAX 32
static void quote(char dst[QUOTE_MAX + 4], const char *s, size_t n)
{
    size_t o = 0;
    for (; o < n && o < QUOTE_MAX; o++)
        dst[o] = (s[o] >= 0x20 && s[o] < 0x7f) ? s[o] : '?';
    if (n > QUOTE_MAX) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* ---- events: encode ---- */

const char *tt_wse_name(enum tt_wse_type type)
{
    if ((size_t)type >= TT_ARRAY_SIZE(NAMES))
        return "?";
    return NAMES[type];
}

void tt_wse_encode(tt_buf_t *out, enum tt_wse_type type, const char *content, size_t len,
                   bool has_content)
{
    tt_buf_appends(out, tt_wse_name(type));
    if (has_content) {
        tt_buf_appendf(out, " %zx\r\n", len);
        tt_buf_append(out, content, len);
    }
    tt_buf_append(out, "\r\n", 2);
}

void tt_wse_encode_close(tt_buf_t *out, int code, const char *reason, size_t len)
{
    if (code < 0 || code == TT_WSE_CLOSE_NO_STATUS) {
        tt_wse_encode(out, TT_WSE_CLOSE, NULL, 0, false);
        return;
    }
    char be[2] = {(char)((code >> 8) & 0xff), (char)(code & 0xff)};
    tt_buf_appendf(out, "%s %zx\r\n", tt_wse_name(TT_WSE_CLOSE), len + 2);
    tt_buf_append(out, be, 2);
    tt_buf_append(out, reason, len);
    tt_buf_append(out, "\r\n", 2);
}

/* ---- events: parse ---- */

typedef struct parser_s {
    const char *s;
    size_t len;
    size_t pos;
    char *err;
    size_t errlen;
} parser_t;

static int find_name(const char *s, size_t n)
{
    for (size_t i = 0; i < TT_ARRAY_SIZE(NAMES); i++) {
        if (strlen(NAMES[i]) == n && memcmp(NAMES[i], s, n) == 0)
            return (int)i;
    }
    return -1;
}

/* The length field after "NAME ", as Qt's toInt(&ok, 16) reads it: blanks
 * around, an optional '+', an optional 0x. Values past `max` (what is left
 * of the body) stop early and report *over, so nothing can overflow. */
static bool parse_hex(const char *s, size_t n, size_t max, size_t *val, bool *over)
{
    size_t i = 0, end = n, v = 0;
    trim(s, &i, &end);
    if (i < end && s[i] == '+')
        i++;
    if (end - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
        i += 2;
    if (i == end)
        return false;
    *over = false;
    for (; i < end; i++) {
        int d = tt_hex_val(s[i]);
        if (d < 0)
            return false;
        if (*over || v > max / 16 || (size_t)d > max - v * 16)
            *over = true;
        else
            v = v * 16 + (size_t)d;
    }
    *val = v;
    return true;
}

/* Content of `clen` bytes at p->pos (parse_hex saw that they are there),
 * then CRLF. */
static int parse_content(parser_t *p, tt_wse_event_t *ev, size_t clen)
{
    size_t left = p->len - p->pos;
    if (left - clen < 2 || memcmp(p->s + p->pos + clen, "\r\n", 2) != 0)
        return fail(p->err, p->errlen, "missing CRLF after content at byte %zu", p->pos + clen);
    ev->content = p->s + p->pos;
    ev->len = clen;
    ev->has_content = true;
    p->pos += clen + 2;
    return 0;
}

/* One event at p->pos. */
static int parse_event(parser_t *p, tt_wse_event_t *ev)
{
    const char *line = p->s + p->pos;
    size_t start = p->pos, left = p->len - p->pos, n = 0;
    while (n + 1 < left && !(line[n] == '\r' && line[n + 1] == '\n'))
        n++;
    if (n + 1 >= left)
        return fail(p->err, p->errlen, "event line without CRLF at byte %zu", start);
    p->pos += n + 2;

    const char *sp = memchr(line, ' ', n);
    size_t name_len = sp ? (size_t)(sp - line) : n;
    char q[QUOTE_MAX + 4];
    int type = find_name(line, name_len);
    if (type < 0) {
        quote(q, line, name_len);
        return fail(p->err, p->errlen, "unknown event name \"%s\" at byte %zu", q, start);
    }
    *ev = (tt_wse_event_t){.type = (enum tt_wse_type)type};
    if (!sp)
        return 0;

    size_t flen = n - name_len - 1, clen = 0;
    bool over = false;
    if (!parse_hex(sp + 1, flen, p->len - p->pos, &clen, &over)) {
        quote(q, sp + 1, flen);
        return fail(p->err, p->errlen, "bad hex length \"%s\" at byte %zu", q, start);
    }
    if (over) {
        quote(q, sp + 1, flen);
        return fail(p->err, p->errlen, "length \"%s\" beyond body at byte %zu", q, start);
    }
    return parse_content(p, ev, clen);
}

int tt_wse_parse(const char *body, size_t len, tt_wse_event_t **events, size_t *n, char *err,
                 size_t errlen)
{
    parser_t p = {body, len, 0, err, errlen};
    tt_wse_event_t *v = NULL;
    size_t count = 0, cap = 0;
    *events = NULL;
    *n = 0;
    while (p.pos < len) {
        /* count < len / MIN_EVENT + 1 here, as each event took MIN_EVENT bytes. */
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            if (cap > len / MIN_EVENT + 1)
                cap = len / MIN_EVENT + 1;
            v = tt_xrealloc(v, cap * sizeof *v);
        }
        int rc = parse_event(&p, &v[count]);
        if (rc != 0) {
            free(v);
            return rc;
        }
        count++;
    }
    *events = v;
    *n = count;
    return 0;
}

int tt_wse_close_parse(const char *content, size_t len, int *code, const char **reason,
                       size_t *rlen)
{
    if (len < 2) {
        *code = TT_WSE_CLOSE_NO_STATUS;
        *reason = "";
        *rlen = 0;
        return len == 0 ? 0 : TT_EPARSE;
    }
    const unsigned char *u = (const unsigned char *)content;
    *code = (u[0] << 8) | u[1];
    *reason = content + 2;
    *rlen = len - 2;
    return 0;
}

/* ---- control messages: JSON helpers ---- */

/* Qt 5's wording: `pn` is "grip control object" once the root is an object. */
static const char PN[] = "grip control object";

typedef struct ctl_ctx_s {
    const cJSON *root;
    tt_wsctl_t *c;
    char *err;
    size_t errlen;
} ctl_ctx_t;

/* A whole document: an object or an array (Qt 5 refuses other roots), and
 * nothing but blanks after it. */
static cJSON *json_parse(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *root = n ? cJSON_ParseWithLengthOpts(s, n, &end, false) : NULL;
    if (!root)
        return NULL;
    while (end < s + n && is_space(*end))
        end++;
    if (end != s + n || !(cJSON_IsObject(root) || cJSON_IsArray(root))) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static const cJSON *field(const ctl_ctx_t *x, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(x->root, name);
}

/* VariantUtil::getString: *out stays NULL when absent and not required. A
 * JSON null is a wrong type (Qt 5.15 turns it into a valid nullptr variant). */
static int get_string(ctl_ctx_t *x, const char *name, bool required, const char **out)
{
    const cJSON *v = field(x, name);
    *out = NULL;
    if (!v) {
        if (required)
            return fail(x->err, x->errlen, "%s does not contain '%s'", PN, name);
        return 0;
    }
    if (!cJSON_IsString(v))
        return fail(x->err, x->errlen, "%s contains '%s' with wrong type", PN, name);
    *out = v->valuestring;
    return 0;
}

/* A required, non-empty string, copied. */
static int get_name(ctl_ctx_t *x, const char *name, char **out)
{
    const char *s;
    int rc = get_string(x, name, true, &s);
    if (rc != 0)
        return rc;
    if (*s == '\0')
        return fail(x->err, x->errlen, "%s contains '%s' with invalid value", PN, name);
    *out = tt_xstrdup(s);
    return 0;
}

/* Qt's QString::toInt(): decimal with an optional sign and blanks around;
 * anything else (or overflow) is 0, which the caller turns into the default. */
static int string_to_int(const char *s)
{
    size_t i = 0, end = strlen(s);
    trim(s, &i, &end);
    bool neg = i < end && s[i] == '-';
    if (i < end && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i == end)
        return 0;
    long long v = 0;
    for (; i < end; i++) {
        if (s[i] < '0' || s[i] > '9' || v > INT_MAX)
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    v = neg ? -v : v;
    return (v > INT_MAX || v < INT_MIN) ? 0 : (int)v;
}

/* Qt's qRound: floor(d + 0.5), here clamped to the int range. */
static int round_to_int(double d)
{
    if (!(d < (double)INT_MAX))
        return INT_MAX;
    if (!(d > (double)INT_MIN))
        return INT_MIN;
    double t = d + 0.5;
    long long v = (long long)t;
    if ((double)v > t)
        v--;
    return (int)v;
}

/* QVariant::canConvert(Int) and toInt(): numbers, bools and strings. */
static bool json_to_int(const cJSON *v, int *out)
{
    if (cJSON_IsNumber(v))
        *out = round_to_int(v->valuedouble);
    else if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v) ? 1 : 0;
    else if (cJSON_IsString(v))
        *out = string_to_int(v->valuestring);
    else
        return false;
    return true;
}

/* ---- control messages: one parser per type ---- */

static int parse_channel(ctl_ctx_t *x)
{
    return get_name(x, "channel", &x->c->channel);
}

static int parse_subscribe(ctl_ctx_t *x)
{
    int rc = parse_channel(x);
    const cJSON *filters = field(x, "filters"), *f;
    if (rc != 0 || !filters)
        return rc;
    if (!cJSON_IsArray(filters))
        return fail(x->err, x->errlen, "%s contains 'filters' with wrong type", PN);
    size_t n = (size_t)cJSON_GetArraySize(filters);
    x->c->filters = tt_xcalloc(n ? n : 1, sizeof *x->c->filters);
    cJSON_ArrayForEach(f, filters)
    {
        if (!cJSON_IsString(f))
            return fail(x->err, x->errlen, "filters contains value with wrong type");
        x->c->filters[x->c->n_filters++] = tt_xstrdup(f->valuestring);
    }
    return 0;
}

static int parse_session(ctl_ctx_t *x)
{
    const char *id = NULL;
    int rc = get_string(x, "id", false, &id);
    if (rc == 0 && id && *id)
        x->c->session_id = tt_xstrdup(id);
    return rc;
}

static int parse_set_meta(ctl_ctx_t *x)
{
    const char *value = NULL;
    int rc = get_name(x, "name", &x->c->name);
    if (rc == 0)
        rc = get_string(x, "value", false, &value);
    if (rc == 0 && value)
        x->c->value = tt_xstrdup(value);
    return rc;
}

/* The message a keep-alive or send-delayed carries. */
typedef struct msg_s {
    int type;
    char *content; /* NULL: no content given */
    size_t len;
    int timeout; /* 0: not given */
} msg_t;

static int parse_msg_type(ctl_ctx_t *x, int *type)
{
    static const struct {
        const char *name;
        int op;
    } types[] = {{"text", TT_WSE_OP_TEXT},
                 {"binary", TT_WSE_OP_BINARY},
                 {"ping", TT_WSE_OP_PING},
                 {"pong", TT_WSE_OP_PONG}};
    const char *s;
    int rc = get_string(x, "message-type", false, &s);
    *type = TT_WSE_OP_TEXT;
    if (rc != 0 || !s)
        return rc;
    for (size_t i = 0; i < TT_ARRAY_SIZE(types); i++) {
        if (strcmp(s, types[i].name) == 0) {
            *type = types[i].op;
            return 0;
        }
    }
    return fail(x->err, x->errlen, "%s contains 'message-type' with unknown value", PN);
}

/* content-bin wins over content when both are there, as in Pushpin. */
static int parse_content_field(ctl_ctx_t *x, msg_t *m)
{
    const cJSON *bin = field(x, "content-bin"), *text = field(x, "content");
    if (bin) {
        if (!cJSON_IsString(bin))
            return fail(x->err, x->errlen, "%s contains 'content-bin' with wrong type", PN);
        m->content =
            (char *)tt_base64_decode(bin->valuestring, strlen(bin->valuestring), false, &m->len);
    } else if (text) {
        if (!cJSON_IsString(text))
            return fail(x->err, x->errlen, "%s contains 'content' with wrong type", PN);
        m->content = tt_xstrdup(text->valuestring);
        m->len = strlen(text->valuestring);
    }
    return 0;
}

/* Fields shared by keep-alive and send-delayed; the timeout is looked at
 * only when there is content. */
static int parse_msg(ctl_ctx_t *x, msg_t *m)
{
    int rc = parse_msg_type(x, &m->type);
    if (rc == 0)
        rc = parse_content_field(x, m);
    const cJSON *timeout = field(x, "timeout");
    if (rc != 0 || !m->content || !timeout)
        return rc;
    if (!json_to_int(timeout, &m->timeout))
        return fail(x->err, x->errlen, "%s contains 'timeout' with wrong type", PN);
    if (m->timeout < 0)
        return fail(x->err, x->errlen, "%s contains 'timeout' with invalid value", PN);
    return 0;
}

static int parse_keep_alive(ctl_ctx_t *x)
{
    tt_wsctl_t *c = x->c;
    msg_t m = {0};
    const char *mode = NULL;
    int rc = parse_msg(x, &m);
    if (rc == 0)
        rc = get_string(x, "mode", false, &mode);
    c->ka_enabled = rc == 0 && m.content != NULL;
    c->ka_content = m.content;
    c->ka_len = m.len;
    c->ka_type = m.type;
    c->ka_timeout = m.timeout > 0 ? m.timeout : TT_WSCTL_KA_TIMEOUT;
    c->ka_interval = mode && strcmp(mode, "interval") == 0;
    return rc;
}

static int parse_send_delayed(ctl_ctx_t *x)
{
    tt_wsctl_t *c = x->c;
    msg_t m = {0};
    int rc = parse_msg(x, &m);
    c->sd_content = m.content ? m.content : tt_xstrdup("");
    c->sd_len = m.len;
    c->sd_type = m.type;
    c->sd_timeout = m.timeout > 0 ? m.timeout : TT_WSCTL_SD_TIMEOUT;
    return rc;
}

static int parse_nothing(ctl_ctx_t *x)
{
    (void)x;
    return 0;
}

static const struct {
    const char *name;
    enum tt_wsctl_type type;
    int (*parse)(ctl_ctx_t *x);
} CTL_TYPES[] = {
    {"subscribe", TT_WSCTL_SUBSCRIBE, parse_subscribe},
    {"unsubscribe", TT_WSCTL_UNSUBSCRIBE, parse_channel},
    {"detach", TT_WSCTL_DETACH, parse_nothing},
    {"session", TT_WSCTL_SESSION, parse_session},
    {"set-meta", TT_WSCTL_SET_META, parse_set_meta},
    {"keep-alive", TT_WSCTL_KEEP_ALIVE, parse_keep_alive},
    {"send-delayed", TT_WSCTL_SEND_DELAYED, parse_send_delayed},
    {"flush-delayed", TT_WSCTL_FLUSH_DELAYED, parse_nothing},
};

static int parse_object(ctl_ctx_t *x)
{
    const char *type;
    int rc = get_string(x, "type", true, &type);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < TT_ARRAY_SIZE(CTL_TYPES); i++) {
        if (strcmp(type, CTL_TYPES[i].name) == 0) {
            x->c->type = CTL_TYPES[i].type;
            return CTL_TYPES[i].parse(x);
        }
    }
    return fail(x->err, x->errlen, "'type' contains unknown value: %s", type);
}

int tt_wsctl_parse(const char *json, size_t len, tt_wsctl_t **out, char *err, size_t errlen)
{
    *out = NULL;
    cJSON *root = json_parse(json, len);
    if (!root)
        return fail(err, errlen, "grip control message is not valid json");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, errlen, "grip control packet is not an object");
    }
    ctl_ctx_t x = {root, tt_xcalloc(1, sizeof(tt_wsctl_t)), err, errlen};
    int rc = parse_object(&x);
    cJSON_Delete(root);
    if (rc != 0) {
        tt_wsctl_free(x.c);
        return rc;
    }
    *out = x.c;
    return 0;
}

void tt_wsctl_free(tt_wsctl_t *c)
{
    if (!c)
        return;
    free(c->channel);
    for (size_t i = 0; i < c->n_filters; i++)
        free(c->filters[i]);
    free(c->filters);
    free(c->ka_content);
    free(c->name);
    free(c->value);
    free(c->session_id);
    free(c->sd_content);
    free(c);
}

/* ---- the grip extension ---- */

/* Where a value goes: the prefix buffer while the parameter is
 * message-prefix, nowhere otherwise. */
typedef struct sink_s {
    char *buf;
    size_t cap;
    size_t len;
    bool on;
    bool seen;
    bool too_long;
} sink_t;

static void sink_start(sink_t *k, const char *s, size_t from, size_t to)
{
    trim(s, &from, &to);
    k->on = to - from == 14 && memcmp(s + from, "message-prefix", 14) == 0;
    if (k->on) {
        k->seen = true;
        k->len = 0;
        k->too_long = false;
    }
}

static void sink_put(sink_t *k, char ch)
{
    if (!k->on)
        return;
    if (k->len + 1 >= k->cap)
        k->too_long = true;
    else
        k->buf[k->len++] = ch;
}

static size_t find_from(const char *s, size_t n, size_t from, const char *set)
{
    while (from < n && !strchr(set, s[from]))
        from++;
    return from;
}

/* A quoted value from just after the opening quote; then skip to past the
 * next ';' whatever lies between. */
static int quoted_value(const char *s, size_t n, size_t *pos, sink_t *k)
{
    size_t i = *pos;
    for (; i < n && s[i] != '"'; i++) {
        if (s[i] == '\\' && ++i >= n)
            return TT_EPARSE;
        sink_put(k, s[i]);
    }
    if (i >= n)
        return TT_EPARSE;
    size_t semi = find_from(s, n, i + 1, ";");
    *pos = semi < n ? semi + 1 : n;
    return 0;
}

/* wsproxysession.cpp's parseParams over the text after "grip;". */
static int grip_params(const char *s, size_t n, sink_t *k)
{
    size_t pos = 0;
    while (pos < n) {
        size_t at = find_from(s, n, pos, "=;");
        sink_start(k, s, pos, at);
        if (at == n || s[at] == ';') {
            pos = at < n ? at + 1 : n;
            continue;
        }
        if (at + 1 >= n)
            return TT_EPARSE; /* '=' at the very end */
        if (s[at + 1] == '"') {
            pos = at + 2;
            if (quoted_value(s, n, &pos, k) != 0)
                return TT_EPARSE;
            continue;
        }
        size_t from = at + 1, to = find_from(s, n, from, ";");
        pos = to < n ? to + 1 : n;
        trim(s, &from, &to);
        for (size_t i = from; i < to; i++)
            sink_put(k, s[i]);
    }
    return 0;
}

/* The end of the item starting at `pos`: the next comma outside quotes, or
 * the end when a quote is left open (HttpHeaders' findNonQuoted). */
static size_t item_end(const char *s, size_t n, size_t pos)
{
    bool in_quote = false;
    for (size_t i = pos; i < n; i++) {
        if (in_quote && s[i] == '\\') {
            if (++i >= n)
                return n;
        } else if (s[i] == '"') {
            in_quote = !in_quote;
        } else if (!in_quote && s[i] == ',') {
            return i;
        }
    }
    return n;
}

/* Whether the (trimmed) item is the grip extension; *params is where its
 * parameters start (n when it has none). */
static bool is_grip(const char *s, size_t from, size_t to, size_t *params)
{
    const char *semi = memchr(s + from, ';', to - from);
    size_t name_end = semi ? (size_t)(semi - s) : to;
    *params = semi ? name_end + 1 : to;
    if (semi)
        trim(s, &from, &name_end);
    return name_end - from == 4 && memcmp(s + from, "grip", 4) == 0;
}

/* The prefix found, or "m:" when the grip item had no message-prefix. */
static int grip_result(sink_t *k, bool *grip)
{
    if (!k->seen) {
        k->on = true;
        sink_put(k, 'm');
        sink_put(k, ':');
    }
    if (k->too_long) {
        k->buf[0] = '\0';
        return TT_ELIMIT;
    }
    k->buf[k->len] = '\0';
    *grip = true;
    return 0;
}

int tt_wse_grip_extension(const char *value, size_t len, bool *grip, char *prefix,
                          size_t prefix_cap)
{
    *grip = false;
    prefix[0] = '\0';
    for (size_t pos = 0; pos < len;) {
        size_t end = item_end(value, len, pos), from = pos, to = end, params;
        pos = end < len ? end + 1 : len;
        trim(value, &from, &to);
        if (!is_grip(value, from, to, &params))
            continue;
        sink_t k = {.buf = prefix, .cap = prefix_cap};
        if (grip_params(value + params, to - params, &k) != 0) {
            prefix[0] = '\0';
            return TT_EPARSE;
        }
        return grip_result(&k, grip);
    }
    return 0;
}
