/* Routes file: parser, best-match lookup and path rewriting.
 *
 * A line goes through two steps. tokenize() cuts it into sections (the
 * condition, then the targets), each a value plus `,name[=value]` props, the
 * way Pushpin's RoutesFile::parseLine does, quotes and escapes included. Then
 * build_route() checks the sections and fills a tt_route_t:
 *
 *     line --tokenize--> sections --build_route--> tt_route_t (or errors)
 *
 * A bad line is reported and skipped and parsing goes on, so one load shows
 * every error in the file; the result is discarded if there was any. */
#include "route.h"

#include "compat.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "mem.h"

/* Routes files are small; anything this large is not one. */
#define MAX_FILE_SIZE (4u << 20)

typedef struct prop_s {
    char *name;
    char *value; /* "" when the prop had no '=' */
} prop_t;

typedef struct sect_s {
    char *value;
    prop_t *props;
    size_t n_props;
} sect_t;

typedef struct tokens_s {
    sect_t *v;
    size_t n;
} tokens_t;

/* The line being parsed, for diagnostics. */
typedef struct parser_s {
    const char *file;
    int line;
    tt_diag_t *diag;
    bool ok;
} parser_t;

enum cprop {
    CP_PROTO,
    CP_SSL,
    CP_PATH_BEG,
    CP_ID,
    CP_PREFIX,
    CP_PATH_REM,
    CP_REPLACE_BEG,
    CP_AS_HOST,
    CP_HEADER,
    CP_SIG_ISS,
    CP_SIG_KEY,
    CP_ORIG_HEADERS,
    CP_NO_GRIP,
    CP_SESSION,
    CP_DEBUG,
    CP_ACO,
    CP_LOG_LEVEL,
    CP_IGNORED
};

static const struct {
    const char *name;
    enum cprop id;
} cond_props[] = {
    {"proto", CP_PROTO},
    {"ssl", CP_SSL},
    {"path_beg", CP_PATH_BEG},
    {"id", CP_ID},
    {"prefix", CP_PREFIX},
    {"path_rem", CP_PATH_REM},
    {"replace_beg", CP_REPLACE_BEG},
    {"as_host", CP_AS_HOST},
    {"header", CP_HEADER},
    {"sig_iss", CP_SIG_ISS},
    {"sig_key", CP_SIG_KEY},
    {"orig_headers", CP_ORIG_HEADERS},
    {"no_grip", CP_NO_GRIP},
    {"session", CP_SESSION},
    {"debug", CP_DEBUG},
    {"aco", CP_ACO},
    {"log_level", CP_LOG_LEVEL},
    /* JSON-P and SockJS translation are not implemented; the props are
     * accepted so that existing files load. */
    {"jsonp_mode", CP_IGNORED},
    {"jsonp_cb", CP_IGNORED},
    {"jsonp_body", CP_IGNORED},
    {"jsonp_defcb", CP_IGNORED},
    {"jsonp_defmethod", CP_IGNORED},
    {"sockjs", CP_IGNORED},
    {"sockjs_as_path", CP_IGNORED},
};

enum tprop {
    TP_SSL,
    TP_INSECURE,
    TP_HOST,
    TP_UNTRUSTED,
    TP_TRUST_CONNECT_HOST,
    TP_OVER_HTTP,
    TP_ONE_EVENT,
    TP_SUB,
    TP_CLIENT_CERT,
    TP_CLIENT_KEY,
    TP_IGNORED
};

static const struct {
    const char *name;
    enum tprop id;
} target_props[] = {
    {"ssl", TP_SSL},
    {"insecure", TP_INSECURE},
    {"host", TP_HOST},
    {"untrusted", TP_UNTRUSTED},
    {"trust_connect_host", TP_TRUST_CONNECT_HOST},
    {"over_http", TP_OVER_HTTP},
    {"one_event", TP_ONE_EVENT},
    {"sub", TP_SUB},
    {"client_cert", TP_CLIENT_CERT},
    {"client_key", TP_CLIENT_KEY},
    /* Only meaningful for ZeroMQ targets, which Tether does not have. */
    {"ipc_file_mode", TP_IGNORED},
};

static void fail(parser_t *ps, const char *fmt, ...) TT_PRINTF(2, 3);

