/* pushpin.conf reader: INI text in, an immutable tt_config_t out.
 *
 * Two stages per file. ini_read() splits the text into (section, key, value,
 * line) entries and reports syntax errors; apply_entry() looks each key up in
 * the key table, checks the value and stores it. Pushpin's Settings class
 * prefers the main file over its `include`, so a file's includes are applied
 * before its own entries, wherever the include line sits:
 *
 *     text --ini_read--> entries --includes first--> apply_entry --> tt_config_t
 *                                                       (errors keep going)
 *
 * Every error is reported and parsing goes on; the config is thrown away at
 * the end if there was any. Values are never expanded ({rundir} stays text). */
#include "config.h"

#include "compat.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "error.h"
#include "mem.h"
#include "platform.h"

/* Config files are a few kilobytes; anything this large is not one. */
#define MAX_FILE_SIZE (4u << 20)
/* Pushpin has a single level of include; a few more are allowed, and the
 * limit also stops a file that includes itself. */
#define MAX_INCLUDE_DEPTH 8

enum kind {
    K_IGNORE,   /* known Pushpin key Tether does not use */
    K_INCLUDE,  /* [global] include= */
    K_BOOL,     /* bool */
    K_INT,      /* int within [min, max] */
    K_SIZE,     /* size_t within [min, max] */
    K_U64,      /* uint64_t within [min, max] */
    K_MS,       /* integer milliseconds -> uint64_t ms */
    K_SECONDS,  /* integer seconds -> uint64_t ms */
    K_DURATION, /* tt_duration_parse -> uint64_t ms, at least min ms */
    K_STR,      /* char *, always set */
    K_OPTSTR,   /* char *, NULL when empty */
    K_ADDR,     /* char[64] numeric address */
    K_LISTEN,   /* http_port list */
    K_XFF,      /* tt_xff_rule_t */
    K_XFP,      /* enum tt_xfp_mode */
    K_PATH      /* char *, resolved against the config dir */
};

typedef struct key_def_s {
    const char *section;
    const char *key;
    enum kind kind;
    size_t off;
    int64_t min, max;
} key_def_t;

#define F(field) offsetof(tt_config_t, field)
#define NO_LIMIT 0, 0

