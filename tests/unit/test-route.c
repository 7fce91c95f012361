/* Table tests for the routes file (src/route.c): syntax and quoting, every
 * diagnostic, best-match order, host forms, path rewriting and loading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "route.h"
#include "support.h"
#include "task.h"

/* Parse text that must load with no diagnostic at all. */
static tt_routes_t *parse_ok(const char *text)
{
    tt_routes_t *rs = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    int rc = tt_routes_parse(text, strlen(text), "routes", &rs, &d);
    if (rc != 0 || d.errors || d.warnings)
        TT_TEST_FAIL("unexpected diagnostics for \"%s\": %s", text, d.text.data);
    tt_diag_free(&d);
    return rs;
}

/* The first target's host of the best match ("test" for a test target),
 * or NULL when nothing matches. */
static const char *match(const tt_routes_t *rs, const char *host, const char *path, bool ws,
                         bool tls)
{
    const tt_route_t *r =
        tt_routes_match(rs, host, host ? strlen(host) : 0, path, strlen(path), ws, tls);
    if (!r)
        return NULL;
    return r->targets[0].type == TT_TARGET_TEST ? "test" : r->targets[0].host;
}

TEST_IMPL(route_empty)
{
    static const char *const texts[] = {"", "\n", "# only a comment\n", "   \t  # x\n\r\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tt_routes_t *rs = parse_ok(texts[i]);
        ASSERT_NOT_NULL(rs);
        ASSERT_EQ(rs->n, 0);
        ASSERT_NULL(match(rs, "a", "/", false, false));
        tt_routes_free(rs);
    }
    tt_routes_free(NULL);
    return 0;
}

/* The routes file Pushpin installs: every request to the test target. */
TEST_IMPL(route_pushpin_default)
{
    tt_routes_t *rs = parse_ok("* test\n");
    ASSERT_EQ(rs->n, 1);
    const tt_route_t *r = &rs->routes[0];
    ASSERT_NULL(r->host);
    ASSERT_EQ(r->line, 1);
    ASSERT_EQ(r->n_targets, 1);
    ASSERT_EQ(r->targets[0].type, TT_TARGET_TEST);
    ASSERT_NULL(r->targets[0].host);
    ASSERT_STR_EQ(match(rs, "example.com:7999", "/anything", false, false), "test");
    ASSERT_STR_EQ(match(rs, NULL, "/", true, true), "test");
    tt_routes_free(rs);
    return 0;
}