static void fail(parser_t *ps, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tt_diag_error(ps->diag, ps->file, ps->line, "%s", msg);
    ps->ok = false;
}

/* ---- tokenizer ---- */

static void tokens_free(tokens_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (size_t j = 0; j < t->v[i].n_props; j++) {
            free(t->v[i].props[j].name);
            free(t->v[i].props[j].value);
        }
        free(t->v[i].props);
        free(t->v[i].value);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* Decode a quoted run starting after its opening quote; *pp ends past the
 * closing quote. Only \\ and \" are escapes, as in Pushpin. */
static const char *read_quoted(const char **pp, tt_buf_t *out)
{
    const char *p = *pp;
    for (;; p++) {
        if (*p == '\0')
            return "unterminated quoted value";
        if (*p == '"')
            break;
        if (*p == '\\') {
            p++;
            if (*p != '\\' && *p != '"')
                return *p ? "invalid escape in quoted value (only \\\\ and \\\" are allowed)"
                          : "unterminated quoted value";
        }
        tt_buf_append(out, p, 1);
    }
    *pp = p + 1;
    return NULL;
}

/* One value or prop: up to an unquoted ',', blank, '#' or the end.
 * *eq is the offset of the first unquoted '=' in the result, or -1. */
static const char *read_part(const char **pp, tt_buf_t *out, long *eq)
{
    const char *p = *pp;
    tt_buf_reset(out);
    tt_buf_append(out, "", 0); /* data is a valid empty string even if nothing follows */
    *eq = -1;
    while (*p && !strchr(", \t#", *p)) {
        if (*p == '"') {
            p++;
            const char *err = read_quoted(&p, out);
            if (err)
                return err;
            continue;
        }
        if (*p == '=' && *eq < 0)
            *eq = (long)out->len;
        tt_buf_append(out, p++, 1);
    }
    *pp = p;
    return NULL;
}

static void add_prop(sect_t *s, const tt_buf_t *part, long eq)
{
    prop_t prop;
    if (eq < 0) {
        prop.name = tt_xstrdup(part->data);
        prop.value = tt_xstrdup("");
    } else {
        prop.name = tt_xstrndup(part->data, (size_t)eq);
        prop.value = tt_xstrdup(part->data + eq + 1);
    }
    s->props = tt_xrealloc(s->props, (s->n_props + 1) * sizeof *s->props);
    s->props[s->n_props++] = prop;
}

/* The props after a section's value: ",name[=value]" repeated. */
static const char *read_props(const char **pp, sect_t *s, tt_buf_t *part)
{
    long eq;
    while (**pp == ',') {
        (*pp)++;
        const char *err = read_part(pp, part, &eq);
        if (err)
            return err;
        if (part->len == 0)
            return "expecting a prop after ','";
        if (eq == 0)
            return "empty prop name";
        add_prop(s, part, eq);
    }
    return NULL;
}

static const char *tokenize(const char *p, tokens_t *t)
{
    tt_buf_t part = TT_BUF_INIT;
    const char *err = NULL;
    long eq;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            break;
        if ((err = read_part(&p, &part, &eq)) != NULL)
            break;
        t->v = tt_xrealloc(t->v, (t->n + 1) * sizeof *t->v);
        sect_t *s = &t->v[t->n++];
        *s = (sect_t){NULL, NULL, 0};
        /* As in Pushpin, a first part with '=' is a prop of a section with
         * no value ("a=b" means "" plus prop a=b). */
        s->value = tt_xstrdup(eq < 0 ? part.data : "");
        if (eq >= 0)
            add_prop(s, &part, eq);
        if ((err = read_props(&p, s, &part)) != NULL)
            break;
    }
    tt_buf_free(&part);
    return err;
}

/* ---- condition ---- */

static bool parse_uint(const char *s, int max, int *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || v > max)
        return false;
    *out = (int)v;
    return true;
}

static void set_str(char **slot, const char *value)
{
    free(*slot);
    *slot = tt_xstrdup(value);
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* An HTTP token (RFC 9110 tchar), so the name cannot break the request. */
static bool is_token(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !strchr("!#$%&'*+-.^_`|~", c))
            return false;
    }
    return n > 0;
}