static const key_def_t key_defs[] = {
    {"global", "include", K_INCLUDE, 0, NO_LIMIT},
    {"global", "port_offset", K_INT, F(port_offset), 0, 65535},
    {"runner", "http_port", K_LISTEN, 0, NO_LIMIT},
    {"runner", "https_ports", K_LISTEN, 1, NO_LIMIT},
    {"runner", "client_maxconn", K_INT, F(client_maxconn), 1, INT_MAX},
    {"runner", "client_buffer_size", K_SIZE, F(client_buffer_size), 1, INT_MAX},
    {"runner", "log_level", K_INT, F(log_level), 0, INT_MAX},
    {"runner", "allow_compression", K_BOOL, F(allow_compression), NO_LIMIT},
    {"proxy", "routesfile", K_PATH, F(routesfile), NO_LIMIT},
    {"proxy", "debug", K_BOOL, F(debug), NO_LIMIT},
    {"proxy", "auto_cross_origin", K_BOOL, F(auto_cross_origin), NO_LIMIT},
    {"proxy", "accept_x_forwarded_protocol", K_BOOL, F(accept_x_forwarded_protocol), NO_LIMIT},
    {"proxy", "set_x_forwarded_protocol", K_XFP, F(set_x_forwarded_protocol), NO_LIMIT},
    {"proxy", "x_forwarded_for", K_XFF, F(x_forwarded_for), NO_LIMIT},
    {"proxy", "x_forwarded_for_trusted", K_XFF, F(x_forwarded_for_trusted), NO_LIMIT},
    {"proxy", "accept_pushpin_route", K_BOOL, F(accept_pushpin_route), NO_LIMIT},
    {"proxy", "cdn_loop", K_OPTSTR, F(cdn_loop), NO_LIMIT},
    {"proxy", "log_from", K_BOOL, F(log_from), NO_LIMIT},
    {"proxy", "log_user_agent", K_BOOL, F(log_user_agent), NO_LIMIT},
    {"proxy", "sig_iss", K_STR, F(sig_iss), NO_LIMIT},
    {"proxy", "sig_key", K_STR, F(sig_key), NO_LIMIT},
    {"proxy", "upstream_key", K_OPTSTR, F(upstream_key), NO_LIMIT},
    {"handler", "push_in_http_addr", K_ADDR, F(push_in_http_addr), NO_LIMIT},
    {"handler", "push_in_http_port", K_INT, F(push_in_http_port), 0, 65535},
    {"handler", "push_in_http_max_headers_size", K_SIZE, F(push_in_http_max_headers_size), 1,
     INT_MAX},
    {"handler", "push_in_http_max_body_size", K_SIZE, F(push_in_http_max_body_size), 1, INT_MAX},
    {"handler", "message_rate", K_INT, F(message_rate), 0, INT_MAX},
    {"handler", "message_hwm", K_INT, F(message_hwm), 1, INT_MAX},
    {"handler", "message_wait", K_MS, F(message_wait_ms), 0, INT_MAX},
    {"handler", "id_cache_ttl", K_SECONDS, F(id_cache_ttl_ms), 0, INT_MAX},
    {"handler", "connection_subscription_max", K_INT, F(connection_subscription_max), 1, INT_MAX},
    {"handler", "subscription_linger", K_SECONDS, F(subscription_linger_ms), 0, INT_MAX},
    {"tether", "max_request_body", K_U64, F(max_request_body), 0, INT64_MAX},
    {"tether", "max_response_header_size", K_SIZE, F(max_response_header_size), 1, INT_MAX},
    {"tether", "client_header_timeout", K_DURATION, F(client_header_timeout_ms), 1, 0},
    {"tether", "client_idle_timeout", K_DURATION, F(client_idle_timeout_ms), 1, 0},
    {"tether", "backend_connect_timeout", K_DURATION, F(backend_connect_timeout_ms), 1, 0},
    {"tether", "backend_response_timeout", K_DURATION, F(backend_response_timeout_ms), 1, 0},
    {"tether", "backend_keepalive_timeout", K_DURATION, F(backend_keepalive_timeout_ms), 0, 0},
    {"tether", "backend_pool_size", K_INT, F(backend_pool_size), 0, INT_MAX},
    {"tether", "shutdown_grace", K_DURATION, F(shutdown_grace_ms), 0, 0},
    {"tether", "subscriber_queue_max", K_SIZE, F(subscriber_queue_max), 1024, INT_MAX},
    {"tether", "publish_auth", K_OPTSTR, F(publish_auth), NO_LIMIT},
    {"tether", "ws_max_message", K_SIZE, F(ws_max_message), 1, INT_MAX},
    {"tether", "ws_idle_timeout", K_DURATION, F(ws_idle_timeout_ms), 0, 0},
    {"tether", "tls_cert", K_PATH, F(tls_cert), NO_LIMIT},
    {"tether", "certs_dir", K_PATH, F(certs_dir), NO_LIMIT},
    {"tether", "tls_key", K_PATH, F(tls_key), NO_LIMIT},
    {"tether", "tls_ca_file", K_PATH, F(tls_ca_file), NO_LIMIT},
};

/* Keys of Pushpin's pushpin.conf and internal.conf (ZeroMQ wiring, stats,
 * helper binaries) that Tether has no use for: accepted without a word, so an
 * existing file loads unchanged. */
