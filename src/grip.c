/* GRIP instructions and Grip-Sig tokens (see grip.h). Pure: no I/O, no loop.
 *
 * Header values are cut the way Pushpin's HttpHeaders does it, then one small
 * parser per header fills the instruct, in Pushpin's order so that the first
 * error reported is the same one:
 *
 *     value --split_next--> items        (commas outside "quotes")
 *     item  --params_parse--> params     (first; name[=value]; ...)
 *     params --parse_<header>--> tt_instruct_t --apply_defaults--> caller
 *
 * The JSON form runs the header parsers first and lays the body over them
 * (cJSON). Tokens use mbedtls's HMAC-SHA256. Base64 is done here: lenient
 * where Pushpin uses Qt's QByteArray::fromBase64 (keep-alive data, body-bin,
 * base64: keys), strict base64url for JWTs.
 *
 * Where Pushpin 1.36 silently skips a malformed item (an unterminated quote
 * in Grip-Channel, Grip-Link, Grip-Set-Meta or Grip-Keep-Alive) we report
 * it; where it subscribes to an empty channel name we skip the name. */
#include "grip.h"

#include "base64.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <mbedtls/md.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "str.h"

/* Defaults and floors of Pushpin's instruct.cpp. */
#define DEFAULT_TIMEOUT 55
#define MIN_TIMEOUT 5
#define DEFAULT_KA_TIMEOUT 55
#define MIN_KA_TIMEOUT 1
#define DEFAULT_LINK_TIMEOUT 120
/* Grip-Sig lifetime, as Pushpin's make_token (proxyutil.cpp). */
#define SIG_LIFETIME 3600
/* A token comes from one request header; anything longer is not ours. */
#define SIG_MAX 8192
#define SHA256_LEN 32

static const char GRIP_INSTRUCT[] = "application/grip-instruct";

typedef struct ctx_s {
    tt_instruct_t *in;
    const char *prefix;
    char *err;
    size_t errlen;
} ctx_t;

/* One `name[=value]` of a header item. `name` points into the item; `value`
 * is a copy (quotes and escapes removed), NULL when there was no '='. */
typedef struct param_s {
    const char *name;
    size_t name_len;
    char *value;
    size_t value_len;
} param_t;

typedef struct params_s {
    param_t *v;
    size_t n;
} params_t;

static int fail(ctx_t *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Write the reason into c->err (if any) and return TT_EPARSE. */
static int fail(ctx_t *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return TT_EPARSE;
}

/* ---- small text helpers ---- */

/* Qt's isspace set, used by QByteArray::trimmed and toInt. */
static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_ws((*s)[*n - 1]))
        (*n)--;
}

/* Exact, case-sensitive: Pushpin compares values with QByteArray ==. */
static bool eq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static size_t find_char(const char *s, size_t n, size_t from, char ch)
{
    while (from < n && s[from] != ch)
        from++;
    return from;
}

static char *dup_n(const char *s, size_t n)
{
    return n ? tt_xstrndup(s, n) : tt_xstrdup("");
}

/* QByteArray::toInt: optional blanks around an optional sign and at least one
 * decimal digit, and the result must fit an int. */
static bool parse_int(const char *s, size_t n, int *out)
{
    trim(&s, &n);
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)INT_MAX + 1)
            return false;
    }
    v = neg ? -v : v;
    if (v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

/* CR, LF or NUL would split a header line that this text later goes into. */
static bool has_crlf(const char *s, size_t n)
{
    return memchr(s, '\r', n) || memchr(s, '\n', n) || memchr(s, '\0', n);
}

static bool is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool alnum =
            (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (!alnum && !(ch && strchr(extra, ch)))
            return false;
    }
    return true;
}

/* ---- header items and params (Pushpin's HttpHeaders) ---- */

/* Next comma-separated item of a header value; commas inside "quotes" do not
 * count, and an unterminated quote takes the rest of the value. */
static bool split_next(const char *s, size_t n, size_t *pos, const char **item, size_t *len)
{
    if (*pos >= n)
        return false;
    size_t i = *pos;
    bool quoted = false;
    for (; i < n; i++) {
        if (quoted && s[i] == '\\')
            i++;
        else if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && s[i] == ',')
            break;
    }
    size_t end = i < n ? i : n;
    *item = s + *pos;
    *len = end - *pos;
    trim(item, len);
    *pos = end < n ? end + 1 : n;
    return true;
}

static param_t *params_push(params_t *p, const char *name, size_t n)
{
    trim(&name, &n);
    p->v = tt_xrealloc(p->v, (p->n + 1) * sizeof *p->v);
    param_t *pa = &p->v[p->n++];
    pa->name = name;
    pa->name_len = n;
    pa->value = NULL;
    pa->value_len = 0;
    return pa;
}

static void params_free(params_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].value);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

/* A "quoted" value starting at s[at], backslash escaping any character.
 * Whatever follows the closing quote up to the next ';' is ignored. */
static bool quoted_value(const char *s, size_t n, size_t at, size_t *pos, param_t *pa)
{
    tt_buf_t b = TT_BUF_INIT;
    for (; at < n; at++) {
        if (s[at] == '\\') {
            if (++at >= n)
                break;
        } else if (s[at] == '"') {
            pa->value_len = b.len;
            pa->value = b.data ? b.data : tt_xstrdup("");
            size_t end = find_char(s, n, at + 1, ';');
            *pos = end < n ? end + 1 : n;
            return true;
        }
        tt_buf_append(&b, s + at, 1);
    }
    tt_buf_free(&b);
    return false;
}