/* Defaults of a bare route, then every condition and target prop. */
TEST_IMPL(route_props)
{
    tt_routes_t *rs = parse_ok("Example.COM backend:8080\n"
                               "# a comment line\n"
                               "*,proto=ws,ssl=yes,path_beg=/api,id=r1,prefix=p-,path_rem=4,"
                               "as_host=internal,header=X-A:1,header=\"X-B: two\",sig_iss=iss,"
                               "sig_key=base64:a2V5,orig_headers,no_grip,session,debug,aco,"
                               "log_level=3 a:1,ssl,insecure,host=h.example,untrusted,"
                               "trust_connect_host,over_http,one_event,sub=c1,sub=c2,sub=,"
                               "client_cert=/c.pem,client_key=/k.pem,ipc_file_mode=777 "
                               "[::1]:2 test\n");
    ASSERT_EQ(rs->n, 2);
    const tt_route_t *r = &rs->routes[0];
    ASSERT_STR_EQ(r->host, "example.com");
    ASSERT_NULL(r->id);
    ASSERT_EQ(r->proto, TT_PROTO_ANY);
    ASSERT_EQ(r->ssl, -1);
    ASSERT_NULL(r->path_beg);
    ASSERT_EQ(r->path_rem, -1);
    ASSERT_NULL(r->replace_beg);
    ASSERT_NULL(r->as_host);
    ASSERT_EQ(r->n_headers, 0);
    ASSERT_NULL(r->prefix);
    ASSERT_NULL(r->sig_iss);
    ASSERT_NULL(r->sig_key);
    ASSERT_EQ(r->log_level, -1);
    ASSERT(!r->no_grip && !r->debug && !r->orig_headers && !r->session && !r->aco);
    ASSERT_EQ(r->line, 1);
    ASSERT_EQ(r->n_targets, 1);
    const tt_target_t *t = &r->targets[0];
    ASSERT_EQ(t->type, TT_TARGET_HOST);
    ASSERT_STR_EQ(t->host, "backend");
    ASSERT_EQ(t->port, 8080);
    ASSERT(!t->ssl && !t->insecure && !t->over_http && !t->one_event && !t->untrusted &&
           !t->trust_connect_host);
    ASSERT_NULL(t->host_header);
    ASSERT_NULL(t->client_cert);
    ASSERT_NULL(t->client_key);
    ASSERT_EQ(t->n_subs, 0);

    r = &rs->routes[1];
    ASSERT_NULL(r->host);
    ASSERT_EQ(r->line, 3);
    ASSERT_EQ(r->proto, TT_PROTO_WS);
    ASSERT_EQ(r->ssl, 1);
    ASSERT_STR_EQ(r->path_beg, "/api");
    ASSERT_STR_EQ(r->id, "r1");
    ASSERT_STR_EQ(r->prefix, "p-");
    ASSERT_EQ(r->path_rem, 4);
    ASSERT_STR_EQ(r->as_host, "internal");
    ASSERT_EQ(r->n_headers, 2);
    ASSERT_STR_EQ(r->headers[0].name, "X-A");
    ASSERT_STR_EQ(r->headers[0].value, "1");
    ASSERT_STR_EQ(r->headers[1].name, "X-B");
    ASSERT_STR_EQ(r->headers[1].value, "two");
    ASSERT_STR_EQ(r->sig_iss, "iss");
    ASSERT_STR_EQ(r->sig_key, "base64:a2V5");
    ASSERT(r->orig_headers && r->no_grip && r->session && r->debug && r->aco);
    ASSERT_EQ(r->log_level, 3);
    ASSERT_EQ(r->n_targets, 3);
    t = &r->targets[0];
    ASSERT_STR_EQ(t->host, "a");
    ASSERT_EQ(t->port, 1);
    ASSERT(t->ssl && t->insecure && t->untrusted && t->trust_connect_host && t->over_http &&
           t->one_event);
    ASSERT_STR_EQ(t->host_header, "h.example");
    ASSERT_EQ(t->n_subs, 2);
    ASSERT_STR_EQ(t->subs[0], "c1");
    ASSERT_STR_EQ(t->subs[1], "c2");
    ASSERT_STR_EQ(t->client_cert, "/c.pem");
    ASSERT_STR_EQ(t->client_key, "/k.pem");
    ASSERT_STR_EQ(r->targets[1].host, "::1");
    ASSERT_EQ(r->targets[1].port, 2);
    ASSERT(!r->targets[1].ssl);
    ASSERT_EQ(r->targets[2].type, TT_TARGET_TEST);
    tt_routes_free(rs);
    return 0;
}

/* Props Tether ignores, and flags given a value, still load. */
TEST_IMPL(route_ignored_props)
{
    tt_routes_t *rs = parse_ok("*,jsonp_mode=basic,jsonp_cb=cb,jsonp_body=b,jsonp_defcb=d,"
                               "jsonp_defmethod=POST,sockjs=/sockjs,sockjs_as_path=/ws,"
                               "debug=yes a:80,ssl=1\n");
    ASSERT_EQ(rs->n, 1);
    ASSERT(rs->routes[0].debug);
    ASSERT(rs->routes[0].targets[0].ssl);
    tt_routes_free(rs);
    return 0;
}

