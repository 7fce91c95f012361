/* Table tests for the pushpin.conf parser (src/config.c): defaults, every
 * diagnostic, value forms, port lists, includes and a real pushpin.conf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "platform.h"
#include "support.h"
#include "task.h"

/* dir, the OS's separator and name, as the parser joins relative paths.
 * Static storage: valid until the next call. */
static const char *joined(const char *dir, const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s%c%s", dir, tt_platform_path_sep(), name);
    return buf;
}

/* Parse `text` as "t.conf" in directory /nonexistent-tt. Returns the result
 * code; *c and *d are the caller's to free. */
static int parse(const char *text, tt_config_t **c, tt_diag_t *d)
{
    return tt_config_parse(text, strlen(text), "t.conf", "/nonexistent-tt", c, d);
}

/* Parse text that must load with no diagnostic at all. */
static tt_config_t *parse_ok(const char *text)
{
    tt_config_t *c = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    int rc = parse(text, &c, &d);
    if (rc != 0 || d.errors || d.warnings)
        TT_TEST_FAIL("unexpected diagnostics for \"%s\": %s", text, d.text.data);
    tt_diag_free(&d);
    return c;
}

TEST_IMPL(config_defaults)
{
    tt_config_t *c = tt_config_defaults(NULL);
    ASSERT_NULL(c->path);
    ASSERT_STR_EQ(c->dir, ".");
    ASSERT_EQ(c->port_offset, 0);
    ASSERT_EQ(c->n_http_ports, 1);
    ASSERT_STR_EQ(c->http_ports[0].addr, "0.0.0.0");
    ASSERT_EQ(c->http_ports[0].port, TT_DEFAULT_HTTP_PORT);
    ASSERT_EQ(c->client_maxconn, 50000);
    ASSERT_EQ(c->client_buffer_size, 8192);
    ASSERT_EQ(c->log_level, 2);
    ASSERT(!c->allow_compression);
    ASSERT_STR_EQ(c->routesfile, joined(".", "routes"));
    ASSERT(!c->debug && !c->auto_cross_origin && !c->accept_x_forwarded_protocol);
    ASSERT_EQ(c->set_x_forwarded_protocol, TT_XFP_PROTO_ONLY);
    ASSERT_EQ(c->x_forwarded_for.truncate, -1);
    ASSERT(!c->x_forwarded_for.append);
    ASSERT_EQ(c->x_forwarded_for_trusted.truncate, -1);
    ASSERT(!c->x_forwarded_for_trusted.append);
    ASSERT(!c->accept_pushpin_route && !c->log_from && !c->log_user_agent);
    ASSERT_NULL(c->cdn_loop);
    ASSERT_STR_EQ(c->sig_iss, "pushpin");
    ASSERT_STR_EQ(c->sig_key, "changeme");
    ASSERT_NULL(c->upstream_key);
    ASSERT_STR_EQ(c->push_in_http_addr, "127.0.0.1");
    ASSERT_EQ(c->push_in_http_port, TT_DEFAULT_PUSH_PORT);
    ASSERT_EQ(c->push_in_http_max_headers_size, 10000);
    ASSERT_EQ(c->push_in_http_max_body_size, 1000000);
    ASSERT_EQ(c->message_rate, 2500);
    ASSERT_EQ(c->message_hwm, 25000);
    ASSERT_EQ(c->message_wait_ms, 5000);
    ASSERT_EQ(c->id_cache_ttl_ms, 60000);
    ASSERT_EQ(c->connection_subscription_max, 20);
    ASSERT_EQ(c->subscription_linger_ms, 60000);
    ASSERT_EQ(c->max_request_body, 0);
    ASSERT_EQ(c->max_response_header_size, 65536);
    ASSERT_EQ(c->client_header_timeout_ms, 30000);
    ASSERT_EQ(c->client_idle_timeout_ms, 60000);
    ASSERT_EQ(c->backend_connect_timeout_ms, 5000);
    ASSERT_EQ(c->backend_response_timeout_ms, 60000);
    ASSERT_EQ(c->backend_keepalive_timeout_ms, 30000);
    ASSERT_EQ(c->backend_pool_size, 32);
    ASSERT_EQ(c->shutdown_grace_ms, 10000);
    tt_config_free(c);

    c = tt_config_defaults("/etc/pushpin");
    ASSERT_STR_EQ(c->routesfile, joined("/etc/pushpin", "routes"));
    tt_config_free(c);
    /* No second separator after a root directory. */
    c = tt_config_defaults("/");
    ASSERT_STR_EQ(c->routesfile, "/routes");
    tt_config_free(c);
    tt_config_free(NULL);
    return 0;
}