static const struct {
    const char *section;
    const char *keys; /* space-separated */
} ignored_keys[] = {
    {"global", "rundir libdir ipc_prefix stats_connection_ttl stats_connection_send"},
    {"runner", "rundir services local_ports logdir condure_bin connmgr_bin "
               "mongrel2_bin m2sh_bin zurl_bin m2adapter_bin proxy_bin handler_bin "
               "pushpin_proxy_bin pushpin_handler_bin"},
    {"proxy", "orig_headers_need_mark sockjs_url updates_check organization_name workers "
              "max_open_requests prometheus_port prometheus_prefix stats_connections_max_ttl "
              "stats_report_interval ipc_file_mode condure_in_specs condure_in_stream_specs "
              "condure_out_specs condure_client_out_specs condure_client_out_stream_specs "
              "condure_client_in_specs connmgr_in_specs connmgr_in_stream_specs "
              "connmgr_out_specs connmgr_client_out_specs connmgr_client_out_stream_specs "
              "connmgr_client_in_specs m2a_in_specs m2a_in_stream_specs m2a_out_specs "
              "zurl_out_specs zurl_out_stream_specs zurl_in_specs handler_inspect_spec "
              "handler_accept_spec handler_retry_in_spec handler_ws_control_in_spec "
              "handler_ws_control_out_spec handler_ws_control_init_specs "
              "handler_ws_control_stream_specs stats_spec command_spec intreq_in_specs "
              "intreq_in_stream_specs intreq_out_specs"},
    {"handler", "ipc_file_mode push_in_spec push_in_sub_spec push_in_sub_specs "
                "push_in_sub_connect stats_spec command_spec message_block_size "
                "stats_subscription_ttl stats_report_interval stats_format prometheus_port "
                "prometheus_prefix update_on_first_subscription share_all proxy_inspect_spec "
                "proxy_accept_spec proxy_retry_out_spec proxy_ws_control_in_spec "
                "proxy_ws_control_out_spec proxy_ws_control_init_specs "
                "proxy_ws_control_stream_specs proxy_stats_spec proxy_command_spec "
                "condure_in_stream_specs condure_out_specs connmgr_in_stream_specs "
                "connmgr_out_specs m2a_in_stream_specs m2a_out_specs proxy_intreq_out_specs "
                "proxy_intreq_out_stream_specs proxy_intreq_in_specs"},
};

static const char *const sections[] = {"global", "runner", "proxy", "handler", "tether"};

enum entry_kind { E_VALUE, E_ERROR, E_WARNING };

typedef struct entry_s {
    enum entry_kind kind;
    const char *section; /* one of sections[] */
    char *key;           /* NULL for E_ERROR and E_WARNING */
    char *value;         /* the message for E_ERROR and E_WARNING */
    int line;
} entry_t;

typedef struct ini_s {
    entry_t *v;
    size_t n, cap;
} ini_t;

/* Where a value came from, for diagnostics. */
typedef struct src_s {
    const char *file;
    int line;
} src_t;

typedef struct ctx_s {
    tt_config_t *c;
    tt_diag_t *diag;
    int depth;
    char *offset_file; /* where port_offset was set, for the range check */
    int offset_line;
} ctx_t;

static void process_text(ctx_t *x, const char *text, size_t len, const char *file, const char *dir);

/* ---- small string helpers ---- */

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

/* Copy of s[0..n) without leading and trailing white space. */
static char *trim_dup(const char *s, size_t n)
{
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    return tt_xstrndup(s, n);
}

static bool word_in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n) {
        bool starts = p == list || p[-1] == ' ';
        bool ends = p[n] == '\0' || p[n] == ' ';
        if (starts && ends)
            return true;
    }
    return false;
}

static char *path_join(const char *dir, const char *name)
{
    if (tt_platform_path_is_absolute(name) || dir == NULL || dir[0] == '\0')
        return tt_xstrdup(name);
    tt_buf_t b = TT_BUF_INIT;
    tt_buf_appends(&b, dir);
    char sep = tt_platform_path_sep();
    if (b.data[b.len - 1] != sep && b.data[b.len - 1] != '/')
        tt_buf_append(&b, &sep, 1);
    tt_buf_appends(&b, name);
    return b.data;
}

/* Whole file into a NUL-terminated malloc'd buffer. On failure returns -1
 * and points *why at a reason. */
static int read_file(const char *path, char **out, size_t *len, const char **why)
{
    tt_buf_t b = TT_BUF_INIT;
    if (tt_buf_read_file(&b, path, MAX_FILE_SIZE, why) != 0)
        return -1;
    *out = b.data;
    *len = b.len;
    return 0;
}

/* ---- value parsers ---- */

/* Base-10 integer with optional sign, the whole string. */
static bool parse_i64(const char *s, int64_t *out)
{
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (*d < '0' || *d > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

static bool ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        if (ca != *b)
            return false;
    }
    return *a == *b;
}

/* Stricter than QSettings, which reads anything but "false"/"0"/"" as true:
 * a typo should not silently flip a switch. Case does not matter. */
static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < TT_ARRAY_SIZE(yes); i++) {
        if (ascii_ieq(s, yes[i]) || ascii_ieq(s, no[i])) {
            *out = ascii_ieq(s, yes[i]);
            return true;
        }
    }
    return false;
}