static void add_header(parser_t *ps, tt_route_t *r, const char *v)
{
    const char *colon = strchr(v, ':');
    if (!colon || colon == v) {
        fail(ps, "header must be Name:Value, not '%s'", v);
        return;
    }
    if (!is_token(v, (size_t)(colon - v))) {
        fail(ps, "invalid header name in '%s'", v);
        return;
    }
    const char *value = colon + 1;
    while (*value == ' ')
        value++;
    r->headers = tt_xrealloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
    r->headers[r->n_headers].name = tt_xstrndup(v, (size_t)(colon - v));
    r->headers[r->n_headers].value = tt_xstrdup(value);
    r->n_headers++;
}

static void need_value(parser_t *ps, const prop_t *p, char **slot)
{
    if (p->value[0] == '\0')
        fail(ps, "%s needs a value", p->name);
    else
        set_str(slot, p->value);
}

static void cond_proto_ssl(parser_t *ps, tt_route_t *r, enum cprop id, const char *v)
{
    if (id == CP_PROTO && (strcmp(v, "http") == 0 || strcmp(v, "ws") == 0))
        r->proto = strcmp(v, "ws") == 0 ? TT_PROTO_WS : TT_PROTO_HTTP;
    else if (id == CP_PROTO)
        fail(ps, "proto must be 'http' or 'ws', not '%s'", v);
    else if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0)
        r->ssl = strcmp(v, "yes") == 0;
    else
        fail(ps, "ssl must be 'yes' or 'no', not '%s'", v);
}

static void cond_prop(parser_t *ps, tt_route_t *r, enum cprop id, const prop_t *p)
{
    const char *v = p->value;
    switch (id) {
    case CP_PROTO:
    case CP_SSL:
        cond_proto_ssl(ps, r, id, v);
        break;
    case CP_PATH_BEG:
        if (v[0] == '\0')
            fail(ps, "path_beg cannot be empty");
        else
            set_str(&r->path_beg, v);
        break;
    case CP_ID:
        need_value(ps, p, &r->id);
        break;
    case CP_AS_HOST:
        need_value(ps, p, &r->as_host);
        break;
    case CP_PREFIX:
        set_str(&r->prefix, v);
        break;
    case CP_REPLACE_BEG:
        set_str(&r->replace_beg, v);
        break;
    case CP_SIG_ISS:
        set_str(&r->sig_iss, v);
        break;
    case CP_SIG_KEY:
        set_str(&r->sig_key, v);
        break;
    case CP_PATH_REM:
    case CP_LOG_LEVEL:
        if (!parse_uint(v, INT_MAX, id == CP_PATH_REM ? &r->path_rem : &r->log_level))
            fail(ps, "%s must be a non-negative integer, not '%s'", p->name, v);
        break;
    case CP_HEADER:
        add_header(ps, r, v);
        break;
    case CP_ORIG_HEADERS:
        r->orig_headers = true;
        break;
    case CP_NO_GRIP:
        r->no_grip = true;
        break;
    case CP_SESSION:
        r->session = true;
        break;
    case CP_DEBUG:
        r->debug = true;
        break;
    case CP_ACO:
        r->aco = true;
        break;
    case CP_IGNORED:
        break;
    }
}

static void cond_host(parser_t *ps, tt_route_t *r, const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        fail(ps, "route has no host (use * for any host)");
    else if (strcmp(v, "*") == 0)
        r->host = NULL;
    else if (strchr(v, '*'))
        fail(ps, "partial wildcards are not supported: '%s' (use an exact host or *)", v);
    else if (v[0] == '[' && v[n - 1] == ']')
        r->host = tt_xstrndup(v + 1, n - 2);
    else
        r->host = tt_xstrdup(v);
    if (r->host)
        lower(r->host);
    /* One ':' outside brackets is a port (several would be a bare IPv6
     * address); request hosts are compared with theirs removed. */
    const char *colon = r->host ? strchr(r->host, ':') : NULL;
    if (colon && !strchr(colon + 1, ':') && v[0] != '[')
        tt_diag_warn(ps->diag, ps->file, ps->line,
                     "host '%s' has a port, but hosts are matched without one; this route "
                     "never matches",
                     v);
}