static bool param_next(const char *s, size_t n, size_t *pos, params_t *p)
{
    size_t at = *pos;
    while (at < n && s[at] != '=' && s[at] != ';')
        at++;
    param_t *pa = params_push(p, s + *pos, at - *pos);
    if (at >= n || s[at] == ';') {
        *pos = at < n ? at + 1 : n;
        return true;
    }
    at++;
    if (at < n && s[at] == '"')
        return quoted_value(s, n, at + 1, pos, pa);
    size_t end = find_char(s, n, at, ';');
    const char *v = s + at;
    size_t vlen = end - at;
    trim(&v, &vlen);
    pa->value = dup_n(v, vlen);
    pa->value_len = vlen;
    *pos = end < n ? end + 1 : n;
    return true;
}

/* Parse one item into params. `first_raw`: everything up to the first ';'
 * is the first param's name, unparsed (Pushpin's NoParseFirstParameter).
 * Returns false on an unterminated quote or a dangling backslash. */
static bool params_parse(const char *s, size_t n, bool first_raw, params_t *p)
{
    size_t pos = 0;
    if (first_raw) {
        size_t at = find_char(s, n, 0, ';');
        params_push(p, s, at);
        pos = at < n ? at + 1 : n;
    }
    while (pos < n)
        if (!param_next(s, n, &pos, p))
            return false;
    return true;
}

/* The first param after the first one named `name` (case-insensitive). */
static const param_t *params_get(const params_t *p, const char *name)
{
    for (size_t i = 1; i < p->n; i++)
        if (tt_str_ieq(p->v[i].name, p->v[i].name_len, name))
            return &p->v[i];
    return NULL;
}

typedef int (*item_fn)(ctx_t *c, const char *item, size_t len);