int tt_duration_parse(const char *s, uint64_t *ms_out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return TT_EPARSE;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned digit = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return TT_EPARSE;
        v = v * 10 + digit;
    }
    uint64_t mult;
    if (strcmp(s, "ms") == 0)
        mult = 1;
    else if (*s == '\0' || strcmp(s, "s") == 0)
        mult = 1000;
    else if (strcmp(s, "m") == 0)
        mult = 60 * 1000;
    else if (strcmp(s, "h") == 0)
        mult = 60 * 60 * 1000;
    else
        return TT_EPARSE;
    if (v > UINT64_MAX / mult)
        return TT_EPARSE;
    *ms_out = v * mult;
    return 0;
}

/* Numeric address of family af into out (size >= 64). */
static bool parse_addr(const char *s, size_t n, int af, char *out)
{
    char tmp[64];
    unsigned char bin[16];
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (uv_inet_pton(af, tmp, bin) != 0)
        return false;
    memcpy(out, tmp, n + 1);
    return true;
}

static bool parse_port(const char *s, int *out)
{
    int64_t v;
    if (*s < '0' || *s > '9' || !parse_i64(s, &v) || v > 65535)
        return false;
    *out = (int)v;
    return true;
}

int tt_listen_parse(const char *s, tt_listen_t *out)
{
    tt_listen_t l;
    const char *port = s;
    strcpy(l.addr, "0.0.0.0");
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' ||
            !parse_addr(s + 1, (size_t)(close - s - 1), AF_INET6, l.addr))
            return TT_EPARSE;
        port = close + 2;
    } else if (strchr(s, ':')) {
        const char *colon = strchr(s, ':');
        size_t n = (size_t)(colon - s);
        bool any = n == 0 || (n == 1 && s[0] == '*');
        if (!any && !parse_addr(s, n, AF_INET, l.addr))
            return TT_EPARSE;
        port = colon + 1;
    }
    if (!parse_port(port, &l.port))
        return TT_EPARSE;
    *out = l;
    return 0;
}

/* "truncate:N" and "append", comma-separated; empty items are skipped. */
static bool parse_xff(const char *s, tt_xff_rule_t *out)
{
    tt_xff_rule_t r = {-1, false};
    bool ok = true;
    while (ok && *s) {
        size_t n = strcspn(s, ",");
        char *item = trim_dup(s, n);
        int64_t v;
        if (strcmp(item, "append") == 0)
            r.append = true;
        else if (strncmp(item, "truncate:", 9) == 0 && item[9] >= '0' && item[9] <= '9' &&
                 parse_i64(item + 9, &v) && v <= INT_MAX)
            r.truncate = (int)v;
        else if (item[0] != '\0')
            ok = false;
        free(item);
        s += n + (s[n] == ',');
    }
    if (ok)
        *out = r;
    return ok;
}

/* ---- stage 1: INI text to entries ---- */

/* Syntax problems become entries too, so that all diagnostics of a file
 * come out in line order when the entries are applied. */
typedef struct reader_s {
    ini_t *ini;
    const char *section; /* NULL before the first header or in an unknown section */
    bool in_section;
    int line;
} reader_t;

static const char *find_section(const char *name)
{
    for (size_t i = 0; i < TT_ARRAY_SIZE(sections); i++)
        if (strcmp(sections[i], name) == 0)
            return sections[i];
    return NULL;
}

static void ini_add(reader_t *rd, enum entry_kind kind, char *key, char *value)
{
    ini_t *ini = rd->ini;
    if (ini->n == ini->cap) {
        ini->cap = ini->cap ? ini->cap * 2 : 32;
        ini->v = tt_xrealloc(ini->v, ini->cap * sizeof *ini->v);
    }
    ini->v[ini->n++] = (entry_t){kind, rd->section, key, value, rd->line};
}

static void ini_diag(reader_t *rd, enum entry_kind kind, const char *fmt, ...) TT_PRINTF(3, 4);

static void ini_diag(reader_t *rd, enum entry_kind kind, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ini_add(rd, kind, NULL, tt_xstrdup(msg));
}