/* Quotes, escapes, blanks, tabs, comments and line ends. */
TEST_IMPL(route_quoting)
{
    tt_routes_t *rs = parse_ok("*,header=\"X-Msg: hello, world\",path_beg=\"/a b\" "
                               "a:80,sub=\"ch \\\"1\\\"\",sub=\"back\\\\slash\"\n"
                               "*,sig_key=abc\"def ghi\"jkl,prefix=\"#not-a-comment\" b:80 # c\n"
                               "\t*,path_beg=/t\tc:80\t\td:81#trailing\r\n"
                               "*,path_beg=/q,\"id\"=\"quoted\" e:80\n");
    ASSERT_EQ(rs->n, 4);
    const tt_route_t *r = &rs->routes[0];
    ASSERT_STR_EQ(r->headers[0].name, "X-Msg");
    ASSERT_STR_EQ(r->headers[0].value, "hello, world");
    ASSERT_STR_EQ(r->path_beg, "/a b");
    ASSERT_STR_EQ(r->targets[0].subs[0], "ch \"1\"");
    ASSERT_STR_EQ(r->targets[0].subs[1], "back\\slash");
    r = &rs->routes[1];
    ASSERT_STR_EQ(r->sig_key, "abcdef ghijkl");
    ASSERT_STR_EQ(r->prefix, "#not-a-comment");
    ASSERT_EQ(r->n_targets, 1);
    r = &rs->routes[2];
    ASSERT_STR_EQ(r->path_beg, "/t");
    ASSERT_EQ(r->n_targets, 2);
    ASSERT_STR_EQ(r->targets[1].host, "d");
    ASSERT_EQ(r->targets[1].port, 81);
    ASSERT_EQ(r->line, 3);
    ASSERT_STR_EQ(rs->routes[3].id, "quoted");
    tt_routes_free(rs);

    /* A quoted prop name is a name; an empty quoted id needs a value. */
    tt_routes_t *bad = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    const char *text = "*,\"id\"=\"\" e:80\n";
    ASSERT_EQ(tt_routes_parse(text, strlen(text), "routes", &bad, &d), TT_EPARSE);
    ASSERT_STR_EQ(d.text.data, "routes:1: error: id needs a value\n");
    tt_diag_free(&d);
    return 0;
}

/* Every error message, each as the whole diagnostic text of one line. */
/* A line with one error, and the reason in its diagnostic. */
static const struct {
    const char *line;
    const char *why;
} error_cases[] = {
    {"* a:80,host=\"x", "unterminated quoted value"},
    {"* a:80,host=\"x\\", "unterminated quoted value"},
    {"* a:80,host=\"x\\y\"", "invalid escape in quoted value (only \\\\ and \\\" are allowed)"},
    {"* a:80,", "expecting a prop after ','"},
    {"* a:80,,ssl", "expecting a prop after ','"},
    {"* a:80,=v", "empty prop name"},
    {",ssl=yes a:80", "route has no host (use * for any host)"},
    {"proto=ws a:80", "route has no host (use * for any host)"},
    {"*.example.com a:80",
     "partial wildcards are not supported: '*.example.com' (use an exact host or *)"},
    {"api.* a:80", "partial wildcards are not supported: 'api.*' (use an exact host or *)"},
    {"example.com", "route has no target"},
    {"*,ssl=yes # no target", "route has no target"},
    {"*,foo=1 a:80", "unknown condition prop 'foo'"},
    {"*,path_end=/x a:80", "unknown condition prop 'path_end'"},
    {"*,proto=tcp a:80", "proto must be 'http' or 'ws', not 'tcp'"},
    {"*,proto a:80", "proto must be 'http' or 'ws', not ''"},
    {"*,ssl=maybe a:80", "ssl must be 'yes' or 'no', not 'maybe'"},
    {"*,path_beg= a:80", "path_beg cannot be empty"},
    {"*,id a:80", "id needs a value"},
    {"*,as_host= a:80", "as_host needs a value"},
    {"*,path_rem=x a:80", "path_rem must be a non-negative integer, not 'x'"},
    {"*,path_rem=99999999999 a:80", "path_rem must be a non-negative integer, not '99999999999'"},
    {"*,log_level=-1 a:80", "log_level must be a non-negative integer, not '-1'"},
    {"*,header=NoColon a:80", "header must be Name:Value, not 'NoColon'"},
    {"*,header=:v a:80", "header must be Name:Value, not ':v'"},
    {"*,header=\"X A:v\" a:80", "invalid header name in 'X A:v'"},
    {"*,header=X(1):v a:80", "invalid header name in 'X(1):v'"},
    {"* zhttp/tcp://127.0.0.1:10000",
     "ZeroMQ targets are not supported: 'zhttp/tcp://127.0.0.1:10000'"},
    {"* zhttpreq/tcp://127.0.0.1:10001",
     "ZeroMQ targets are not supported: 'zhttpreq/tcp://127.0.0.1:10001'"},
    {"* ,ssl", "target has no address (expected host:port or test)"},
    {"* backend", "target 'backend' has no port (expected host:port)"},
    {"* [::1]", "target '[::1]' has no port (expected host:port)"},
    {"* backend:0", "target 'backend:0' has an invalid port (expected 1..65535)"},
    {"* backend:65536", "target 'backend:65536' has an invalid port (expected 1..65535)"},
    {"* backend:http", "target 'backend:http' has an invalid port (expected 1..65535)"},
    {"* backend:", "target 'backend:' has an invalid port (expected 1..65535)"},
    {"* backend:-80", "target 'backend:-80' has an invalid port (expected 1..65535)"},
    {"* :80", "target ':80' has an empty host"},
    {"* []:80", "target '[]:80' has an empty host"},
    {"* [::1", "target '[::1' is missing ']'"},
    {"* ::1:80", "IPv6 target must be in brackets: '::1:80'"},
    {"* a:80,bogus", "unknown target prop 'bogus'"},
    {"* a:80,path_beg=/x", "unknown target prop 'path_beg'"},
    {"* a:80,host=", "host needs a value"},
    {"* a:80,client_cert", "client_cert needs a value"},
    {"* a:80,client_key=", "client_key needs a value"},
};