/* Call fn on every item of every header `name`, in order. */
static int each_item(ctx_t *c, const tt_msg_t *m, const char *name, item_fn fn)
{
    for (int i = tt_msg_find(m, name, 0); i >= 0; i = tt_msg_find(m, name, (uint32_t)i + 1)) {
        const char *v = tt_msg_value(m, (uint32_t)i);
        size_t n = m->hdrs[i].value_len, pos = 0, len;
        const char *item;
        while (split_next(v, n, &pos, &item, &len)) {
            int rc = fn(c, item, len);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- building the instruct ---- */

/* -1 marks "no timeout given" until apply_defaults(). */
static tt_instruct_t *instruct_new(void)
{
    tt_instruct_t *in = tt_xcalloc(1, sizeof *in);
    in->timeout = -1;
    in->ka_timeout = DEFAULT_KA_TIMEOUT;
    in->next_link_timeout = DEFAULT_LINK_TIMEOUT;
    return in;
}

static tt_grip_channel_t *add_channel(ctx_t *c, const char *name, size_t n)
{
    tt_instruct_t *in = c->in;
    in->channels = tt_xrealloc(in->channels, (in->n_channels + 1) * sizeof *in->channels);
    tt_grip_channel_t *ch = &in->channels[in->n_channels++];
    memset(ch, 0, sizeof *ch);
    tt_buf_t b = TT_BUF_INIT;
    tt_buf_appends(&b, c->prefix ? c->prefix : "");
    tt_buf_append(&b, name, n);
    ch->name = b.data;
    return ch;
}

static void add_filter(tt_grip_channel_t *ch, const char *f, size_t n)
{
    ch->filters = tt_xrealloc(ch->filters, (ch->n_filters + 1) * sizeof *ch->filters);
    ch->filters[ch->n_filters++] = dup_n(f, n);
}

static void add_string(char ***arr, size_t *n, const char *s, size_t len)
{
    *arr = tt_xrealloc(*arr, (*n + 1) * sizeof **arr);
    (*arr)[(*n)++] = dup_n(s, len);
}

static void add_pair(tt_grip_pair_t **arr, size_t *n, const char *name, const char *value)
{
    *arr = tt_xrealloc(*arr, (*n + 1) * sizeof **arr);
    (*arr)[*n].name = tt_xstrdup(name);
    (*arr)[*n].value = tt_xstrdup(value);
    (*n)++;
}

/* Meta is a map in Pushpin: a name set again replaces its value. */
static void set_meta(tt_instruct_t *in, const char *name, const char *value)
{
    for (size_t i = 0; i < in->n_meta; i++) {
        if (strcmp(in->meta[i].name, name) == 0) {
            free(in->meta[i].value);
            in->meta[i].value = tt_xstrdup(value);
            return;
        }
    }
    add_pair(&in->meta, &in->n_meta, name, value);
}

static void set_ka_data(tt_instruct_t *in, char *data, size_t len)
{
    free(in->ka_data);
    in->ka_data = data;
    in->ka_len = len;
}

/* Pushpin applies these after parsing both forms: timeout 55 and at least
 * 5, keep-alive timeout at least 1, a reason for every JSON response. */
static void apply_defaults(tt_instruct_t *in)
{
    if (in->timeout < 0)
        in->timeout = DEFAULT_TIMEOUT;
    if (in->timeout < MIN_TIMEOUT)
        in->timeout = MIN_TIMEOUT;
    if (in->ka_timeout < MIN_KA_TIMEOUT)
        in->ka_timeout = MIN_KA_TIMEOUT;
    /* Zero bytes of keep-alive would end a chunked stream: send nothing. */
    in->keep_alive = in->ka_data && in->ka_len > 0;
    if (in->has_response && (!in->resp_reason || !*in->resp_reason)) {
        free(in->resp_reason);
        in->resp_reason = tt_xstrdup(tt_http_reason(in->code));
    }
}

static int finish(ctx_t *c, int rc, tt_instruct_t **out)
{
    if (rc) {
        tt_grip_instruct_free(c->in);
        *out = NULL;
        return rc;
    }
    apply_defaults(c->in);
    *out = c->in;
    return 0;
}

/* ---- the headers, one parser each ---- */

/* Grip-Hold: response|stream, exactly (Pushpin 1.36 rejects "Response" and "").
 * Only the first header counts, as for every single-valued Grip-* header. */
static int parse_hold(ctx_t *c, const tt_msg_t *m)
{
    uint32_t len;
    const char *v = tt_msg_get(m, "Grip-Hold", &len);
    if (!v)
        return 0;
    if (eq(v, len, "response"))
        c->in->hold = TT_HOLD_RESPONSE;
    else if (eq(v, len, "stream"))
        c->in->hold = TT_HOLD_STREAM;
    else
        return fail(c, "Grip-Hold must be set to either 'response' or 'stream'");
    return 0;
}

/* One channel: NAME[; prev-id=ID][; filter=F]... The prefix goes in front of
 * NAME; the param name "filter" is matched exactly, "prev-id" in any case. */
static int channel_item(ctx_t *c, const char *item, size_t len)
{
    params_t p = {NULL, 0};
    if (!params_parse(item, len, true, &p)) {
        params_free(&p);
        return fail(c, "failed to parse Grip-Channel");
    }
    int rc = 0;
    const param_t *first = &p.v[0];
    /* An empty name ("a, ,b"): Pushpin subscribes to "", we skip it. */
    if (first->name_len > 0) {
        tt_grip_channel_t *ch = add_channel(c, first->name, first->name_len);
        const param_t *prev = params_get(&p, "prev-id");
        if (prev && prev->value_len > 0)
            ch->prev_id = tt_xstrdup(prev->value);
        for (size_t i = 1; i < p.n; i++)
            if (eq(p.v[i].name, p.v[i].name_len, "filter"))
                add_filter(ch, p.v[i].value ? p.v[i].value : "", p.v[i].value_len);
        if (ch->n_filters > TT_GRIP_FILTERS_MAX)
            rc = fail(c, "too many filters for channel '%.*s'", (int)first->name_len, first->name);
    }
    params_free(&p);
    return rc;
}

static int parse_channels(ctx_t *c, const tt_msg_t *m)
{
    return each_item(c, m, "Grip-Channel", channel_item);
}

/* Grip-Timeout: integer seconds >= 0; apply_defaults() raises it to 5. */
static int parse_timeout(ctx_t *c, const tt_msg_t *m)
{
    uint32_t len;
    const char *v = tt_msg_get(m, "Grip-Timeout", &len);
    if (!v)
        return 0;
    int t;
    if (!parse_int(v, len, &t))
        return fail(c, "failed to parse Grip-Timeout");
    if (t < 0)
        return fail(c, "Grip-Timeout has invalid value");
    c->in->timeout = t;
    return 0;
}

/* Grip-Expose-Headers: a list of names. Empty items are dropped, or a lone
 * "," would hide every header. */
static int expose_item(ctx_t *c, const char *item, size_t len)
{
    tt_instruct_t *in = c->in;
    if (len > 0) {
        add_string(&in->expose_headers, &in->n_expose, item, len);
        in->has_expose = true;
    }
    return 0;
}

static int parse_expose(ctx_t *c, const tt_msg_t *m)
{
    return each_item(c, m, "Grip-Expose-Headers", expose_item);
}

/* format=cstring, as Pushpin's unescape(): \\ \r \n \xHH; any other escape
 * is dropped, backslash and all (checked on Pushpin 1.36). A dangling
 * backslash, a bad \x, or an empty result is an error (NULL). */
static char *cstring_decode(const char *s, size_t n, size_t *out_len)
{
    tt_buf_t b = TT_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\\') {
            if (++i >= n)
                goto bad;
            if (s[i] == 'x') {
                if (i + 2 >= n || tt_hex_val(s[i + 1]) < 0 || tt_hex_val(s[i + 2]) < 0)
                    goto bad;
                ch = (char)(tt_hex_val(s[i + 1]) << 4 | tt_hex_val(s[i + 2]));
                i += 2;
            } else if (s[i] == '\\' || s[i] == 'r' || s[i] == 'n') {
                ch = s[i] == 'r' ? '\r' : s[i] == 'n' ? '\n' : '\\';
            } else {
                continue;
            }
        }
        tt_buf_append(&b, &ch, 1);
    }
    if (b.len == 0)
        goto bad;
    *out_len = b.len;
    return b.data;
bad:
    tt_buf_free(&b);
    return NULL;
}

/* mode=idle (default: the timer restarts after each send) or interval. */
static int ka_mode(ctx_t *c, const params_t *p)
{
    const param_t *mode = params_get(p, "mode");
    const char *v = mode && mode->value ? mode->value : "";
    if (!*v || strcmp(v, "idle") == 0)
        c->in->ka_interval = false;
    else if (strcmp(v, "interval") == 0)
        c->in->ka_interval = true;
    else
        return fail(c, "no such Grip-Keep-Alive mode '%s'", v);
    return 0;
}

/* timeout=N seconds, 55 if absent; a param with no value fails to parse. */
static int ka_timeout(ctx_t *c, const params_t *p)
{
    const param_t *t = params_get(p, "timeout");
    int v = DEFAULT_KA_TIMEOUT;
    if (t && (!t->value || !parse_int(t->value, t->value_len, &v)))
        return fail(c, "failed to parse Grip-Keep-Alive timeout value");
    if (v < 0)
        return fail(c, "Grip-Keep-Alive timeout has invalid value");
    c->in->ka_timeout = v;
    return 0;
}

/* The data is the raw first param; format=raw (default), cstring or base64. */
static int ka_data(ctx_t *c, const params_t *p)
{
    const param_t *data = &p->v[0], *fmt = params_get(p, "format");
    const char *f = fmt && fmt->value ? fmt->value : "";
    char *out;
    size_t len;
    if (!*f || strcmp(f, "raw") == 0) {
        out = tt_xstrndup(data->name, data->name_len);
        len = data->name_len;
    } else if (strcmp(f, "cstring") == 0) {
        out = cstring_decode(data->name, data->name_len, &len);
        if (!out)
            return fail(c, "failed to parse Grip-Keep-Alive cstring format");
    } else if (strcmp(f, "base64") == 0) {
        out = (char *)tt_base64_decode(data->name, data->name_len, false, &len);
    } else {
        return fail(c, "no such Grip-Keep-Alive format '%s'", f);
    }
    set_ka_data(c->in, out, len);
    return 0;
}

/* Only the first Grip-Keep-Alive header counts, and it is not split on
 * commas (the data may contain them; it cannot contain ';'). */
static int parse_keep_alive(ctx_t *c, const tt_msg_t *m)
{
    uint32_t len;
    const char *v = tt_msg_get(m, "Grip-Keep-Alive", &len);
    if (!v || len == 0)
        return 0;
    params_t p = {NULL, 0};
    int rc;
    if (!params_parse(v, len, true, &p))
        rc = fail(c, "failed to parse Grip-Keep-Alive");
    else if (p.v[0].name_len == 0)
        rc = fail(c, "Grip-Keep-Alive cannot be empty");
    else if ((rc = ka_mode(c, &p)) == 0 && (rc = ka_timeout(c, &p)) == 0)
        rc = ka_data(c, &p);
    params_free(&p);
    return rc;
}

/* Grip-Set-Meta: NAME=VALUE items (VALUE may be quoted); only the first
 * param of an item counts, and a NAME without '=' gets "". */
static int meta_item(ctx_t *c, const char *item, size_t len)
{
    params_t p = {NULL, 0};
    int rc = 0;
    if (!params_parse(item, len, false, &p)) {
        rc = fail(c, "failed to parse Grip-Set-Meta");
    } else if (p.n == 0) {
        rc = fail(c, "Grip-Set-Meta cannot be empty");
    } else {
        char *name = tt_xstrndup(p.v[0].name, p.v[0].name_len);
        set_meta(c->in, name, p.v[0].value ? p.v[0].value : "");
        free(name);
    }
    params_free(&p);
    return rc;
}

static int parse_meta(ctx_t *c, const tt_msg_t *m)
{
    return each_item(c, m, "Grip-Set-Meta", meta_item);
}

/* "CODE[ REASON]", split at the first space. Pushpin accepts 0..999; a
 * code of 0 here reads as "not set" (tt_instruct_t.status). */
static int parse_status(ctx_t *c, const tt_msg_t *m)
{
    uint32_t len;
    const char *v = tt_msg_get(m, "Grip-Status", &len);
    if (!v || len == 0)
        return 0;
    const char *sp = memchr(v, ' ', len);
    size_t code_len = sp ? (size_t)(sp - v) : len;
    int code;
    if (!parse_int(v, code_len, &code) || code < 0 || code > 999)
        return fail(c, "Grip-Status contains invalid status code");
    c->in->status = code;
    if (sp && len - code_len > 1)
        c->in->reason = tt_xstrndup(sp + 1, len - code_len - 1);
    return 0;
}

/* The URL inside <...>, as QUrl's tolerant mode keeps it: spaces and
 * non-ASCII bytes percent-encoded. Control characters make it invalid. */
static char *link_url(const char *s, size_t n)
{
    tt_buf_t b = TT_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) {
            tt_buf_free(&b);
            return NULL;
        }
        if (ch == ' ' || ch >= 0x80)
            tt_buf_appendf(&b, "%%%02X", ch);
        else
            tt_buf_append(&b, s + i, 1);
    }
    return b.data;
}