static void build_condition(parser_t *ps, tt_route_t *r, const sect_t *s)
{
    cond_host(ps, r, s->value);
    for (size_t i = 0; i < s->n_props; i++) {
        const prop_t *p = &s->props[i];
        size_t k = 0;
        while (k < TT_ARRAY_SIZE(cond_props) && strcmp(cond_props[k].name, p->name) != 0)
            k++;
        if (k == TT_ARRAY_SIZE(cond_props))
            fail(ps, "unknown condition prop '%s'", p->name);
        else
            cond_prop(ps, r, cond_props[k].id, p);
    }
}

/* ---- targets ---- */

/* "host:port" or "[v6]:port" into t->host and t->port. */
static void target_addr(parser_t *ps, tt_target_t *t, const char *v)
{
    const char *host = v, *host_end, *colon;
    if (v[0] == '[') {
        host = v + 1;
        host_end = strchr(v, ']');
        if (!host_end) {
            fail(ps, "target '%s' is missing ']'", v);
            return;
        }
        colon = host_end[1] == ':' ? host_end + 1 : NULL;
    } else {
        colon = host_end = strrchr(v, ':');
        if (colon && memchr(v, ':', (size_t)(colon - v))) {
            fail(ps, "IPv6 target must be in brackets: '%s'", v);
            return;
        }
    }
    if (!colon)
        fail(ps, "target '%s' has no port (expected host:port)", v);
    else if (host_end == host)
        fail(ps, "target '%s' has an empty host", v);
    else if (!parse_uint(colon + 1, 65535, &t->port) || t->port == 0)
        fail(ps, "target '%s' has an invalid port (expected 1..65535)", v);
    else
        t->host = tt_xstrndup(host, (size_t)(host_end - host));
}

static void target_prop(parser_t *ps, tt_target_t *t, enum tprop id, const prop_t *p)
{
    switch (id) {
    case TP_SSL:
        t->ssl = true;
        break;
    case TP_INSECURE:
        t->insecure = true;
        break;
    case TP_UNTRUSTED:
        t->untrusted = true;
        break;
    case TP_TRUST_CONNECT_HOST:
        t->trust_connect_host = true;
        break;
    case TP_OVER_HTTP:
        t->over_http = true;
        break;
    case TP_ONE_EVENT:
        t->one_event = true;
        break;
    case TP_HOST:
        need_value(ps, p, &t->host_header);
        break;
    case TP_CLIENT_CERT:
        need_value(ps, p, &t->client_cert);
        break;
    case TP_CLIENT_KEY:
        need_value(ps, p, &t->client_key);
        break;
    case TP_SUB:
        /* Pushpin skips an empty sub= the same way. */
        if (p->value[0] != '\0') {
            t->subs = tt_xrealloc(t->subs, (t->n_subs + 1) * sizeof *t->subs);
            t->subs[t->n_subs++] = tt_xstrdup(p->value);
        }
        break;
    case TP_IGNORED:
        break;
    }
}

static void build_target(parser_t *ps, tt_target_t *t, const sect_t *s)
{
    const char *v = s->value;
    if (strcmp(v, "test") == 0)
        t->type = TT_TARGET_TEST;
    else if (strncmp(v, "zhttp/", 6) == 0 || strncmp(v, "zhttpreq/", 9) == 0)
        fail(ps, "ZeroMQ targets are not supported: '%s'", v);
    else if (v[0] == '\0')
        fail(ps, "target has no address (expected host:port or test)");
    else
        target_addr(ps, t, v);
    for (size_t i = 0; i < s->n_props; i++) {
        const prop_t *p = &s->props[i];
        size_t k = 0;
        while (k < TT_ARRAY_SIZE(target_props) && strcmp(target_props[k].name, p->name) != 0)
            k++;
        if (k == TT_ARRAY_SIZE(target_props))
            fail(ps, "unknown target prop '%s'", p->name);
        else
            target_prop(ps, t, target_props[k].id, p);
    }
}

/* ---- routes ---- */

static void target_clear(tt_target_t *t)
{
    free(t->host);
    free(t->host_header);
    free(t->client_cert);
    free(t->client_key);
    for (size_t i = 0; i < t->n_subs; i++)
        free(t->subs[i]);
    free(t->subs);
}