TEST_IMPL(route_errors)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        char text[256], want[512];
        snprintf(text, sizeof text, "# header comment\n%s\n", error_cases[i].line);
        snprintf(want, sizeof want, "routes:2: error: %s\n", error_cases[i].why);
        tt_routes_t *rs = (tt_routes_t *)1;
        tt_diag_t d = TT_DIAG_INIT;
        ASSERT_EQ(tt_routes_parse(text, strlen(text), "routes", &rs, &d), TT_EPARSE);
        ASSERT_NULL(rs);
        ASSERT_EQ(d.errors, 1);
        ASSERT_EQ(d.warnings, 0);
        ASSERT_STR_EQ(d.text.data, want);
        tt_diag_free(&d);
    }
    return 0;
}

/* Bad lines are skipped and reported; the rest of the file is still read,
 * and every problem on a line is named. */
TEST_IMPL(route_all_errors)
{
    const char *text = "* good:80\n"
                       "*.x.com a:80\n"
                       "\n"
                       "*,proto=tcp,ssl=maybe a:80 b:0\n"
                       "example.com ok:80\n"
                       "* zhttp/ipc://x\n";
    tt_routes_t *rs = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    ASSERT_EQ(tt_routes_parse(text, strlen(text), "my-routes", &rs, &d), TT_EPARSE);
    ASSERT_NULL(rs);
    ASSERT_EQ(d.errors, 5);
    ASSERT_STR_EQ(d.text.data,
                  "my-routes:2: error: partial wildcards are not supported: '*.x.com' (use an "
                  "exact host or *)\n"
                  "my-routes:4: error: proto must be 'http' or 'ws', not 'tcp'\n"
                  "my-routes:4: error: ssl must be 'yes' or 'no', not 'maybe'\n"
                  "my-routes:4: error: target 'b:0' has an invalid port (expected 1..65535)\n"
                  "my-routes:6: error: ZeroMQ targets are not supported: 'zhttp/ipc://x'\n");
    tt_diag_free(&d);
    ASSERT_EQ(tt_routes_parse(text, strlen(text), "my-routes", &rs, NULL), TT_EPARSE);
    ASSERT_NULL(rs);
    return 0;
}