/* rel=next: takes `url`; timeout=N seconds, 120 if absent, 0 allowed. */
static int link_next(ctx_t *c, const params_t *p, char *url)
{
    tt_instruct_t *in = c->in;
    free(in->next_link);
    in->next_link = url;
    const param_t *t = params_get(p, "timeout");
    int v = DEFAULT_LINK_TIMEOUT;
    if (t && (!t->value || !parse_int(t->value, t->value_len, &v)))
        return fail(c, "failed to parse Grip-Link timeout value");
    if (v < 0)
        return fail(c, "Grip-Link timeout has invalid value");
    in->next_link_timeout = v;
    return 0;
}

/* <URL>; rel=next|gone[; timeout=N]. The URL is checked before rel, so a
 * bad one fails even when its rel is ignored. */
static int link_params(ctx_t *c, const params_t *p)
{
    const param_t *first = &p->v[0];
    /* Pushpin skips a link with no params at all. */
    if (p->n < 2)
        return 0;
    const char *s = first->name;
    size_t n = first->name_len;
    if (n <= 2 || s[0] != '<' || s[n - 1] != '>')
        return fail(c, "failed to parse Grip-Link value");
    char *url = link_url(s + 1, n - 2);
    if (!url)
        return fail(c, "Grip-Link contains invalid link");
    const param_t *rel = params_get(p, "rel");
    const char *r = rel && rel->value ? rel->value : "";
    if (strcmp(r, "next") == 0)
        return link_next(c, p, url);
    if (strcmp(r, "gone") == 0) {
        free(c->in->gone_link);
        c->in->gone_link = url;
        return 0;
    }
    free(url); /* other rel values are ignored */
    return 0;
}