static void ini_free(ini_t *ini)
{
    for (size_t i = 0; i < ini->n; i++) {
        free(ini->v[i].key);
        free(ini->v[i].value);
    }
    free(ini->v);
}

/* "[name]"; keys in an unknown section are skipped after one warning. */
static void ini_section(reader_t *rd, const char *line)
{
    const char *close = strchr(line, ']');
    if (!close) {
        ini_diag(rd, E_ERROR, "unterminated '[' in section header");
        return;
    }
    char *name = trim_dup(line + 1, (size_t)(close - line - 1));
    const char *rest = close + 1;
    while (is_space(*rest))
        rest++;
    if (*rest != '\0' && *rest != '#' && *rest != ';') {
        ini_diag(rd, E_ERROR, "unexpected text after ']': '%s'", rest);
    } else if (name[0] == '\0') {
        ini_diag(rd, E_ERROR, "empty section name");
    } else {
        rd->section = find_section(name);
        rd->in_section = true;
        if (!rd->section)
            ini_diag(rd, E_WARNING, "unknown section [%s]", name);
    }
    free(name);
}

/* One trimmed, non-empty, non-comment line. */
static void ini_line(reader_t *rd, const char *line)
{
    if (line[0] == '[') {
        ini_section(rd, line);
        return;
    }
    const char *eq = strchr(line, '=');
    if (!eq) {
        ini_diag(rd, E_ERROR, "expected key=value, [section] or comment: '%s'", line);
        return;
    }
    char *key = trim_dup(line, (size_t)(eq - line));
    char *value = trim_dup(eq + 1, strlen(eq + 1));
    size_t vn = strlen(value);
    /* QSettings drops the quotes around a quoted value. */
    if (vn >= 2 && value[0] == '"' && value[vn - 1] == '"') {
        memmove(value, value + 1, vn - 2);
        value[vn - 2] = '\0';
    }
    if (key[0] == '\0') {
        ini_diag(rd, E_ERROR, "missing key before '='");
    } else if (!rd->in_section) {
        ini_diag(rd, E_ERROR, "key '%s' is outside any section", key);
    } else if (rd->section) {
        ini_add(rd, E_VALUE, key, value);
        return;
    }
    free(key);
    free(value);
}

static void ini_read(ini_t *ini, const char *text, size_t len)
{
    reader_t rd = {ini, NULL, false, 0};
    const char *end = text + len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3; /* UTF-8 byte order mark, as written by some Windows editors */
    for (const char *p = text; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = trim_dup(p, n);
        rd.line++;
        if (line[0] != '\0' && line[0] != '#' && line[0] != ';')
            ini_line(&rd, line);
        free(line);
        p += n + 1;
    }
}

/* ---- stage 2: entries to config ---- */

static void *field(ctx_t *x, const key_def_t *d)
{
    return (char *)x->c + d->off;
}

static void bad_value(ctx_t *x, const src_t *at, const entry_t *e, const char *expected)
{
    tt_diag_error(x->diag, at->file, at->line, "invalid value for '%s': '%s' (expected %s)", e->key,
                  e->value, expected);
}

static void set_str(char **slot, const char *value, bool optional)
{
    free(*slot);
    *slot = (optional && value[0] == '\0') ? NULL : tt_xstrdup(value);
}

/* K_INT, K_SIZE, K_U64, K_MS, K_SECONDS. A max of INT_MAX or INT64_MAX is
 * only the field's capacity, so the message then names just the minimum. */
static void apply_number(ctx_t *x, const key_def_t *d, const entry_t *e, const src_t *at)
{
    int64_t v;
    if (!parse_i64(e->value, &v)) {
        bad_value(x, at, e, "an integer");
        return;
    }
    if (v > d->max && (d->max == INT_MAX || d->max == INT64_MAX)) {
        tt_diag_error(x->diag, at->file, at->line, "'%s' is too large: '%s'", e->key, e->value);
        return;
    }
    if (v < d->min && (d->max == INT_MAX || d->max == INT64_MAX)) {
        tt_diag_error(x->diag, at->file, at->line, "'%s' must be at least %lld: '%s'", e->key,
                      (long long)d->min, e->value);
        return;
    }
    if (v < d->min || v > d->max) {
        tt_diag_error(x->diag, at->file, at->line, "'%s' must be between %lld and %lld: '%s'",
                      e->key, (long long)d->min, (long long)d->max, e->value);
        return;
    }
    switch (d->kind) {
    case K_INT:
        *(int *)field(x, d) = (int)v;
        break;
    case K_SIZE:
        *(size_t *)field(x, d) = (size_t)v;
        break;
    case K_U64:
        *(uint64_t *)field(x, d) = (uint64_t)v;
        break;
    case K_MS:
        *(uint64_t *)field(x, d) = (uint64_t)v;
        break;
    case K_SECONDS:
        *(uint64_t *)field(x, d) = (uint64_t)v * 1000;
        break;
    default:
        break;
    }
}