/* Empty text, blank lines and comments only: the defaults, named. */
TEST_IMPL(config_empty)
{
    static const char *const texts[] = {"", "\n\n", "# c\n; c\n   # indented\n", "\r\n[proxy]\r\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tt_config_t *c = parse_ok(texts[i]);
        ASSERT_STR_EQ(c->path, "t.conf");
        ASSERT_STR_EQ(c->dir, "/nonexistent-tt");
        ASSERT_STR_EQ(c->routesfile, joined("/nonexistent-tt", "routes"));
        ASSERT_EQ(c->http_ports[0].port, 7999);
        tt_config_free(c);
    }
    return 0;
}

/* Every error message, each as the whole diagnostic text. */
/* Text with one error, and the whole diagnostic text it gives. */
static const struct {
    const char *text;
    const char *diag;
} error_cases[] = {
    {"[proxy\n", "t.conf:1: error: unterminated '[' in section header\n"},
    {"[proxy] x\n", "t.conf:1: error: unexpected text after ']': 'x'\n"},
    {"[ ]\n", "t.conf:1: error: empty section name\n"},
    {"[proxy]\njunk\n", "t.conf:2: error: expected key=value, [section] or comment: 'junk'\n"},
    {"[proxy]\n = x\n", "t.conf:2: error: missing key before '='\n"},
    {"debug=true\n", "t.conf:1: error: key 'debug' is outside any section\n"},
    {"[proxy]\ndebug=maybe\n",
     "t.conf:2: error: invalid value for 'debug': 'maybe' (expected true or false)\n"},
    {"[proxy]\nlog_from=\n",
     "t.conf:2: error: invalid value for 'log_from': '' (expected true or false)\n"},
    {"[runner]\nclient_maxconn=abc\n",
     "t.conf:2: error: invalid value for 'client_maxconn': 'abc' (expected an integer)\n"},
    {"[runner]\nclient_maxconn=12x\n",
     "t.conf:2: error: invalid value for 'client_maxconn': '12x' (expected an integer)\n"},
    {"[runner]\nclient_maxconn=0\n", "t.conf:2: error: 'client_maxconn' must be at least 1: '0'\n"},
    {"[runner]\nclient_buffer_size=-5\n",
     "t.conf:2: error: 'client_buffer_size' must be at least 1: '-5'\n"},
    {"[runner]\nclient_maxconn=99999999999\n",
     "t.conf:2: error: 'client_maxconn' is too large: '99999999999'\n"},
    {"[runner]\nclient_maxconn=99999999999999999999\n",
     "t.conf:2: error: invalid value for 'client_maxconn': '99999999999999999999' "
     "(expected an integer)\n"},
    {"[handler]\npush_in_http_port=70000\n",
     "t.conf:2: error: 'push_in_http_port' must be between 0 and 65535: '70000'\n"},
    {"[global]\nport_offset=-1\n",
     "t.conf:2: error: 'port_offset' must be between 0 and 65535: '-1'\n"},
    {"[handler]\nmessage_hwm=0\n", "t.conf:2: error: 'message_hwm' must be at least 1: '0'\n"},
    {"[handler]\nmessage_wait=5s\n",
     "t.conf:2: error: invalid value for 'message_wait': '5s' (expected an integer)\n"},
    {"[tether]\nclient_idle_timeout=5x\n",
     "t.conf:2: error: invalid value for 'client_idle_timeout': '5x' (expected a duration "
     "such as 500ms, 5s, 2m or 1h)\n"},
    {"[tether]\nbackend_connect_timeout=0\n",
     "t.conf:2: error: 'backend_connect_timeout' must be greater than 0\n"},
    {"[tether]\nmax_request_body=lots\n",
     "t.conf:2: error: invalid value for 'max_request_body': 'lots' (expected an integer)\n"},
    {"[runner]\nhttp_port=abc\n",
     "t.conf:2: error: invalid value for 'http_port': 'abc' (expected [addr:]port, port "
     "0..65535)\n"},
    {"[runner]\nhttp_port=80,::1:81\n",
     "t.conf:2: error: invalid value for 'http_port': '::1:81' (expected [addr:]port, port "
     "0..65535)\n"},
    {"[runner]\nhttp_port= , \n", "t.conf:2: error: 'http_port' has no port\n"},
    {"[proxy]\nx_forwarded_for=truncate:x\n",
     "t.conf:2: error: invalid value for 'x_forwarded_for': 'truncate:x' (expected "
     "truncate:N and/or append)\n"},
    {"[proxy]\nx_forwarded_for_trusted=append,prepend\n",
     "t.conf:2: error: invalid value for 'x_forwarded_for_trusted': 'append,prepend' "
     "(expected truncate:N and/or append)\n"},
    {"[proxy]\nset_x_forwarded_protocol=maybe\n",
     "t.conf:2: error: invalid value for 'set_x_forwarded_protocol': 'maybe' (expected "
     "proto-only, true or false)\n"},
    {"[proxy]\nroutesfile=\n", "t.conf:2: error: 'routesfile' is empty\n"},
    {"[handler]\npush_in_http_addr=localhost\n",
     "t.conf:2: error: invalid value for 'push_in_http_addr': 'localhost' (expected a "
     "numeric IPv4 or IPv6 address)\n"},
    {"[global]\nport_offset=10\n[runner]\nhttp_port=80,65530\n",
     "t.conf:2: error: port_offset 10 moves port 65530 past 65535\n"},
};

