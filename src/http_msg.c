/* HTTP message heads and the llhttp wrapper.
 *
 * The parser copies the head (target, header names and values) into the
 * message as llhttp reports it, piece by piece, since a head may span reads.
 * It counts head bytes against a limit so that an endless head is refused
 * before it costs memory. Body bytes are passed through, never copied. */
#include "http_msg.h"

#include <string.h>

#include <stdlib.h>

#include "mem.h"
#include "str.h"

void tt_msg_init(tt_msg_t *m)
{
    memset(m, 0, sizeof *m);
}

void tt_msg_reset(tt_msg_t *m)
{
    tt_buf_reset(&m->buf);
    tt_hdr_t *h = m->hdrs;
    uint32_t cap = m->cap_hdrs;
    tt_buf_t b = m->buf;
    memset(m, 0, sizeof *m);
    m->buf = b;
    m->hdrs = h;
    m->cap_hdrs = cap;
}

void tt_msg_free(tt_msg_t *m)
{
    tt_buf_free(&m->buf);
    free(m->hdrs);
    memset(m, 0, sizeof *m);
}

int tt_msg_find(const tt_msg_t *m, const char *name, uint32_t from)
{
    for (uint32_t i = from; i < m->n_hdrs; i++)
        if (tt_str_ieq(tt_msg_name(m, i), m->hdrs[i].name_len, name))
            return (int)i;
    return -1;
}

const char *tt_msg_get(const tt_msg_t *m, const char *name, uint32_t *len)
{
    int i = tt_msg_find(m, name, 0);
    if (i < 0)
        return NULL;
    if (len)
        *len = m->hdrs[i].value_len;
    return tt_msg_value(m, (uint32_t)i);
}

bool tt_msg_type_is(const tt_msg_t *m, const char *type)
{
    uint32_t len = 0;
    const char *ct = tt_msg_get(m, "content-type", &len);
    if (!ct)
        return false;
    uint32_t n = 0;
    while (n < len && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t')
        n++;
    return tt_str_ieq(ct, n, type);
}

static tt_hdr_t *new_hdr(tt_msg_t *m)
{
    if (m->n_hdrs == m->cap_hdrs) {
        m->cap_hdrs = m->cap_hdrs ? m->cap_hdrs * 2 : 16;
        m->hdrs = tt_xrealloc(m->hdrs, m->cap_hdrs * sizeof *m->hdrs);
    }
    tt_hdr_t *h = &m->hdrs[m->n_hdrs++];
    memset(h, 0, sizeof *h);
    return h;
}

/* Each string in buf is followed by a NUL so that values can be used as C
 * strings; the NUL is not counted in the lengths. */
static uint32_t put(tt_msg_t *m, const char *s, size_t n)
{
    uint32_t off = (uint32_t)m->buf.len;
    tt_buf_append(&m->buf, s, n);
    tt_buf_append(&m->buf, "", 1);
    return off;
}

void tt_msg_add(tt_msg_t *m, const char *name, size_t nlen, const char *value, size_t vlen)
{
    uint32_t noff = put(m, name, nlen);
    uint32_t voff = put(m, value, vlen);
    tt_hdr_t *h = new_hdr(m);
    h->name_off = noff;
    h->name_len = (uint32_t)nlen;
    h->value_off = voff;
    h->value_len = (uint32_t)vlen;
}

/* Append a piece to the string that ends the buffer (a field spanning reads). */
static void extend(tt_msg_t *m, uint32_t *len, const char *at, size_t n)
{
    m->buf.len--; /* drop the NUL */
    tt_buf_append(&m->buf, at, n);
    tt_buf_append(&m->buf, "", 1);
    *len += (uint32_t)n;
}

static tt_parser_t *ps_of(llhttp_t *p)
{
    return tt_container_of(p, tt_parser_t, p);
}

static int count_head(tt_parser_t *ps, size_t n, enum tt_parse_fail why)
{
    ps->head_bytes += n;
    if (ps->head_limit && ps->head_bytes > ps->head_limit) {
        ps->fail = why;
        return HPE_USER;
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    tt_parser_t *ps = ps_of(p);
    tt_msg_reset(ps->msg);
    ps->head_bytes = 0;
    ps->in_value = false;
    ps->head_done = false;
    put(ps->msg, "", 0); /* target starts empty at offset 0 */
    return 0;
}

static int on_target(llhttp_t *p, const char *at, size_t n)
{
    tt_parser_t *ps = ps_of(p);
    /* The request line counts against the same budget as the headers, as
     * Pushpin's client_buffer_size does; a target alone past it is 414. */
    if (count_head(ps, n, TT_PARSE_URI_TOO_LONG))
        return HPE_USER;
    extend(ps->msg, &ps->msg->target_len, at, n);
    return 0;
}

/* RFC 9110 token characters: what a header name may hold. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int on_field(llhttp_t *p, const char *at, size_t n)
{
    tt_parser_t *ps = ps_of(p);
    if (count_head(ps, n + 4, TT_PARSE_HEAD_TOO_LARGE))
        return HPE_USER;
    /* llhttp lets some separators through in names; a proxy must not pass
     * on a name that another parser could read differently. */
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)at[i])) {
            ps->fail = TT_PARSE_BAD_NAME;
            return HPE_USER;
        }
    tt_msg_t *m = ps->msg;
    if (ps->in_value || m->n_hdrs == 0 || m->hdrs[m->n_hdrs - 1].value_off) {
        ps->in_value = false;
        tt_hdr_t *h = new_hdr(m);
        h->name_off = put(m, at, n);
        h->name_len = (uint32_t)n;
        return 0;
    }
    extend(m, &m->hdrs[m->n_hdrs - 1].name_len, at, n);
    return 0;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
    tt_parser_t *ps = ps_of(p);
    if (count_head(ps, n, TT_PARSE_HEAD_TOO_LARGE))
        return HPE_USER;
    tt_msg_t *m = ps->msg;
    tt_hdr_t *h = &m->hdrs[m->n_hdrs - 1];
    if (!ps->in_value) {
        ps->in_value = true;
        h->value_off = put(m, at, n);
        h->value_len = (uint32_t)n;
        return 0;
    }
    extend(m, &h->value_len, at, n);
    return 0;
}