static void route_clear(tt_route_t *r)
{
    free(r->host);
    free(r->id);
    free(r->path_beg);
    free(r->replace_beg);
    free(r->as_host);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->prefix);
    free(r->sig_iss);
    free(r->sig_key);
    for (size_t i = 0; i < r->n_targets; i++)
        target_clear(&r->targets[i]);
    free(r->targets);
}

static bool opt_str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Pushpin drops a route whose condition repeats an earlier one; here the
 * earlier line wins ties, so the later one can never match either. */
static void check_duplicate(parser_t *ps, const tt_routes_t *rs, const tt_route_t *r)
{
    for (size_t i = 0; i < rs->n; i++) {
        const tt_route_t *o = &rs->routes[i];
        if (opt_str_eq(o->host, r->host) && o->proto == r->proto && o->ssl == r->ssl &&
            opt_str_eq(o->path_beg, r->path_beg)) {
            tt_diag_warn(ps->diag, ps->file, ps->line,
                         "duplicate condition (same as line %d); this route never matches",
                         o->line);
            return;
        }
    }
}

static void build_route(parser_t *ps, const tokens_t *t, tt_route_t *r)
{
    *r = (tt_route_t){0};
    r->ssl = -1;
    r->path_rem = -1;
    r->log_level = -1;
    r->line = ps->line;
    build_condition(ps, r, &t->v[0]);
    if (t->n < 2)
        fail(ps, "route has no target");
    r->targets = tt_xcalloc(t->n, sizeof *r->targets);
    for (size_t i = 1; i < t->n; i++)
        build_target(ps, &r->targets[r->n_targets++], &t->v[i]);
    if (ps->ok && r->replace_beg && !r->path_beg)
        tt_diag_warn(ps->diag, ps->file, ps->line, "replace_beg has no effect without path_beg");
}

static void parse_line(parser_t *ps, const char *line, tt_routes_t *rs)
{
    tokens_t t = {NULL, 0};
    const char *err = tokenize(line, &t);
    if (err) {
        fail(ps, "%s", err);
    } else if (t.n > 0) {
        tt_route_t r;
        build_route(ps, &t, &r);
        if (ps->ok) {
            check_duplicate(ps, rs, &r);
            rs->routes = tt_xrealloc(rs->routes, (rs->n + 1) * sizeof *rs->routes);
            rs->routes[rs->n++] = r;
        } else {
            route_clear(&r);
        }
    }
    tokens_free(&t);
}

int tt_routes_parse(const char *text, size_t len, const char *name, tt_routes_t **out,
                    tt_diag_t *diag)
{
    tt_diag_t local = TT_DIAG_INIT;
    parser_t ps = {name, 0, diag ? diag : &local, true};
    int errors_before = ps.diag->errors;
    tt_routes_t *rs = tt_xcalloc(1, sizeof *rs);
    const char *end = text + len;
    for (const char *p = text; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = tt_xstrndup(p, n > 0 && p[n - 1] == '\r' ? n - 1 : n);
        ps.line++;
        ps.ok = true;
        parse_line(&ps, line, rs);
        free(line);
        p += n + 1;
    }
    bool failed = ps.diag->errors > errors_before;
    tt_diag_free(&local);
    if (failed) {
        tt_routes_free(rs);
        rs = NULL;
    }
    *out = rs;
    return failed ? TT_EPARSE : 0;
}

int tt_routes_load(const char *path, tt_routes_t **out, tt_diag_t *diag)
{
    *out = NULL;
    tt_buf_t b = TT_BUF_INIT;
    const char *why;
    if (tt_buf_read_file(&b, path, MAX_FILE_SIZE, &why) != 0) {
        if (diag)
            tt_diag_error(diag, path, 0, "%s", why);
        return TT_EPARSE;
    }
    int rc = tt_routes_parse(b.data, b.len, path, out, diag);
    tt_buf_free(&b);
    return rc;
}

/* ---- matching ---- */