static void apply_duration(ctx_t *x, const key_def_t *d, const entry_t *e, const src_t *at)
{
    uint64_t ms;
    if (tt_duration_parse(e->value, &ms) != 0)
        bad_value(x, at, e, "a duration such as 500ms, 5s, 2m or 1h");
    else if (ms < (uint64_t)d->min)
        tt_diag_error(x->diag, at->file, at->line, "'%s' must be greater than 0", e->key);
    else
        *(uint64_t *)field(x, d) = ms;
}

/* http_port, or https_ports when `https` (the key's table offset is 1). */
static void apply_listen(ctx_t *x, const entry_t *e, const src_t *at, bool https)
{
    tt_listen_t *list = NULL;
    size_t n = 0;
    bool ok = true;
    for (const char *s = e->value; ok && *s;) {
        size_t len = strcspn(s, ",");
        char *item = trim_dup(s, len);
        if (item[0] != '\0') {
            list = tt_xrealloc(list, (n + 1) * sizeof *list);
            if (tt_listen_parse(item, &list[n++]) != 0) {
                tt_diag_error(x->diag, at->file, at->line,
                              "invalid value for '%s': '%s' (expected [addr:]port, port 0..65535)",
                              e->key, item);
                ok = false;
            }
        }
        free(item);
        s += len + (s[len] == ',');
    }
    if (ok && n == 0) {
        tt_diag_error(x->diag, at->file, at->line, "'%s' has no port", e->key);
        ok = false;
    }
    if (!ok) {
        free(list);
        return;
    }
    tt_listen_t **dst = https ? &x->c->https_ports : &x->c->http_ports;
    size_t *count = https ? &x->c->n_https_ports : &x->c->n_http_ports;
    free(*dst);
    *dst = list;
    *count = n;
}

static void apply_xfp(ctx_t *x, const key_def_t *d, const entry_t *e, const src_t *at)
{
    enum tt_xfp_mode *m = field(x, d);
    if (strcmp(e->value, "proto-only") == 0)
        *m = TT_XFP_PROTO_ONLY;
    else if (strcmp(e->value, "true") == 0)
        *m = TT_XFP_TRUE;
    else if (strcmp(e->value, "false") == 0 || e->value[0] == '\0')
        *m = TT_XFP_NONE;
    else
        bad_value(x, at, e, "proto-only, true or false");
}

static void apply_path(ctx_t *x, const key_def_t *d, const entry_t *e, const src_t *at)
{
    char **slot = field(x, d);
    if (e->value[0] == '\0') {
        tt_diag_error(x->diag, at->file, at->line, "'%s' is empty", e->key);
        return;
    }
    free(*slot);
    *slot = path_join(x->c->dir, e->value);
}

static void apply_addr(ctx_t *x, const key_def_t *d, const entry_t *e, const src_t *at)
{
    const char *v = e->value;
    size_t n = strlen(v);
    bool ok;
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']')
        ok = parse_addr(v + 1, n - 2, AF_INET6, field(x, d));
    else
        ok = parse_addr(v, n, strchr(v, ':') ? AF_INET6 : AF_INET, field(x, d));
    if (!ok)
        bad_value(x, at, e, "a numeric IPv4 or IPv6 address");
}