static int link_item(ctx_t *c, const char *item, size_t len)
{
    params_t p = {NULL, 0};
    int rc = params_parse(item, len, true, &p) ? link_params(c, &p)
                                               : fail(c, "failed to parse Grip-Link value");
    params_free(&p);
    return rc;
}

static int parse_links(ctx_t *c, const tt_msg_t *m)
{
    return each_item(c, m, "Grip-Link", link_item);
}

/* Pushpin's order, so the first error is the one it would report. */
static int headers_form(ctx_t *c, const tt_msg_t *m)
{
    static int (*const steps[])(ctx_t *, const tt_msg_t *) = {
        parse_hold,       parse_channels, parse_timeout, parse_expose,
        parse_keep_alive, parse_meta,     parse_status,  parse_links,
    };
    for (size_t i = 0; i < TT_ARRAY_SIZE(steps); i++) {
        int rc = steps[i](c, m);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the JSON form ---- */

/* A whole document: trailing bytes other than blanks are an error. */
static cJSON *json_parse(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *root = n ? cJSON_ParseWithLengthOpts(s, n, &end, false) : NULL;
    if (!root)
        return NULL;
    while (end < s + n && is_ws(*end))
        end++;
    if (end != s + n) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static const cJSON *item(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* Qt converts numbers and numeric strings to int (the JSON form's timeouts
 * and code); out-of-range numbers are clamped. Other types are wrong. */
static bool json_int(const cJSON *v, int *out)
{
    if (cJSON_IsString(v))
        return parse_int(v->valuestring, strlen(v->valuestring), out);
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (d >= (double)INT_MAX)
        *out = INT_MAX;
    else if (d <= (double)INT_MIN)
        *out = INT_MIN;
    else
        *out = (int)d;
    return true;
}

static int json_filters(ctx_t *c, tt_grip_channel_t *ch, const cJSON *filters, const char *name)
{
    if (!cJSON_IsArray(filters))
        return fail(c, "channel contains 'filters' with wrong type");
    const cJSON *f;
    cJSON_ArrayForEach(f, filters)
    {
        if (!cJSON_IsString(f))
            return fail(c, "filters contains value with wrong type");
        add_filter(ch, f->valuestring, strlen(f->valuestring));
    }
    if (ch->n_filters > TT_GRIP_FILTERS_MAX)
        return fail(c, "too many filters for channel '%s'", name);
    return 0;
}

/* {"name": .., "prev-id": .., "filters": [..]}: name and prev-id end up in
 * Grip-Last request headers, so CR and LF are refused there. */
static int json_channel(ctx_t *c, const cJSON *v)
{
    if (!cJSON_IsObject(v))
        return fail(c, "channel is not an object");
    const cJSON *name = item(v, "name"), *prev = item(v, "prev-id"), *filters = item(v, "filters");
    if (!name)
        return fail(c, "channel does not contain 'name'");
    if (!cJSON_IsString(name))
        return fail(c, "channel contains 'name' with wrong type");
    size_t nlen = strlen(name->valuestring);
    if (has_crlf(name->valuestring, nlen))
        return fail(c, "channel contains 'name' with invalid value");
    if (prev && !cJSON_IsString(prev))
        return fail(c, "channel contains 'prev-id' with wrong type");
    if (prev && has_crlf(prev->valuestring, strlen(prev->valuestring)))
        return fail(c, "channel contains 'prev-id' with invalid value");
    if (nlen == 0) /* as in the header form */
        return 0;
    tt_grip_channel_t *ch = add_channel(c, name->valuestring, nlen);
    if (prev && *prev->valuestring)
        ch->prev_id = tt_xstrdup(prev->valuestring);
    return filters ? json_filters(c, ch, filters, name->valuestring) : 0;
}

static int json_mode(ctx_t *c, const cJSON *hold)
{
    const cJSON *mode = item(hold, "mode");
    if (!mode) {
        c->in->hold = TT_HOLD_RESPONSE;
        return 0;
    }
    if (!cJSON_IsString(mode))
        return fail(c, "hold contains 'mode' with wrong type");
    if (strcmp(mode->valuestring, "response") == 0)
        c->in->hold = TT_HOLD_RESPONSE;
    else if (strcmp(mode->valuestring, "stream") == 0)
        c->in->hold = TT_HOLD_STREAM;
    else
        return fail(c, "hold 'mode' must be set to either 'response' or 'stream'");
    return 0;
}

static int json_channels(ctx_t *c, const cJSON *hold)
{
    const cJSON *channels = item(hold, "channels"), *v;
    if (!channels)
        return fail(c, "hold does not contain 'channels'");
    if (!cJSON_IsArray(channels))
        return fail(c, "hold contains 'channels' with wrong type");
    cJSON_ArrayForEach(v, channels)
    {
        int rc = json_channel(c, v);
        if (rc)
            return rc;
    }
    return 0;
}

/* A timeout member of `obj` (named `pn` in messages) into *out, if present. */
static int json_timeout(ctx_t *c, const cJSON *obj, const char *pn, int *out)
{
    const cJSON *t = item(obj, "timeout");
    if (!t)
        return 0;
    int v;
    if (!json_int(t, &v))
        return fail(c, "%s contains 'timeout' with wrong type", pn);
    if (v < 0)
        return fail(c, "%s contains 'timeout' with invalid value", pn);
    *out = v;
    return 0;
}

/* content-bin (base64) wins over content. The header's mode=... stays. */
static int json_keep_alive(ctx_t *c, const cJSON *hold)
{
    const cJSON *ka = item(hold, "keep-alive");
    if (!ka)
        return 0;
    if (!cJSON_IsObject(ka))
        return fail(c, "hold contains 'keep-alive' with wrong type");
    const cJSON *bin = item(ka, "content-bin"), *text = item(ka, "content");
    if (bin && !cJSON_IsString(bin))
        return fail(c, "keep-alive contains 'content-bin' with wrong type");
    if (!bin && text && !cJSON_IsString(text))
        return fail(c, "keep-alive contains 'content' with wrong type");
    size_t len;
    if (bin) {
        char *data =
            (char *)tt_base64_decode(bin->valuestring, strlen(bin->valuestring), false, &len);
        set_ka_data(c->in, data, len);
    } else if (text) {
        len = strlen(text->valuestring);
        set_ka_data(c->in, tt_xstrndup(text->valuestring, len), len);
    }
    c->in->ka_timeout = DEFAULT_KA_TIMEOUT;
    return json_timeout(c, ka, "keep-alive", &c->in->ka_timeout);
}

static int json_meta(ctx_t *c, const cJSON *hold)
{
    const cJSON *meta = item(hold, "meta"), *v;
    if (!meta)
        return 0;
    if (!cJSON_IsObject(meta))
        return fail(c, "hold contains 'meta' with wrong type");
    cJSON_ArrayForEach(v, meta)
    {
        if (!cJSON_IsString(v))
            return fail(c, "'meta' contains '%s' with wrong type", v->string);
        set_meta(c->in, v->string, v->valuestring);
    }
    return 0;
}

/* The "hold" object, members in Pushpin's order. */
static int json_hold(ctx_t *c, const cJSON *hold)
{
    int rc = json_mode(c, hold);
    if (!rc)
        rc = json_channels(c, hold);
    if (!rc)
        rc = json_timeout(c, hold, "hold", &c->in->timeout);
    if (!rc)
        rc = json_keep_alive(c, hold);
    if (!rc)
        rc = json_meta(c, hold);
    return rc;
}

/* The response starts as the backend's (status, or Grip-Status) with no
 * headers and no body; the JSON "response" object then changes it. */
static void response_start(ctx_t *c, const tt_msg_t *m)
{
    tt_instruct_t *in = c->in;
    in->has_response = true;
    in->code = in->status ? in->status : m->status;
    if (in->status)
        in->resp_reason = in->reason ? tt_xstrdup(in->reason) : NULL;
    else if (m->target_len)
        in->resp_reason = tt_xstrndup(tt_msg_target(m), m->target_len);
}

static int json_code_reason(ctx_t *c, const cJSON *r)
{
    tt_instruct_t *in = c->in;
    const cJSON *code = item(r, "code"), *reason = item(r, "reason");
    if (code) {
        int v;
        if (!json_int(code, &v))
            return fail(c, "response contains 'code' with wrong type");
        if (v < 0 || v > 999)
            return fail(c, "response contains 'code' with invalid value");
        in->code = v;
        /* A code given here drops the reason that went with the old one. */
        free(in->resp_reason);
        in->resp_reason = NULL;
    }
    if (!reason)
        return 0;
    if (!cJSON_IsString(reason))
        return fail(c, "response contains 'reason' with wrong type");
    if (has_crlf(reason->valuestring, strlen(reason->valuestring)))
        return fail(c, "response contains 'reason' with invalid value");
    if (*reason->valuestring) {
        free(in->resp_reason);
        in->resp_reason = tt_xstrdup(reason->valuestring);
    }
    return 0;
}

/* Pushpin passes these through unchecked; a CR or LF would let a backend
 * inject header lines, so a name must be a token and a value one line. */
static int add_header(ctx_t *c, const char *name, const char *value)
{
    if (!is_token(name, strlen(name)) || has_crlf(value, strlen(value)))
        return fail(c, "headers contains invalid header '%s'", name);
    add_pair(&c->in->headers, &c->in->n_headers, name, value);
    return 0;
}

static int json_header_pair(ctx_t *c, const cJSON *h)
{
    if (!cJSON_IsArray(h))
        return fail(c, "headers contains element with wrong type");
    if (cJSON_GetArraySize(h) != 2)
        return fail(c, "headers contains list with wrong number of elements");
    const cJSON *name = cJSON_GetArrayItem(h, 0), *value = cJSON_GetArrayItem(h, 1);
    if (!cJSON_IsString(name))
        return fail(c, "header contains name element with wrong type");
    if (!cJSON_IsString(value))
        return fail(c, "header contains value element with wrong type");
    return add_header(c, name->valuestring, value->valuestring);
}

static int json_headers(ctx_t *c, const cJSON *r)
{
    const cJSON *headers = item(r, "headers"), *h;
    int rc = 0;
    if (!headers)
        return 0;
    if (cJSON_IsArray(headers)) {
        cJSON_ArrayForEach(h, headers)
        {
            if ((rc = json_header_pair(c, h)) != 0)
                return rc;
        }
    } else if (cJSON_IsObject(headers)) {
        cJSON_ArrayForEach(h, headers)
        {
            if (!cJSON_IsString(h))
                return fail(c, "headers contains '%s' with wrong type", h->string);
            if ((rc = add_header(c, h->string, h->valuestring)) != 0)
                return rc;
        }
    } else {
        return fail(c, "response contains 'headers' with wrong type");
    }
    return 0;
}

/* body-bin (base64) wins over body. */
static int json_body(ctx_t *c, const cJSON *r)
{
    tt_instruct_t *in = c->in;
    const cJSON *bin = item(r, "body-bin"), *text = item(r, "body");
    if (bin && !cJSON_IsString(bin))
        return fail(c, "response contains 'body-bin' with wrong type");
    if (!bin && text && !cJSON_IsString(text))
        return fail(c, "response contains 'body' with wrong type");
    size_t len = 0;
    char *body = NULL;
    if (bin)
        body = (char *)tt_base64_decode(bin->valuestring, strlen(bin->valuestring), false, &len);
    else if (text && (len = strlen(text->valuestring)) > 0)
        body = tt_xstrndup(text->valuestring, len);
    if (body && len == 0) {
        free(body);
        body = NULL;
    }
    in->body = body;
    in->body_len = len;
    return 0;
}

/* The "response" object: code/reason, headers, body. */
static int json_response(ctx_t *c, const cJSON *r)
{
    int rc = json_code_reason(c, r);
    if (!rc)
        rc = json_headers(c, r);
    if (!rc)
        rc = json_body(c, r);
    return rc;
}

static int json_instruct(ctx_t *c, const tt_msg_t *m, const cJSON *root)
{
    const cJSON *hold = item(root, "hold"), *resp = item(root, "response");
    if (hold && !cJSON_IsObject(hold))
        return fail(c, "instruct contains 'hold' with wrong type");
    int rc = hold ? json_hold(c, hold) : 0;
    if (rc)
        return rc;
    response_start(c, m);
    if (!resp)
        return 0;
    if (!cJSON_IsObject(resp))
        return fail(c, "instruct contains 'response' with wrong type");
    return json_response(c, resp);
}

/* The body as a whole: a JSON object, else the two errors Pushpin gives. */
static int json_form(ctx_t *c, const tt_msg_t *m, const char *body, size_t len)
{
    cJSON *root = json_parse(body, len);
    if (!root)
        return fail(c, "failed to parse application/grip-instruct content as JSON");
    int rc =
        cJSON_IsObject(root) ? json_instruct(c, m, root) : fail(c, "instruct must be an object");
    cJSON_Delete(root);
    return rc;
}

/* ---- public: instructions ---- */

bool tt_grip_header_hidden(const char *name, size_t len)
{
    return len >= 5 && tt_str_ieq(name, 5, "grip-");
}

bool tt_grip_header_allowed(const tt_instruct_t *in, const char *name, size_t len)
{
    if (tt_grip_header_hidden(name, len))
        return false;
    if (!in || !in->has_expose)
        return true;
    for (size_t i = 0; i < in->n_expose; i++)
        if (tt_str_ieq(name, len, in->expose_headers[i]))
            return true;
    return false;
}

bool tt_grip_is_json(const tt_msg_t *resp)
{
    uint32_t len;
    const char *v = tt_msg_get(resp, "Content-Type", &len);
    if (!v)
        return false;
    size_t n = find_char(v, len, 0, ';');
    trim(&v, &n);
    return eq(v, n, GRIP_INSTRUCT);
}

bool tt_grip_present(const tt_msg_t *resp)
{
    for (uint32_t i = 0; i < resp->n_hdrs; i++)
        if (tt_grip_header_hidden(tt_msg_name(resp, i), resp->hdrs[i].name_len))
            return true;
    return tt_grip_is_json(resp);
}

static void clear_err(char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
}

int tt_grip_parse_headers(const tt_msg_t *resp, const char *prefix, tt_instruct_t **out, char *err,
                          size_t errlen)
{
    ctx_t c = {instruct_new(), prefix, err, errlen};
    clear_err(err, errlen);
    return finish(&c, headers_form(&c, resp), out);
}

int tt_grip_parse_json(const tt_msg_t *resp, const char *body, size_t len, const char *prefix,
                       tt_instruct_t **out, char *err, size_t errlen)
{
    ctx_t c = {instruct_new(), prefix, err, errlen};
    clear_err(err, errlen);
    int rc = len > TT_GRIP_JSON_MAX ? fail(&c, "GRIP instruct response too large")
                                    : headers_form(&c, resp);
    if (!rc && resp->status != 200)
        rc = fail(&c, "response code for application/grip-instruct content must be 200");
    if (!rc)
        rc = json_form(&c, resp, body, len);
    return finish(&c, rc, out);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_pairs(tt_grip_pair_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

void tt_grip_instruct_free(tt_instruct_t *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n_channels; i++) {
        free(in->channels[i].name);
        free(in->channels[i].prev_id);
        free_strings(in->channels[i].filters, in->channels[i].n_filters);
    }
    free(in->channels);
    free(in->ka_data);
    free(in->next_link);
    free(in->gone_link);
    free(in->reason);
    free_strings(in->expose_headers, in->n_expose);
    free_pairs(in->meta, in->n_meta);
    free(in->resp_reason);
    free_pairs(in->headers, in->n_headers);
    free(in->body);
    free(in);
}

/* ---- public: Grip-Last ---- */

int tt_grip_last_parse(const char *value, size_t len, char **channel, char **last_id)
{
    params_t p = {NULL, 0};
    int rc = TT_EPARSE;
    *channel = *last_id = NULL;
    if (params_parse(value, len, true, &p) && p.v[0].name_len > 0) {
        const param_t *id = params_get(&p, "last-id");
        if (id && id->value) {
            *channel = tt_xstrndup(p.v[0].name, p.v[0].name_len);
            *last_id = tt_xstrdup(id->value);
            rc = 0;
        }
    }
    params_free(&p);
    return rc;
}

void tt_grip_last_format(tt_buf_t *out, const char *channel, const char *last_id)
{
    tt_buf_appendf(out, "%s; last-id=%s", channel, last_id);
}

/* ---- public: keys and Grip-Sig ---- */

const char *tt_grip_features(void)
{
    /* Pushpin 1.41's list minus the experimental filters (GRIP.md 1b). */
    return "status, session, link:next, link:gone, filter:skip-self, filter:skip-users, "
           "filter:require-sub, filter:build-id, filter:var-subst";
}

int tt_grip_key_decode(const char *setting, unsigned char **key, size_t *key_len)
{
    *key = NULL;
    *key_len = 0;
    if (strncmp(setting, "file:", 5) == 0)
        return TT_EPARSE; /* "file: keys are not supported yet" */
    if (strncmp(setting, "base64:", 7) == 0) {
        *key = tt_base64_decode(setting + 7, strlen(setting + 7), false, key_len);
        return 0;
    }
    *key_len = strlen(setting);
    *key = (unsigned char *)tt_xstrdup(setting);
    return 0;
}

static bool hmac_sha256(const unsigned char *key, size_t key_len, const char *msg, size_t n,
                        unsigned char mac[SHA256_LEN])
{
    static const unsigned char none[1] = {0};
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return md &&
           mbedtls_md_hmac(md, key ? key : none, key_len, (const unsigned char *)msg, n, mac) == 0;
}

static const char *json_escape(unsigned char ch)
{
    switch (ch) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        return NULL;
    }
}

/* A JSON string as serde_json writes it (Pushpin's claims go through the
 * Rust jsonwebtoken crate): short escapes, other controls as \u00xx. */
static void json_str(tt_buf_t *b, const char *s)
{
    tt_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        const char *esc = json_escape(ch);
        if (esc)
            tt_buf_appends(b, esc);
        else if (ch < 0x20)
            tt_buf_appendf(b, "\\u%04x", ch);
        else
            tt_buf_append(b, s, 1);
    }
    tt_buf_append(b, "\"", 1);
}

/* Append ".<signature>" for the signing input already in `tok`. */
static bool sign_append(tt_buf_t *tok, const unsigned char *key, size_t key_len)
{
    unsigned char mac[SHA256_LEN];
    if (!hmac_sha256(key, key_len, tok->data, tok->len, mac))
        return false;
    char *sig = tt_base64url_encode(mac, sizeof mac);
    tt_buf_appendf(tok, ".%s", sig);
    free(sig);
    return true;
}

char *tt_grip_sig_make(const unsigned char *key, size_t key_len, const char *iss, int64_t now)
{
    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";
    tt_buf_t claims = TT_BUF_INIT, tok = TT_BUF_INIT;
    tt_buf_appendf(&claims, "{\"exp\":%" PRId64 ",\"iss\":", now + SIG_LIFETIME);
    json_str(&claims, iss ? iss : "");
    tt_buf_append(&claims, "}", 1);
    char *h = tt_base64url_encode((const unsigned char *)header, sizeof header - 1);
    char *p = tt_base64url_encode((const unsigned char *)claims.data, claims.len);
    tt_buf_appendf(&tok, "%s.%s", h, p);
    free(h);
    free(p);
    tt_buf_free(&claims);
    if (!sign_append(&tok, key, key_len)) {
        tt_buf_free(&tok);
        return NULL;
    }
    return tok.data;
}

/* Decode one base64url part and parse it as a JSON object. */
static cJSON *jwt_part(const char *s, size_t n)
{
    size_t len;
    unsigned char *raw = tt_base64_decode(s, n, true, &len);
    if (!raw)
        return NULL;
    cJSON *obj = json_parse((const char *)raw, len);
    free(raw);
    if (obj && !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    return obj;
}

/* Only alg is looked at: typ, kid and the rest are ignored, as the Rust
 * jsonwebtoken crate does with Validation::new(HS256). */
static bool jwt_header_ok(const char *s, size_t n)
{
    cJSON *h = jwt_part(s, n);
    const cJSON *alg = h ? item(h, "alg") : NULL;
    bool ok = cJSON_IsString(alg) && strcmp(alg->valuestring, "HS256") == 0;
    cJSON_Delete(h);
    return ok;
}

/* Pushpin's validate_token: exp must be set, > 0 and still ahead of now. */
static bool jwt_claims_ok(const char *s, size_t n, int64_t now)
{
    cJSON *cl = jwt_part(s, n);
    const cJSON *exp = cl ? item(cl, "exp") : NULL;
    bool ok = cJSON_IsNumber(exp) && exp->valuedouble > 0 && (double)now < exp->valuedouble;
    cJSON_Delete(cl);
    return ok;
}

/* Recompute the signature over `signed_len` bytes and compare its text in
 * constant time with the token's (one canonical base64url form only). */
static bool jwt_sig_ok(const char *tok, size_t signed_len, const char *sig, size_t sig_len,
                       const unsigned char *key, size_t key_len)
{
    unsigned char mac[SHA256_LEN];
    if (!hmac_sha256(key, key_len, tok, signed_len, mac))
        return false;
    char *want = tt_base64url_encode(mac, sizeof mac);
    size_t want_len = strlen(want);
    unsigned char diff = want_len != sig_len;
    for (size_t i = 0; i < want_len && i < sig_len; i++)
        diff |= (unsigned char)(want[i] ^ sig[i]);
    free(want);
    return diff == 0;
}

bool tt_grip_sig_check(const char *token, size_t len, const unsigned char *key, size_t key_len,
                       int64_t now)
{
    if (!token || len == 0 || len > SIG_MAX)
        return false;
    const char *end = token + len;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
        return false;
    if (!jwt_sig_ok(token, (size_t)(d2 - token), d2 + 1, (size_t)(end - d2 - 1), key, key_len))
        return false;
    return jwt_header_ok(token, (size_t)(d1 - token)) &&
           jwt_claims_ok(d1 + 1, (size_t)(d2 - d1 - 1), now);
}