TEST_IMPL(config_errors)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        tt_config_t *c = (tt_config_t *)1;
        tt_diag_t d = TT_DIAG_INIT;
        ASSERT_EQ(parse(error_cases[i].text, &c, &d), TT_EPARSE);
        ASSERT_NULL(c);
        ASSERT_EQ(d.errors, 1);
        ASSERT_EQ(d.warnings, 0);
        ASSERT_STR_EQ(d.text.data, error_cases[i].diag);
        tt_diag_free(&d);
    }

    tt_config_t *c = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    char want[2048];
    ASSERT_EQ(parse("[global]\ninclude=missing.conf\n", &c, &d), TT_EPARSE);
    snprintf(want, sizeof want,
             "t.conf:2: error: include file '%s': cannot open: No such file or directory\n",
             joined("/nonexistent-tt", "missing.conf"));
    ASSERT_STR_EQ(d.text.data, want);
    tt_diag_free(&d);
    return 0;
}

/* Parsing goes on after an error: all of them are reported, in line order. */
TEST_IMPL(config_all_errors)
{
    const char *text = "orphan=1\n"
                       "[proxy]\n"
                       "debug=maybe\n"
                       "nonsense\n"
                       "zzz=1\n"
                       "[runner]\n"
                       "client_maxconn=0\n";
    tt_config_t *c = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    ASSERT_EQ(parse(text, &c, &d), TT_EPARSE);
    ASSERT_NULL(c);
    ASSERT_EQ(d.errors, 4);
    ASSERT_EQ(d.warnings, 1);
    ASSERT_STR_EQ(d.text.data,
                  "t.conf:1: error: key 'orphan' is outside any section\n"
                  "t.conf:3: error: invalid value for 'debug': 'maybe' (expected true or false)\n"
                  "t.conf:4: error: expected key=value, [section] or comment: 'nonsense'\n"
                  "t.conf:5: warning: unknown key 'zzz' in [proxy]\n"
                  "t.conf:7: error: 'client_maxconn' must be at least 1: '0'\n");
    tt_diag_free(&d);

    /* Without a diag the result is the same, silently. */
    ASSERT_EQ(tt_config_parse(text, strlen(text), "t.conf", NULL, &c, NULL), TT_EPARSE);
    ASSERT_NULL(c);

    /* Without a name, diagnostics have no location. */
    text = "[global]\nport_offset=1\n[runner]\nhttp_port=65535\n";
    ASSERT_EQ(tt_config_parse(text, strlen(text), NULL, NULL, &c, &d), TT_EPARSE);
    ASSERT_STR_EQ(d.text.data, "error: port_offset 1 moves port 65535 past 65535\n");
    tt_diag_free(&d);
    return 0;
}