static void apply_include(ctx_t *x, const entry_t *e, const src_t *at, const char *dir)
{
    /* {libdir}/internal.conf holds Pushpin's internal ZeroMQ wiring. */
    if (strstr(e->value, "{libdir}"))
        return;
    if (x->depth >= MAX_INCLUDE_DEPTH) {
        tt_diag_error(x->diag, at->file, at->line, "includes nested too deeply (limit %d)",
                      MAX_INCLUDE_DEPTH);
        return;
    }
    char *path = path_join(dir, e->value);
    char *text;
    size_t len;
    const char *why;
    if (read_file(path, &text, &len, &why) != 0) {
        tt_diag_error(x->diag, at->file, at->line, "include file '%s': %s", path, why);
    } else {
        char *sub_dir = tt_platform_dirname(path);
        x->depth++;
        process_text(x, text, len, path, sub_dir);
        x->depth--;
        free(sub_dir);
        free(text);
    }
    free(path);
}

static const key_def_t *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < TT_ARRAY_SIZE(key_defs); i++)
        if (strcmp(key_defs[i].section, section) == 0 && strcmp(key_defs[i].key, key) == 0)
            return &key_defs[i];
    for (size_t i = 0; i < TT_ARRAY_SIZE(ignored_keys); i++)
        if (strcmp(ignored_keys[i].section, section) == 0 &&
            word_in_list(ignored_keys[i].keys, key)) {
            static const key_def_t ignore = {NULL, NULL, K_IGNORE, 0, NO_LIMIT};
            return &ignore;
        }
    return NULL;
}

static void note_offset(ctx_t *x, const src_t *at)
{
    free(x->offset_file);
    x->offset_file = at->file ? tt_xstrdup(at->file) : NULL;
    x->offset_line = at->line;
}

static void apply_entry(ctx_t *x, const key_def_t *d, const entry_t *e, const src_t *at)
{
    switch (d->kind) {
    case K_BOOL:
        if (!parse_bool(e->value, field(x, d)))
            bad_value(x, at, e, "true or false");
        break;
    case K_INT:
    case K_SIZE:
    case K_U64:
    case K_MS:
    case K_SECONDS:
        apply_number(x, d, e, at);
        if (d->off == F(port_offset))
            note_offset(x, at);
        break;
    case K_DURATION:
        apply_duration(x, d, e, at);
        break;
    case K_STR:
        set_str(field(x, d), e->value, false);
        break;
    case K_OPTSTR:
        set_str(field(x, d), e->value, true);
        break;
    case K_ADDR:
        apply_addr(x, d, e, at);
        break;
    case K_LISTEN:
        apply_listen(x, e, at, d->off == 1);
        break;
    case K_XFF:
        if (!parse_xff(e->value, field(x, d)))
            bad_value(x, at, e, "truncate:N and/or append");
        break;
    case K_XFP:
        apply_xfp(x, d, e, at);
        break;
    case K_PATH:
        apply_path(x, d, e, at);
        break;
    case K_IGNORE:
    case K_INCLUDE:
        break;
    }
}

static void process_text(ctx_t *x, const char *text, size_t len, const char *file, const char *dir)
{
    ini_t ini = {NULL, 0, 0};
    ini_read(&ini, text, len);
    for (size_t i = 0; i < ini.n; i++) {
        const entry_t *e = &ini.v[i];
        src_t at = {file, e->line};
        if (e->kind == E_VALUE && strcmp(e->section, "global") == 0 &&
            strcmp(e->key, "include") == 0)
            apply_include(x, e, &at, dir);
    }
    for (size_t i = 0; i < ini.n; i++) {
        const entry_t *e = &ini.v[i];
        const key_def_t *d = e->kind == E_VALUE ? find_key(e->section, e->key) : NULL;
        src_t at = {file, e->line};
        if (e->kind == E_ERROR)
            tt_diag_error(x->diag, file, e->line, "%s", e->value);
        else if (e->kind == E_WARNING)
            tt_diag_warn(x->diag, file, e->line, "%s", e->value);
        else if (!d)
            tt_diag_warn(x->diag, file, e->line, "unknown key '%s' in [%s]", e->key, e->section);
        else
            apply_entry(x, d, e, &at);
    }
    ini_free(&ini);
}

static void offset_port(ctx_t *x, int *port)
{
    int offset = x->c->port_offset;
    if (*port == 0)
        return; /* 0 asks the OS for any free port; an offset makes no sense */
    if (*port + offset > 65535)
        tt_diag_error(x->diag, x->offset_file, x->offset_line,
                      "port_offset %d moves port %d past 65535", offset, *port);
    else
        *port += offset;
}