/* A header with an empty value gets no on_header_value call. */
static int on_value_complete(llhttp_t *p)
{
    tt_parser_t *ps = ps_of(p);
    tt_msg_t *m = ps->msg;
    tt_hdr_t *h = &m->hdrs[m->n_hdrs - 1];
    if (!ps->in_value) {
        h->value_off = put(m, "", 0);
        h->value_len = 0;
    }
    ps->in_value = true;
    return 0;
}

/* An owner callback's answer: 0 go on, > 0 pause, < 0 fail. */
static int verdict(tt_parser_t *ps, int r)
{
    if (r < 0) {
        if (ps->fail == TT_PARSE_OK)
            ps->fail = TT_PARSE_BAD;
        return HPE_USER;
    }
    if (r > 0) {
        ps->paused = true;
        return HPE_PAUSED;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    tt_parser_t *ps = ps_of(p);
    tt_msg_t *m = ps->msg;
    m->method = p->method;
    m->status = p->status_code;
    m->major = p->http_major;
    m->minor = p->http_minor;
    m->has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
    m->content_length = m->has_content_length ? p->content_length : 0;
    m->chunked = (p->flags & F_CHUNKED) != 0;
    m->keep_alive = llhttp_should_keep_alive(p) != 0;
    m->upgrade = p->upgrade != 0;
    ps->head_done = true;
    bool no_body = ps->no_body;
    int r = ps->cbs->on_head ? ps->cbs->on_head(ps->owner, m) : 0;
    if (r)
        return verdict(ps, r);
    return no_body ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    tt_parser_t *ps = ps_of(p);
    return verdict(ps, ps->cbs->on_body ? ps->cbs->on_body(ps->owner, at, n) : 0);
}

static int on_message_complete(llhttp_t *p)
{
    tt_parser_t *ps = ps_of(p);
    return verdict(ps, ps->cbs->on_complete ? ps->cbs->on_complete(ps->owner) : 0);
}

static llhttp_settings_t settings;
static bool settings_ready;

void tt_parser_init(tt_parser_t *ps, llhttp_type_t type, tt_msg_t *msg, size_t head_limit,
                    const tt_parser_cbs_t *cbs, void *owner)
{
    if (!settings_ready) {
        llhttp_settings_init(&settings);
        settings.on_message_begin = on_message_begin;
        settings.on_url = on_target;
        settings.on_status = on_target;
        settings.on_header_field = on_field;
        settings.on_header_value = on_value;
        settings.on_header_value_complete = on_value_complete;
        settings.on_headers_complete = on_headers_complete;
        settings.on_body = on_body;
        settings.on_message_complete = on_message_complete;
        settings_ready = true;
    }
    memset(ps, 0, sizeof *ps);
    llhttp_init(&ps->p, type, &settings);
    ps->msg = msg;
    ps->head_limit = head_limit;
    ps->cbs = cbs;
    ps->owner = owner;
}

size_t tt_parser_execute(tt_parser_t *ps, const char *data, size_t len, bool *error)
{
    *error = false;
    if (len == 0)
        return 0;
    llhttp_errno_t e = llhttp_execute(&ps->p, data, len);
    if (e == HPE_OK)
        return len;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        const char *pos = llhttp_get_error_pos(&ps->p);
        return pos ? (size_t)(pos - data) : len;
    }
    if (ps->fail == TT_PARSE_OK)
        ps->fail = TT_PARSE_BAD;
    *error = true;
    const char *pos = llhttp_get_error_pos(&ps->p);
    return pos ? (size_t)(pos - data) : 0;
}