/* Warnings never fail the load. */
TEST_IMPL(config_warnings)
{
    static const struct {
        const char *text;
        const char *diag;
    } cases[] = {
        {"[proxy]\nfoo=1\n", "t.conf:2: warning: unknown key 'foo' in [proxy]\n"},
        {"[tether]\nclient_timeout=5s\n",
         "t.conf:2: warning: unknown key 'client_timeout' in [tether]\n"},
        {"[proxy]\ninclude=other.conf\n", "t.conf:2: warning: unknown key 'include' in [proxy]\n"},
        {"[cache]\nredis_port=1\nx=2\n", "t.conf:1: warning: unknown section [cache]\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_config_t *c = NULL;
        tt_diag_t d = TT_DIAG_INIT;
        ASSERT_OK(parse(cases[i].text, &c, &d));
        ASSERT_NOT_NULL(c);
        ASSERT_EQ(d.errors, 0);
        ASSERT_EQ(d.warnings, 1);
        ASSERT_STR_EQ(d.text.data, cases[i].diag);
        tt_diag_free(&d);
        tt_config_free(c);
    }
    return 0;
}

TEST_IMPL(config_booleans)
{
    static const struct {
        const char *v;
        bool want;
    } cases[] = {{"TRUE", true},   {"Yes", true}, {"oN", true},   {"False", false},
                 {"true", true},   {"yes", true}, {"on", true},   {"1", true},
                 {"false", false}, {"no", false}, {"off", false}, {"0", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[proxy]\ndebug=%s\n[runner]\nallow_compression = %s\n",
                 cases[i].v, cases[i].v);
        tt_config_t *c = parse_ok(text);
        ASSERT_EQ(c->debug, cases[i].want);
        ASSERT_EQ(c->allow_compression, cases[i].want);
        tt_config_free(c);
    }
    return 0;
}

TEST_IMPL(config_values)
{
    tt_config_t *c = parse_ok("[global]\n"
                              "rundir={rundir}/x\n"
                              "[runner]\n"
                              "  client_maxconn =  100  \n"
                              "client_buffer_size=16384\n"
                              "log_level=3\n"
                              "[proxy]\n"
                              "routesfile=my-routes\n"
                              "auto_cross_origin=true\n"
                              "accept_x_forwarded_protocol=yes\n"
                              "accept_pushpin_route=on\n"
                              "log_from=1\n"
                              "log_user_agent=true\n"
                              "cdn_loop=tether\n"
                              "sig_iss=me\n"
                              "sig_key=\"base64:c2VjcmV0\"\n"
                              "upstream_key=up\n"
                              "[handler]\n"
                              "push_in_http_addr=0.0.0.0\n"
                              "push_in_http_port=0\n"
                              "push_in_http_max_headers_size=100\n"
                              "push_in_http_max_body_size=200\n"
                              "message_rate=0\n"
                              "message_hwm=5\n"
                              "message_wait=250\n"
                              "id_cache_ttl=2\n"
                              "connection_subscription_max=3\n"
                              "subscription_linger=4\n");
    ASSERT_EQ(c->client_maxconn, 100);
    ASSERT_EQ(c->client_buffer_size, 16384);
    ASSERT_EQ(c->log_level, 3);
    ASSERT_STR_EQ(c->routesfile, joined("/nonexistent-tt", "my-routes"));
    ASSERT(c->auto_cross_origin && c->accept_x_forwarded_protocol && c->accept_pushpin_route);
    ASSERT(c->log_from && c->log_user_agent);
    ASSERT_STR_EQ(c->cdn_loop, "tether");
    ASSERT_STR_EQ(c->sig_iss, "me");
    ASSERT_STR_EQ(c->sig_key, "base64:c2VjcmV0");
    ASSERT_STR_EQ(c->upstream_key, "up");
    ASSERT_STR_EQ(c->push_in_http_addr, "0.0.0.0");
    ASSERT_EQ(c->push_in_http_port, 0);
    ASSERT_EQ(c->push_in_http_max_headers_size, 100);
    ASSERT_EQ(c->push_in_http_max_body_size, 200);
    ASSERT_EQ(c->message_rate, 0);
    ASSERT_EQ(c->message_hwm, 5);
    ASSERT_EQ(c->message_wait_ms, 250);
    ASSERT_EQ(c->id_cache_ttl_ms, 2000);
    ASSERT_EQ(c->connection_subscription_max, 3);
    ASSERT_EQ(c->subscription_linger_ms, 4000);
    tt_config_free(c);

    /* Empty optional strings are unset; an absolute routesfile stays; the
     * later of two assignments wins. */
    c = parse_ok("[proxy]\ncdn_loop=\nupstream_key=\"\"\nroutesfile=/srv/routes\n"
                 "sig_iss=a\nsig_iss=b\n[handler]\npush_in_http_addr=[::1]\n");
    ASSERT_NULL(c->cdn_loop);
    ASSERT_NULL(c->upstream_key);
    ASSERT_STR_EQ(c->routesfile, "/srv/routes"); /* absolute on Windows too (current drive) */
    ASSERT_STR_EQ(c->sig_iss, "b");
    ASSERT_STR_EQ(c->push_in_http_addr, "::1");
    tt_config_free(c);

    c = parse_ok("[handler]\npush_in_http_addr=fe80::1\n");
    ASSERT_STR_EQ(c->push_in_http_addr, "fe80::1");
    tt_config_free(c);
    return 0;
}

TEST_IMPL(config_tether_section)
{
    tt_config_t *c = parse_ok("[tether]\n"
                              "max_request_body=1048576\n"
                              "max_response_header_size=4096\n"
                              "client_header_timeout=500ms\n"
                              "client_idle_timeout=2m\n"
                              "backend_connect_timeout=3\n"
                              "backend_response_timeout=1h\n"
                              "backend_keepalive_timeout=0\n"
                              "backend_pool_size=0\n"
                              "shutdown_grace=0s\n");
    ASSERT_EQ(c->max_request_body, 1048576);
    ASSERT_EQ(c->max_response_header_size, 4096);
    ASSERT_EQ(c->client_header_timeout_ms, 500);
    ASSERT_EQ(c->client_idle_timeout_ms, 120000);
    ASSERT_EQ(c->backend_connect_timeout_ms, 3000);
    ASSERT_EQ(c->backend_response_timeout_ms, 3600000);
    ASSERT_EQ(c->backend_keepalive_timeout_ms, 0);
    ASSERT_EQ(c->backend_pool_size, 0);
    ASSERT_EQ(c->shutdown_grace_ms, 0);
    tt_config_free(c);
    return 0;
}

TEST_IMPL(config_forwarded)
{
    static const struct {
        const char *xff;
        int truncate;
        bool append;
    } xff[] = {
        {"", -1, false},
        {"append", -1, true},
        {"truncate:0", 0, false},
        {"truncate:0,append", 0, true},
        {" append , truncate:3 ", 3, true},
        {"append,", -1, true},
    };
    for (size_t i = 0; i < sizeof xff / sizeof xff[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[proxy]\nx_forwarded_for=%s\nx_forwarded_for_trusted=%s\n",
                 xff[i].xff, xff[i].xff);
        tt_config_t *c = parse_ok(text);
        ASSERT_EQ(c->x_forwarded_for.truncate, xff[i].truncate);
        ASSERT_EQ(c->x_forwarded_for.append, xff[i].append);
        ASSERT_EQ(c->x_forwarded_for_trusted.truncate, xff[i].truncate);
        ASSERT_EQ(c->x_forwarded_for_trusted.append, xff[i].append);
        tt_config_free(c);
    }
    static const struct {
        const char *v;
        enum tt_xfp_mode want;
    } xfp[] = {{"proto-only", TT_XFP_PROTO_ONLY},
               {"true", TT_XFP_TRUE},
               {"false", TT_XFP_NONE},
               {"", TT_XFP_NONE}};
    for (size_t i = 0; i < sizeof xfp / sizeof xfp[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[proxy]\nset_x_forwarded_protocol=%s\n", xfp[i].v);
        tt_config_t *c = parse_ok(text);
        ASSERT_EQ(c->set_x_forwarded_protocol, xfp[i].want);
        tt_config_free(c);
    }
    return 0;
}

TEST_IMPL(config_http_ports)
{
    tt_config_t *c = parse_ok("[runner]\nhttp_port=8080, 127.0.0.1:81,[::1]:82 ,*:83,:84,[::]:0\n");
    static const struct {
        const char *addr;
        int port;
    } want[] = {{"0.0.0.0", 8080}, {"127.0.0.1", 81}, {"::1", 82},
                {"0.0.0.0", 83},   {"0.0.0.0", 84},   {"::", 0}};
    ASSERT_EQ(c->n_http_ports, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < c->n_http_ports; i++) {
        ASSERT_STR_EQ(c->http_ports[i].addr, want[i].addr);
        ASSERT_EQ(c->http_ports[i].port, want[i].port);
    }
    tt_config_free(c);

    /* port_offset moves every port but 0, wherever it appears in the file. */
    c = parse_ok("[runner]\nhttp_port=80,0,127.0.0.1:90\n"
                 "[handler]\npush_in_http_port=5561\n"
                 "[global]\nport_offset=10\n");
    ASSERT_EQ(c->port_offset, 10);
    ASSERT_EQ(c->n_http_ports, 3);
    ASSERT_EQ(c->http_ports[0].port, 90);
    ASSERT_EQ(c->http_ports[1].port, 0);
    ASSERT_EQ(c->http_ports[2].port, 100);
    ASSERT_EQ(c->push_in_http_port, 5571);
    tt_config_free(c);

    c = parse_ok("[global]\nport_offset=1\n");
    ASSERT_EQ(c->http_ports[0].port, 8000);
    ASSERT_EQ(c->push_in_http_port, 5562);
    tt_config_free(c);
    return 0;
}

TEST_IMPL(config_listen_parse)
{
    static const struct {
        const char *in;
        const char *addr;
        int port;
    } good[] = {
        {"7999", "0.0.0.0", 7999},
        {"0", "0.0.0.0", 0},
        {"65535", "0.0.0.0", 65535},
        {"127.0.0.1:80", "127.0.0.1", 80},
        {"*:80", "0.0.0.0", 80},
        {":80", "0.0.0.0", 80},
        {"[::1]:443", "::1", 443},
        {"[::]:1", "::", 1},
        {"[2001:db8::5]:8080", "2001:db8::5", 8080},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tt_listen_t l;
        if (tt_listen_parse(good[i].in, &l) != 0)
            TT_TEST_FAIL("tt_listen_parse(\"%s\") failed", good[i].in);
        ASSERT_STR_EQ(l.addr, good[i].addr);
        ASSERT_EQ(l.port, good[i].port);
    }
    static const char *const bad[] = {
        "",         "abc",       "65536",    "-1",
        "+80",      "80 ",       "1.2.3:80", "localhost:80",
        "1.2.3.4:", "1.2.3.4",   "::1",      "::1:80",
        "[::1]",    "[::1]80",   "[::1:80",  "[1.2.3.4]:80",
        "[]:80",    "1.2.3.4:x", "**:80",    "99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_listen_t l;
        if (tt_listen_parse(bad[i], &l) != TT_EPARSE)
            TT_TEST_FAIL("tt_listen_parse(\"%s\") should fail", bad[i]);
    }
    return 0;
}

TEST_IMPL(config_duration_parse)
{
    static const struct {
        const char *in;
        uint64_t ms;
    } good[] = {
        {"0", 0},       {"5", 5000},    {"5s", 5000},
        {"250ms", 250}, {"2m", 120000}, {"1h", 3600000},
        {"0ms", 0},     {"007s", 7000}, {"18446744073709551615ms", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t ms = 1;
        if (tt_duration_parse(good[i].in, &ms) != 0)
            TT_TEST_FAIL("tt_duration_parse(\"%s\") failed", good[i].in);
        if (ms != good[i].ms)
            TT_TEST_FAIL("tt_duration_parse(\"%s\") = %llu", good[i].in, (unsigned long long)ms);
    }
    static const char *const bad[] = {
        "",
        "-1",
        "+1",
        "s",
        "ms",
        "5 s",
        " 5",
        "5x",
        "5S",
        "1.5s",
        "5sec",
        "5msx",
        "1d",
        "18446744073709551616",
        "18446744073709551615s",
        "5124095576030432h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms = 42;
        if (tt_duration_parse(bad[i], &ms) != TT_EPARSE)
            TT_TEST_FAIL("tt_duration_parse(\"%s\") should fail", bad[i]);
        ASSERT_EQ(ms, 42);
    }
    ASSERT_EQ(tt_duration_parse(NULL, NULL), TT_EPARSE);
    return 0;
}

/* The non-comment lines of Pushpin 1.36's /etc/pushpin/pushpin.conf (Debian). */
static const char pushpin_conf[] = "[global]\n"
                                   "include={libdir}/internal.conf\n"
                                   "rundir=/var/run/pushpin\n"
                                   "ipc_prefix=pushpin-\n"
                                   "port_offset=0\n"
                                   "stats_connection_ttl=120\n"
                                   "\n"
                                   "[runner]\n"
                                   "services=condure,pushpin-proxy,pushpin-handler\n"
                                   "http_port=7999\n"
                                   "#https_ports=443\n"
                                   "#local_ports={rundir}/{ipc_prefix}server\n"
                                   "logdir=/var/log/pushpin\n"
                                   "log_level=2\n"
                                   "client_buffer_size=8192\n"
                                   "client_maxconn=50000\n"
                                   "condure_bin=condure\n"
                                   "mongrel2_bin=mongrel2\n"
                                   "m2sh_bin=m2sh\n"
                                   "zurl_bin=zurl\n"
                                   "\n"
                                   "[proxy]\n"
                                   "routesfile=routes\n"
                                   "debug=false\n"
                                   "auto_cross_origin=false\n"
                                   "accept_x_forwarded_protocol=false\n"
                                   "set_x_forwarded_protocol=proto-only\n"
                                   "x_forwarded_for=\n"
                                   "x_forwarded_for_trusted=\n"
                                   "orig_headers_need_mark=\n"
                                   "accept_pushpin_route=false\n"
                                   "log_from=false\n"
                                   "log_user_agent=false\n"
                                   "sig_iss=pushpin\n"
                                   "sig_key=changeme\n"
                                   "upstream_key=\n"
                                   "sockjs_url=http://cdn.jsdelivr.net/sockjs/0.3.4/sockjs.min.js\n"
                                   "updates_check=off\n"
                                   "organization_name=\n"
                                   "\n"
                                   "[handler]\n"
                                   "#ipc_file_mode=777\n"
                                   "push_in_spec=tcp://127.0.0.1:5560\n"
                                   "push_in_sub_specs=tcp://127.0.0.1:5562\n"
                                   "push_in_sub_connect=false\n"
                                   "push_in_http_addr=127.0.0.1\n"
                                   "push_in_http_port=5561\n"
                                   "push_in_http_max_headers_size=10000\n"
                                   "push_in_http_max_body_size=1000000\n"
                                   "stats_spec=ipc://{rundir}/{ipc_prefix}stats\n"
                                   "command_spec=tcp://127.0.0.1:5563\n"
                                   "message_rate=2500\n"
                                   "message_hwm=25000\n"
                                   "#message_block_size=\n"
                                   "message_wait=5000\n"
                                   "id_cache_ttl=60\n"
                                   "connection_subscription_max=20\n"
                                   "subscription_linger=60\n"
                                   "stats_subscription_ttl=60\n"
                                   "stats_report_interval=10\n"
                                   "stats_format=tnetstring\n";

TEST_IMPL(config_pushpin_conf)
{
    tt_config_t *c = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    ASSERT_OK(tt_config_parse(pushpin_conf, strlen(pushpin_conf), "/etc/pushpin/pushpin.conf",
                              "/etc/pushpin", &c, &d));
    ASSERT_EQ(d.errors, 0);
    ASSERT_EQ(d.warnings, 0);
    ASSERT_EQ(d.text.len, 0);
    ASSERT_STR_EQ(c->path, "/etc/pushpin/pushpin.conf");
    ASSERT_STR_EQ(c->routesfile, joined("/etc/pushpin", "routes"));
    ASSERT_EQ(c->n_http_ports, 1);
    ASSERT_STR_EQ(c->http_ports[0].addr, "0.0.0.0");
    ASSERT_EQ(c->http_ports[0].port, 7999);
    ASSERT_EQ(c->set_x_forwarded_protocol, TT_XFP_PROTO_ONLY);
    ASSERT_EQ(c->x_forwarded_for.truncate, -1);
    ASSERT_NULL(c->upstream_key);
    ASSERT_STR_EQ(c->sig_key, "changeme");
    ASSERT_EQ(c->push_in_http_port, 5561);
    ASSERT_EQ(c->message_wait_ms, 5000);
    ASSERT_EQ(c->id_cache_ttl_ms, 60000);
    ASSERT_EQ(c->subscription_linger_ms, 60000);
    tt_config_free(c);
    tt_diag_free(&d);
    return 0;
}

/* Other Pushpin keys seen in the wild (upstream's example config, the
 * newer runner, internal.conf) load without a word too. */
TEST_IMPL(config_pushpin_other_keys)
{
    tt_config_t *c = parse_ok("[global]\n"
                              "libdir=/usr/lib/pushpin\n"
                              "stats_connection_send=true\n"
                              "[runner]\n"
                              "services=connmgr,proxy,handler\n"
                              "https_ports=443\n"
                              "local_ports={rundir}/{ipc_prefix}server\n"
                              "allow_compression=false\n"
                              "connmgr_bin=connmgr\n"
                              "[proxy]\n"
                              "set_x_forwarded_protocol=false\n"
                              "workers=2\n"
                              "max_open_requests=100\n"
                              "prometheus_port=127.0.0.1:1030\n"
                              "prometheus_prefix=pushpin_\n"
                              "cdn_loop=pushpin\n"
                              "condure_in_specs=ipc://{rundir}/{ipc_prefix}condure-out\n"
                              "zurl_out_specs=ipc:///var/run/zurl/zurl-in\n"
                              "handler_accept_spec=ipc://{rundir}/{ipc_prefix}accept\n"
                              "intreq_out_specs=ipc://{rundir}/{ipc_prefix}intreq-out\n"
                              "[handler]\n"
                              "ipc_file_mode=777\n"
                              "message_block_size=\n"
                              "update_on_first_subscription=true\n"
                              "share_all=false\n"
                              "prometheus_port=127.0.0.1:1031\n"
                              "proxy_inspect_spec=ipc://{rundir}/{ipc_prefix}inspect\n"
                              "proxy_intreq_in_specs=ipc://{rundir}/{ipc_prefix}intreq-out\n");
    ASSERT_EQ(c->set_x_forwarded_protocol, TT_XFP_NONE);
    ASSERT_STR_EQ(c->cdn_loop, "pushpin");
    tt_config_free(c);
    return 0;
}

/* An include is applied before the including file, which wins (as Pushpin's
 * Settings prefers the main file); its diagnostics name the included file. */
TEST_IMPL(config_include)
{
    char *dir = tt_test_tmpdir();
    ASSERT_NOT_NULL(dir);
    char *inc = tt_test_write_file(dir, "extra.conf",
                                   "[proxy]\n"
                                   "debug=true\n"
                                   "sig_iss=from-include\n"
                                   "bogus=1\n"
                                   "[runner]\n"
                                   "client_maxconn=10\n");
    ASSERT_NOT_NULL(inc);
    const char *text = "[runner]\nclient_maxconn=20\n[global]\ninclude=extra.conf\n"
                       "include={libdir}/internal.conf\n";
    tt_config_t *c = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    ASSERT_OK(tt_config_parse(text, strlen(text), "main.conf", dir, &c, &d));
    ASSERT(c->debug);
    ASSERT_STR_EQ(c->sig_iss, "from-include");
    ASSERT_EQ(c->client_maxconn, 20);
    char want[2048];
    snprintf(want, sizeof want, "%s:4: warning: unknown key 'bogus' in [proxy]\n",
             joined(dir, "extra.conf"));
    ASSERT_STR_EQ(d.text.data, want);
    tt_config_free(c);
    tt_diag_free(&d);

    /* Errors in the included file carry its name and fail the load. */
    free(tt_test_write_file(dir, "bad.conf", "[proxy]\ndebug=perhaps\n"));
    text = "[global]\ninclude=bad.conf\n";
    ASSERT_EQ(tt_config_parse(text, strlen(text), "main.conf", dir, &c, &d), TT_EPARSE);
    ASSERT_NULL(c);
    snprintf(want, sizeof want,
             "%s:2: error: invalid value for 'debug': 'perhaps' (expected true or false)\n",
             joined(dir, "bad.conf"));
    ASSERT_STR_EQ(d.text.data, want);
    tt_diag_free(&d);

    /* A file that includes itself stops at the nesting limit. */
    free(tt_test_write_file(dir, "loop.conf", "[global]\ninclude=loop.conf\n"));
    text = "[global]\ninclude=loop.conf\n";
    ASSERT_EQ(tt_config_parse(text, strlen(text), "main.conf", dir, &c, &d), TT_EPARSE);
    ASSERT_EQ(d.errors, 1);
    snprintf(want, sizeof want, "%s:2: error: includes nested too deeply (limit 8)\n",
             joined(dir, "loop.conf"));
    ASSERT_STR_EQ(d.text.data, want);
    tt_diag_free(&d);

    free(inc);
    ASSERT_OK(tt_test_rmtree(dir));
    free(dir);
    return 0;
}

TEST_IMPL(config_load)
{
    char *dir = tt_test_tmpdir();
    ASSERT_NOT_NULL(dir);
    char *path = tt_test_write_file(dir, "pushpin.conf", pushpin_conf);
    ASSERT_NOT_NULL(path);
    tt_config_t *c = NULL;
    tt_diag_t d = TT_DIAG_INIT;
    ASSERT_OK(tt_config_load(path, &c, &d));
    ASSERT_EQ(d.errors + d.warnings, 0);
    ASSERT_STR_EQ(c->path, path);
    ASSERT_STR_EQ(c->dir, dir);
    ASSERT_STR_EQ(c->routesfile, joined(dir, "routes"));
    tt_config_free(c);

    /* A missing file: "file: error: cannot open: why". */
    char *missing = tt_test_write_file(dir, "gone.conf", "");
    ASSERT_OK(remove(missing));
    ASSERT_EQ(tt_config_load(missing, &c, &d), TT_EPARSE);
    ASSERT_NULL(c);
    char want[2048];
    snprintf(want, sizeof want, "%s: error: cannot open: No such file or directory\n", missing);
    ASSERT_STR_EQ(d.text.data, want);
    tt_diag_free(&d);
    ASSERT_EQ(tt_config_load(missing, &c, NULL), TT_EPARSE);

    free(missing);
    free(path);
    ASSERT_OK(tt_test_rmtree(dir));
    free(dir);
    return 0;
}