/* port_offset moves every listening port, as Pushpin's --id does. */
static void apply_port_offset(ctx_t *x)
{
    if (x->c->port_offset == 0)
        return;
    for (size_t i = 0; i < x->c->n_http_ports; i++)
        offset_port(x, &x->c->http_ports[i].port);
    for (size_t i = 0; i < x->c->n_https_ports; i++)
        offset_port(x, &x->c->https_ports[i].port);
    offset_port(x, &x->c->push_in_http_port);
}

/* ---- public ---- */

tt_config_t *tt_config_defaults(const char *dir)
{
    tt_config_t *c = tt_xcalloc(1, sizeof *c);
    c->dir = tt_xstrdup(dir ? dir : ".");
    c->http_ports = tt_xcalloc(1, sizeof *c->http_ports);
    strcpy(c->http_ports[0].addr, "0.0.0.0");
    c->http_ports[0].port = TT_DEFAULT_HTTP_PORT;
    c->n_http_ports = 1;
    c->client_maxconn = 50000;
    c->client_buffer_size = 8192;
    c->log_level = 2;
    c->routesfile = path_join(c->dir, "routes");
    c->certs_dir = path_join(c->dir, "runner/certs");
    c->set_x_forwarded_protocol = TT_XFP_PROTO_ONLY;
    c->x_forwarded_for = (tt_xff_rule_t){-1, false};
    c->x_forwarded_for_trusted = (tt_xff_rule_t){-1, false};
    c->sig_iss = tt_xstrdup("pushpin");
    c->sig_key = tt_xstrdup("changeme");
    strcpy(c->push_in_http_addr, "127.0.0.1");
    c->push_in_http_port = TT_DEFAULT_PUSH_PORT;
    c->push_in_http_max_headers_size = 10000;
    c->push_in_http_max_body_size = 1000000;
    c->message_rate = 2500;
    c->message_hwm = 25000;
    c->message_wait_ms = 5000;
    c->id_cache_ttl_ms = 60 * 1000;
    c->connection_subscription_max = 20;
    c->subscription_linger_ms = 60 * 1000;
    c->max_response_header_size = 65536;
    c->client_header_timeout_ms = 30 * 1000;
    c->client_idle_timeout_ms = 60 * 1000;
    c->backend_connect_timeout_ms = 5 * 1000;
    c->backend_response_timeout_ms = 60 * 1000;
    c->backend_keepalive_timeout_ms = 30 * 1000;
    c->backend_pool_size = 32;
    c->shutdown_grace_ms = 10 * 1000;
    c->subscriber_queue_max = 1024 * 1024;
    c->ws_max_message = 1024 * 1024;
    return c;
}

int tt_config_parse(const char *text, size_t len, const char *name, const char *dir,
                    tt_config_t **out, tt_diag_t *diag)
{
    tt_diag_t local = TT_DIAG_INIT;
    ctx_t x = {tt_config_defaults(dir), diag ? diag : &local, 0, NULL, 0};
    int errors_before = x.diag->errors;
    if (name)
        x.c->path = tt_xstrdup(name);
    process_text(&x, text, len, name, x.c->dir);
    apply_port_offset(&x);
    free(x.offset_file);
    bool failed = x.diag->errors > errors_before;
    tt_diag_free(&local);
    if (failed) {
        tt_config_free(x.c);
        *out = NULL;
        return TT_EPARSE;
    }
    *out = x.c;
    return 0;
}

int tt_config_load(const char *path, tt_config_t **out, tt_diag_t *diag)
{
    char *text;
    size_t len;
    const char *why;
    *out = NULL;
    if (read_file(path, &text, &len, &why) != 0) {
        if (diag)
            tt_diag_error(diag, path, 0, "%s", why);
        return TT_EPARSE;
    }
    char *dir = tt_platform_dirname(path);
    int rc = tt_config_parse(text, len, path, dir, out, diag);
    free(dir);
    free(text);
    return rc;
}

void tt_config_free(tt_config_t *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->dir);
    free(c->http_ports);
    free(c->routesfile);
    free(c->cdn_loop);
    free(c->sig_iss);
    free(c->sig_key);
    free(c->upstream_key);
    free(c->publish_auth);
    free(c->https_ports);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_ca_file);
    free(c->certs_dir);
    free(c);
}