TEST_IMPL(route_warnings)
{
    static const struct {
        const char *text;
        const char *diag;
    } cases[] = {
        {"* a:80\n* b:80\n",
         "routes:2: warning: duplicate condition (same as line 1); this route never matches\n"},
        {"x.com,path_beg=/a a:80\nX.COM,path_beg=/a,debug b:80\n",
         "routes:2: warning: duplicate condition (same as line 1); this route never matches\n"},
        {"*,replace_beg=/v2 a:80\n",
         "routes:1: warning: replace_beg has no effect without path_beg\n"},
        {"* a:80\nX.com:8080 b:80\n",
         "routes:2: warning: host 'X.com:8080' has a port, but hosts are matched without one; "
         "this route never matches\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_routes_t *rs = NULL;
        tt_diag_t d = TT_DIAG_INIT;
        const char *text = cases[i].text;
        ASSERT_OK(tt_routes_parse(text, strlen(text), "routes", &rs, &d));
        ASSERT_NOT_NULL(rs);
        ASSERT_EQ(d.errors, 0);
        ASSERT_EQ(d.warnings, 1);
        ASSERT_STR_EQ(d.text.data, cases[i].diag);
        /* The earlier of two equal conditions wins. */
        ASSERT_STR_EQ(match(rs, "x.com", "/a", false, false), "a");
        tt_routes_free(rs);
        tt_diag_free(&d);
    }
    return 0;
}

/* Best match: exact host over `*`; then proto, then the longest path_beg,
 * then ssl; line order only breaks exact ties. */
TEST_IMPL(route_match_order)
{
    tt_routes_t *rs = parse_ok("*,path_beg=/api/v2 apiv2:80\n"
                               "*,path_beg=/api,ssl=yes apissl:80\n"
                               "*,path_beg=/api api:80\n"
                               "*,proto=ws ws:80\n"
                               "*,proto=http,path_beg=/s hs:80\n"
                               "*,ssl=no plain:80\n"
                               "* default:80\n"
                               "example.com ex:80\n"
                               "example.com,path_beg=/x exx:80\n"
                               "[::1] v6:80\n"
                               "10.0.0.1 v4:80\n");
    static const struct {
        const char *host, *path;
        bool ws, tls;
        const char *want;
    } cases[] = {
        {"other.com", "/", false, true, "default"},
        {"other.com", "/", false, false, "plain"},
        {"other.com", "/api/x", false, false, "api"},
        {"other.com", "/apix", false, false, "api"},
        {"other.com", "/ap", false, true, "default"},
        {"other.com", "/api/x", false, true, "apissl"},
        {"other.com", "/api/v2/x", false, true, "apiv2"},
        {"other.com", "/api/x", true, false, "ws"},
        {"other.com", "/s/1", true, false, "ws"},
        {"other.com", "/s/1", false, false, "hs"},
        {"other.com", "/S/1", false, true, "default"},
        {"example.com", "/api", false, false, "ex"},
        {"EXAMPLE.com:8080", "/api", true, true, "ex"},
        {"example.com", "/x/1", false, false, "exx"},
        {"example.com.", "/x/1", false, true, "default"},
        {"example.co", "/", false, true, "default"},
        {"[::1]:7999", "/", false, true, "v6"},
        {"[::1]", "/", false, true, "v6"},
        {"::1", "/", false, true, "v6"},
        {"10.0.0.1:80", "/", false, true, "v4"},
        {NULL, "/", false, true, "default"},
        {"", "/", false, true, "default"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = match(rs, cases[i].host, cases[i].path, cases[i].ws, cases[i].tls);
        if (!got || strcmp(got, cases[i].want) != 0)
            TT_TEST_FAIL("case %zu: %s%s ws=%d tls=%d: got %s, want %s", i,
                         cases[i].host ? cases[i].host : "(null)", cases[i].path, cases[i].ws,
                         cases[i].tls, got ? got : "(null)", cases[i].want);
    }
    /* The path is compared up to path_len only. */
    const tt_route_t *r = tt_routes_match(rs, "a", 1, "/api/v2", 4, false, false);
    ASSERT_STR_EQ(r->targets[0].host, "api");
    tt_routes_free(rs);
    return 0;
}

/* Without a `*` route, other hosts match nothing; a host's routes that do
 * not match fall back to `*` routes. */
TEST_IMPL(route_match_no_default)
{
    tt_routes_t *rs = parse_ok("example.com,path_beg=/only only:80\n"
                               "api.example.com,proto=ws w:80\n");
    ASSERT_STR_EQ(match(rs, "example.com", "/only/1", false, false), "only");
    ASSERT_NULL(match(rs, "example.com", "/other", false, false));
    ASSERT_NULL(match(rs, "api.example.com", "/", false, false));
    ASSERT_STR_EQ(match(rs, "api.example.com", "/", true, false), "w");
    ASSERT_NULL(match(rs, "nobody.example", "/", true, false));
    ASSERT_NULL(tt_routes_match(NULL, "a", 1, "/", 1, false, false));
    tt_routes_free(rs);

    rs = parse_ok("example.com,path_beg=/only only:80\n* def:80\n");
    ASSERT_STR_EQ(match(rs, "example.com", "/other", false, false), "def");
    tt_routes_free(rs);
    return 0;
}

TEST_IMPL(route_find_id)
{
    tt_routes_t *rs = parse_ok("*,id=one a:80\n*,id=two,path_beg=/t b:80\nexample.com c:80\n");
    ASSERT_STR_EQ(tt_routes_find_id(rs, "two")->targets[0].host, "b");
    ASSERT_STR_EQ(tt_routes_find_id(rs, "one")->targets[0].host, "a");
    ASSERT_NULL(tt_routes_find_id(rs, "three"));
    ASSERT_NULL(tt_routes_find_id(rs, ""));
    ASSERT_NULL(tt_routes_find_id(rs, NULL));
    ASSERT_NULL(tt_routes_find_id(NULL, "one"));
    tt_routes_free(rs);
    return 0;
}

TEST_IMPL(route_rewrite_path)
{
    static const struct {
        const char *props; /* condition props after "*," */
        const char *in, *want;
    } cases[] = {
        {"id=none", "/api/foo?x=1", "/api/foo?x=1"},
        {"id=none", "*", "*"},
        {"path_rem=0", "/api/foo", "/api/foo"},
        {"path_beg=/api,path_rem=4", "/api/foo?x=1", "/foo?x=1"},
        {"path_rem=4", "/api?x=/y", "/?x=/y"},
        {"path_rem=100", "/api?x", "/?x"},
        {"path_rem=5", "/api/foo", "/foo"},
        {"path_beg=/api,replace_beg=/v1", "/api/foo?q=/api", "/v1/foo?q=/api"},
        {"path_beg=/api,replace_beg=/v1", "/api", "/v1"},
        {"path_beg=/api/,replace_beg=", "/api/foo", "/foo"},
        {"path_beg=/api/,replace_beg=/", "/api/foo?", "/foo?"},
        {"path_beg=/api,replace_beg=/v1", "/other", "/other"},
        {"path_beg=/api,replace_beg=/v1", "/ap?api", "/ap?api"},
        {"path_beg=/api,replace_beg=/v1,path_rem=1", "/api/foo", "/v1/foo"},
        {"path_beg=/a,replace_beg=x/", "/a/b", "/x//b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "*,%s a:80\n", cases[i].props);
        tt_routes_t *rs = parse_ok(text);
        char *out = NULL;
        tt_route_rewrite_path(&rs->routes[0], cases[i].in, strlen(cases[i].in), &out);
        if (strcmp(out, cases[i].want) != 0)
            TT_TEST_FAIL("%s on %s: got %s, want %s", cases[i].props, cases[i].in, out,
                         cases[i].want);
        free(out);
        tt_routes_free(rs);
    }
    /* Only `len` bytes of the target are used. */
    tt_routes_t *rs = parse_ok("*,path_rem=4 a:80\n");
    char *out = NULL;
    tt_route_rewrite_path(&rs->routes[0], "/api/foo/bar", 8, &out);
    ASSERT_STR_EQ(out, "/foo");
    free(out);
    tt_routes_free(rs);
    return 0;
}

TEST_IMPL(route_load)
{
    char *dir = tt_test_tmpdir();
    ASSERT_NOT_NULL(dir);
    char *path = tt_test_write_file(dir, "routes", "* test\r\nbad.com\n");
    ASSERT_NOT_NULL(path);
    tt_routes_t *rs = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    ASSERT_EQ(tt_routes_load(path, &rs, &d), TT_EPARSE);
    ASSERT_NULL(rs);
    char want[4200];
    snprintf(want, sizeof want, "%s:2: error: route has no target\n", path);
    ASSERT_STR_EQ(d.text.data, want);
    tt_diag_free(&d);

    free(tt_test_write_file(dir, "routes", "* test\r\n"));
    ASSERT_OK(tt_routes_load(path, &rs, &d));
    ASSERT_EQ(d.errors + d.warnings, 0);
    ASSERT_EQ(rs->n, 1);
    tt_routes_free(rs);

    ASSERT_OK(remove(path));
    ASSERT_EQ(tt_routes_load(path, &rs, &d), TT_EPARSE);
    ASSERT_NULL(rs);
    snprintf(want, sizeof want, "%s: error: cannot open: No such file or directory\n", path);
    ASSERT_STR_EQ(d.text.data, want);
    tt_diag_free(&d);
    ASSERT_EQ(tt_routes_load(path, &rs, NULL), TT_EPARSE);

    free(path);
    ASSERT_OK(tt_test_rmtree(dir));
    free(dir);
    return 0;
}