/* The host part of a Host header value: no port, no IPv6 brackets. */
static void host_only(const char **host, size_t *len)
{
    const char *h = *host;
    size_t n = *len;
    if (n > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', n);
        *host = h + 1;
        *len = close ? (size_t)(close - h - 1) : n - 1;
        return;
    }
    const char *colon = memchr(h, ':', n);
    /* More than one ':' is a bare IPv6 address, which has no port. */
    if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - h) - 1))
        *len = (size_t)(colon - h);
}

static bool host_eq(const char *route_host, const char *h, size_t n)
{
    if (strlen(route_host) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != route_host[i])
            return false;
    }
    return true;
}

static bool route_matches(const tt_route_t *r, const char *path, size_t path_len, bool ws, bool tls)
{
    if ((r->proto == TT_PROTO_WS && !ws) || (r->proto == TT_PROTO_HTTP && ws))
        return false;
    if (r->ssl != -1 && r->ssl != (int)tls)
        return false;
    if (r->path_beg) {
        size_t n = strlen(r->path_beg);
        if (path_len < n || memcmp(path, r->path_beg, n) != 0)
            return false;
    }
    return true;
}

/* Whether a beats b: exact host, then proto, then longer path_beg, then ssl. */
static bool better(const tt_route_t *a, const tt_route_t *b)
{
    size_t pa = a->path_beg ? strlen(a->path_beg) : 0;
    size_t pb = b->path_beg ? strlen(b->path_beg) : 0;
    if ((a->host != NULL) != (b->host != NULL))
        return a->host != NULL;
    if ((a->proto != TT_PROTO_ANY) != (b->proto != TT_PROTO_ANY))
        return a->proto != TT_PROTO_ANY;
    if (pa != pb)
        return pa > pb;
    return a->ssl != -1 && b->ssl == -1;
}

/* One pass in file order keeps the first of equally good routes. Unlike
 * Pushpin, which looks only at a host's own routes once it has any, a request
 * whose host routes all fail to match falls back to the `*` routes. */
const tt_route_t *tt_routes_match(const tt_routes_t *r, const char *host, size_t host_len,
                                  const char *path, size_t path_len, bool ws, bool tls)
{
    const tt_route_t *best = NULL;
    if (!r)
        return NULL;
    if (host)
        host_only(&host, &host_len);
    for (size_t i = 0; i < r->n; i++) {
        const tt_route_t *c = &r->routes[i];
        if (c->host && (!host || !host_eq(c->host, host, host_len)))
            continue;
        if (!route_matches(c, path, path_len, ws, tls))
            continue;
        if (!best || better(c, best))
            best = c;
    }
    return best;
}

const tt_route_t *tt_routes_find_id(const tt_routes_t *r, const char *id)
{
    if (!r || !id)
        return NULL;
    for (size_t i = 0; i < r->n; i++)
        if (r->routes[i].id && strcmp(r->routes[i].id, id) == 0)
            return &r->routes[i];
    return NULL;
}

void tt_route_rewrite_path(const tt_route_t *route, const char *target, size_t len, char **out)
{
    const char *q = memchr(target, '?', len);
    size_t path_len = q ? (size_t)(q - target) : len;
    size_t beg = route->path_beg ? strlen(route->path_beg) : 0;
    const char *prefix = "";
    size_t skip = 0;
    /* As in Pushpin, replace_beg takes precedence over path_rem. */
    if (route->replace_beg && route->path_beg && path_len >= beg &&
        memcmp(target, route->path_beg, beg) == 0) {
        prefix = route->replace_beg;
        skip = beg;
    } else if (route->path_rem > 0) {
        skip = (size_t)route->path_rem < path_len ? (size_t)route->path_rem : path_len;
    }
    tt_buf_t b = TT_BUF_INIT;
    tt_buf_reserve(&b, len + strlen(prefix) + 1);
    /* Whatever was cut, a rewritten origin-form target starts with '/'. */
    char first = prefix[0] ? prefix[0] : (skip < path_len ? target[skip] : '\0');
    if ((skip > 0 || prefix[0]) && first != '/')
        tt_buf_append(&b, "/", 1);
    tt_buf_appends(&b, prefix);
    tt_buf_append(&b, target + skip, len - skip);
    *out = b.data;
}

void tt_routes_free(tt_routes_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        route_clear(&r->routes[i]);
    free(r->routes);
    free(r);
}