void tt_parser_resume(tt_parser_t *ps)
{
    if (ps->paused) {
        ps->paused = false;
        if (llhttp_get_errno(&ps->p) == HPE_PAUSED_UPGRADE)
            llhttp_resume_after_upgrade(&ps->p);
        else
            llhttp_resume(&ps->p);
    }
}

bool tt_parser_finish(tt_parser_t *ps)
{
    return llhttp_finish(&ps->p) == HPE_OK;
}

void tt_parser_expect_no_body(tt_parser_t *ps, bool yes)
{
    ps->no_body = yes;
}

const char *tt_parser_error(const tt_parser_t *ps)
{
    switch (ps->fail) {
    case TT_PARSE_URI_TOO_LONG:
        return "request target too long";
    case TT_PARSE_HEAD_TOO_LARGE:
        return "header too large";
    case TT_PARSE_BODY_TOO_LARGE:
        return "body too large";
    case TT_PARSE_BAD_NAME:
        return "invalid character in header name";
    default:
        break;
    }
    const char *r = llhttp_get_error_reason(&ps->p);
    return r ? r : llhttp_errno_name(llhttp_get_errno(&ps->p));
}

/* The standard hop-by-hop names, found by length first: this runs for
 * every header of every proxied message. */
static bool standard_hop(const char *name, size_t len)
{
    switch (len) {
    case 2:
        return tt_str_ieq(name, len, "te");
    case 7:
        return tt_str_ieq(name, len, "trailer") || tt_str_ieq(name, len, "upgrade");
    case 10:
        return tt_str_ieq(name, len, "connection") || tt_str_ieq(name, len, "keep-alive");
    case 16:
        return tt_str_ieq(name, len, "proxy-connection");
    case 17:
        return tt_str_ieq(name, len, "transfer-encoding");
    case 18:
        return tt_str_ieq(name, len, "proxy-authenticate");
    case 19:
        return tt_str_ieq(name, len, "proxy-authorization");
    default:
        return false;
    }
}

/* Whether some Connection header names other headers (not just close,
 * keep-alive or upgrade); worked out once per message. */
static bool connection_names_others(tt_msg_t *m)
{
    if (m->conn_scan)
        return m->conn_scan == 2;
    m->conn_scan = 1;
    for (int i = tt_msg_find(m, "connection", 0); i >= 0;
         i = tt_msg_find(m, "connection", (uint32_t)i + 1)) {
        const char *v = tt_msg_value(m, (uint32_t)i);
        uint32_t n = m->hdrs[i].value_len;
        for (uint32_t p = 0; p < n;) {
            while (p < n && (v[p] == ' ' || v[p] == ',' || v[p] == '\t'))
                p++;
            uint32_t s = p;
            while (p < n && v[p] != ',' && v[p] != ' ' && v[p] != '\t')
                p++;
            if (p > s && !tt_str_ieq(v + s, p - s, "close") &&
                !tt_str_ieq(v + s, p - s, "keep-alive") && !tt_str_ieq(v + s, p - s, "upgrade"))
                m->conn_scan = 2;
        }
    }
    return m->conn_scan == 2;
}

bool tt_hdr_is_hop(const tt_msg_t *m, const char *name, size_t len)
{
    if (standard_hop(name, len))
        return true;
    if (!connection_names_others((tt_msg_t *)m))
        return false;
    char tmp[128];
    if (len >= sizeof tmp)
        return false;
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    for (int i = tt_msg_find(m, "connection", 0); i >= 0;
         i = tt_msg_find(m, "connection", (uint32_t)i + 1))
        if (tt_str_list_has(tt_msg_value(m, (uint32_t)i), m->hdrs[i].value_len, tmp))
            return true;
    return false;
}

const char *tt_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 417:
        return "Expectation Failed";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}
