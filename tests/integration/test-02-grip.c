/* GRIP over real sockets: tt_origin answers with Grip-* headers (through its
 * /respond route), clients hold on channels, and the tests publish through
 * the control API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "grip.h"
#include "task.h"
#include "tether.h"

#define T_MS 10000

typedef struct gfx_s {
    tt_origin_t origin;
    tt_tether_t tether;
} gfx_t;

static void gfx_start(gfx_t *fx, const char *conf, const char *route_opts)
{
    memset(fx, 0, sizeof *fx);
    ASSERT_OK(tt_origin_start(&fx->origin));
    char routes[512];
    snprintf(routes, sizeof routes,
             "*%s 127.0.0.1:%d\n*,path_beg=/plain,no_grip 127.0.0.1:%d\n"
             "*,path_beg=/test 127.0.0.1:%d\n",
             route_opts ? route_opts : "", fx->origin.port, fx->origin.port, fx->origin.port);
    ASSERT_OK(tt_tether_start(&fx->tether, conf, routes, NULL));
}

static void gfx_stop(gfx_t *fx)
{
    ASSERT_EQ(tt_tether_stop(&fx->tether), 0);
    tt_origin_stop(&fx->origin);
}

/* Connect and send a GET for `path`. */
static tt_tc_t *open_get(gfx_t *fx, const char *path)
{
    tt_tc_t *c = tt_tc_connect(fx->tether.port, T_MS);
    ASSERT_NOT_NULL(c);
    char req[2048];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: example.com\r\n\r\n", path);
    ASSERT_OK(tt_tc_sends(c, req));
    return c;
}

/* Read until the buffered bytes contain `needle`; returns 1 if they do. */
static int wait_for(tt_tc_t *c, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        size_t len;
        const char *d = tt_tc_data(c, &len);
        if (d && strstr(d, needle))
            return 1;
        tt_tc_read_n(c, len + 1, 50);
    }
    return 0;
}

static void publish_ok(gfx_t *fx, const char *json)
{
    tt_resp_t r;
    ASSERT_EQ(tt_tether_publish(&fx->tether, json, &r), 200);
    ASSERT_STR_EQ(r.body, "Published\n");
    tt_resp_free(&r);
}

/* Wait until `n` subscribers hold on `channel` (from tether's debug log). */
static void wait_subscribed(gfx_t *fx, const char *channel, int n)
{
    char needle[128];
    snprintf(needle, sizeof needle, "channel=%s", channel);
    for (int waited = 0; waited <= T_MS; waited += 20) {
        char *log = tt_tether_log(&fx->tether);
        int count = 0;
        for (const char *p = log; p && (p = strstr(p, needle)) != NULL; p++)
            if (p > log + 10 && strncmp(p - 10, "subscribe ", 10) != 0)
                count++;
        int seen = 0;
        for (const char *p = log; p && (p = strstr(p, "subscribe ")) != NULL; p++) {
            const char *eol = strchr(p, '\n');
            const char *hit = strstr(p, needle);
            if (hit && (!eol || hit < eol))
                seen++;
        }
        free(log);
        (void)count;
        if (seen >= n)
            return;
        tt_test_sleep_ms(20);
    }
    TT_TEST_FAIL("%d subscribers on %s not seen", n, channel);
}

#define HOLD_RESPONSE(ch)                                                                          \
    "/respond?h=Grip-Hold:%20response&h=Grip-Channel:%20" ch                                      \
    "&h=Content-Type:%20text/plain&h=X-Origin-Header:%20kept&body=timeout%0A"
#define HOLD_STREAM(ch, extra)                                                                     \
    "/respond?h=Grip-Hold:%20stream&h=Grip-Channel:%20" ch                                        \
    "&h=Content-Type:%20text/event-stream" extra "&body=start%0A"

TEST_IMPL(hold_response_hold_publish)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *c = open_get(&fx, HOLD_RESPONSE("lp"));
    wait_subscribed(&fx, "lp", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"lp\",\"formats\":{\"http-response\":"
                    "{\"code\":201,\"headers\":{\"X-Pub\":\"yes\",\"Content-Type\":\"app/x\"},"
                    "\"body\":\"hello\\n\"}}}]}");
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 201);
    ASSERT_STR_EQ(r.body, "hello\n");
    char v[64];
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Pub", v, sizeof v), "yes");
    /* Published headers override the timeout response's; the rest are kept. */
    ASSERT_STR_EQ(tt_resp_header(&r, "Content-Type", v, sizeof v), "app/x");
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Origin-Header", v, sizeof v), "kept");
    ASSERT_EQ(tt_resp_header_count(&r, "Grip-Hold"), 0);
    ASSERT_EQ(tt_resp_header_count(&r, "Grip-Channel"), 0);
    tt_resp_free(&r);
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_response_timeout)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    /* Grip-Timeout under 5 is raised to 5 (Pushpin's floor). */
    tt_tc_t *c = open_get(&fx, "/respond?h=Grip-Hold:%20response&h=Grip-Channel:%20t1"
                               "&h=Grip-Timeout:%201&h=X-Origin-Header:%20kept&status=202"
                               "&body=nothing%20yet");
    wait_subscribed(&fx, "t1", 1);
    uint64_t t0 = uv_hrtime();
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_GE(ms, 4000);
    ASSERT_EQ(r.status, 202);
    ASSERT_STR_EQ(r.body, "nothing yet");
    char v[64];
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Origin-Header", v, sizeof v), "kept");
    ASSERT_EQ(tt_resp_header_count(&r, "Grip-Timeout"), 0);
    tt_resp_free(&r);
    /* The connection is reusable after a held response. */
    ASSERT_OK(tt_tc_sends(c, "GET /respond?body=again HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "again");
    tt_resp_free(&r);
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_stream_hold)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *c = open_get(&fx, HOLD_STREAM("s1", ""));
    ASSERT(wait_for(c, "start\n", T_MS));
    size_t len;
    const char *d = tt_tc_data(c, &len);
    ASSERT_CONTAINS(d, "HTTP/1.1 200 OK\r\n");
    ASSERT_CONTAINS(d, "Transfer-Encoding: chunked\r\n");
    ASSERT_CONTAINS(d, "Content-Type: text/event-stream\r\n");
    ASSERT_NOT_CONTAINS(d, "Grip-");
    ASSERT_NOT_CONTAINS(d, "Content-Length");
    wait_subscribed(&fx, "s1", 1);
    for (int i = 1; i <= 3; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"items\":[{\"channel\":\"s1\",\"formats\":{\"http-stream\":"
                 "{\"content\":\"data: m%d\\n\\n\"}}}]}",
                 i);
        publish_ok(&fx, json);
    }
    ASSERT(wait_for(c, "data: m3\n\n", T_MS));
    d = tt_tc_data(c, &len);
    const char *m1 = strstr(d, "data: m1"), *m2 = strstr(d, "data: m2"), *m3 = strstr(d, "data: m3");
    ASSERT(m1 && m2 && m3 && m1 < m2 && m2 < m3);
    /* Each message went out as one chunk: "a\r\ndata: m1\n\n\r\n". */
    ASSERT_CONTAINS(d, "a\r\ndata: m1\n\n\r\n");
    /* close ends the response cleanly with the last chunk. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"s1\",\"formats\":{\"http-stream\":"
                    "{\"action\":\"close\"}}}]}");
    ASSERT(wait_for(c, "\r\n0\r\n\r\n", T_MS));
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_many_subscribers)
{
    enum { N = 50 };
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *cs[N];
    for (int i = 0; i < N; i++)
        cs[i] = open_get(&fx, HOLD_STREAM("many", ""));
    /* One more client on several channels at once. */
    tt_tc_t *multi = open_get(&fx, "/respond?h=Grip-Hold:%20stream"
                                   "&h=Grip-Channel:%20a,%20b&h=Grip-Channel:%20c&body=x");
    wait_subscribed(&fx, "many", N);
    wait_subscribed(&fx, "c", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"many\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"to all\\n\"}}},"
                    "{\"channel\":\"a\",\"formats\":{\"http-stream\":{\"content\":\"on a\\n\"}}},"
                    "{\"channel\":\"b\",\"formats\":{\"http-stream\":{\"content\":\"on b\\n\"}}},"
                    "{\"channel\":\"c\",\"formats\":{\"http-stream\":{\"content\":\"on c\\n\"}}}"
                    "]}");
    for (int i = 0; i < N; i++) {
        ASSERT(wait_for(cs[i], "to all\n", T_MS));
        tt_tc_close(cs[i]);
    }
    ASSERT(wait_for(multi, "on c\n", T_MS));
    const char *d = tt_tc_data(multi, NULL);
    ASSERT_CONTAINS(d, "on a\n");
    ASSERT_CONTAINS(d, "on b\n");
    ASSERT(strstr(d, "on a") < strstr(d, "on b"));
    tt_tc_close(multi);
    /* The receiver count is reported on request (Tether's extension). */
    tt_resp_t r;
    char req[512];
    const char *json = "{\"items\":[{\"channel\":\"nobody\",\"formats\":{\"http-stream\":"
                       "{\"content\":\"x\"}}}]}";
    snprintf(req, sizeof req,
             "POST /publish?receivers=1 HTTP/1.1\r\nHost: h\r\nAccept: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(json), json);
    ASSERT_OK(tt_http_request(fx.tether.control_port, req, &r, T_MS));
    ASSERT_STR_EQ(r.body,
                  "{\"message\":\"Published\",\"items\":[{\"channel\":\"nobody\",\"receivers\":0}]}"
                  "\n");
    tt_resp_free(&r);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_keep_alive)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *c = open_get(&fx, HOLD_STREAM("ka", "&h=Grip-Keep-Alive:%20:ping%5Cn%5Cn;%20"
                                                 "format=cstring;%20timeout=1"));
    ASSERT(wait_for(c, "start\n", T_MS));
    uint64_t t0 = uv_hrtime();
    ASSERT(wait_for(c, ":ping\n\n", 5000));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_GE(ms, 500);
    tt_tc_consume(c, 1 << 20);
    /* Idle mode: a publish restarts the wait, then keep-alives continue. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"ka\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"real\\n\"}}}]}");
    ASSERT(wait_for(c, "real\n", T_MS));
    ASSERT(wait_for(c, ":ping\n\n", 5000));
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_sig)
{
    gfx_t fx;
    gfx_start(&fx, "[proxy]\nsig_iss=tester\nsig_key=base64:c2VjcmV0\nupstream_key=up\n", NULL);
    tt_resp_t r;
    ASSERT_OK(tt_http_request(fx.tether.port,
                              "GET /echo HTTP/1.1\r\nHost: h\r\nGrip-Hold: stream\r\n\r\n", &r,
                              T_MS));
    ASSERT_EQ(r.status, 200);
    const char *sig = strstr(r.body, "\r\nGrip-Sig: ");
    ASSERT_NOT_NULL(sig);
    sig += 12;
    size_t sig_len = strcspn(sig, "\r");
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    ASSERT(tt_grip_sig_check(sig, sig_len, (const unsigned char *)"secret", 6, tv.tv_sec));
    ASSERT(!tt_grip_sig_check(sig, sig_len, (const unsigned char *)"changeme", 8, tv.tv_sec));
    ASSERT_CONTAINS(r.body, "\r\nGrip-Feature: ");
    /* An untrusted client cannot speak GRIP to the backend. */
    ASSERT_NOT_CONTAINS(r.body, "Grip-Hold");
    tt_resp_free(&r);
    /* no_grip routes are plain: nothing signed. */
    ASSERT_OK(tt_http_request(fx.tether.port, "GET /plain/echo HTTP/1.1\r\nHost: h\r\n\r\n", &r,
                              T_MS));
    ASSERT_NOT_CONTAINS(r.body, "Grip-Sig");
    tt_resp_free(&r);
    /* A client with a Grip-Sig valid under upstream_key is a trusted GRIP
     * proxy: its Grip-* headers pass. */
    char *token = tt_grip_sig_make((const unsigned char *)"up", 2, "front", tv.tv_sec);
    char req[1024];
    snprintf(req, sizeof req,
             "GET /echo HTTP/1.1\r\nHost: h\r\nGrip-Sig: %s\r\nGrip-Last: x; last-id=7\r\n\r\n",
             token);
    ASSERT_OK(tt_http_request(fx.tether.port, req, &r, T_MS));
    ASSERT_CONTAINS(r.body, "Grip-Last: x; last-id=7");
    ASSERT_CONTAINS(r.body, token);
    tt_resp_free(&r);
    /* The same with a token signed by another key: stripped. */
    char *bad = tt_grip_sig_make((const unsigned char *)"nope", 4, "front", tv.tv_sec);
    snprintf(req, sizeof req,
             "GET /echo HTTP/1.1\r\nHost: h\r\nGrip-Sig: %s\r\nGrip-Last: x; last-id=7\r\n\r\n",
             bad);
    ASSERT_OK(tt_http_request(fx.tether.port, req, &r, T_MS));
    ASSERT_NOT_CONTAINS(r.body, "Grip-Last");
    ASSERT_NOT_CONTAINS(r.body, bad);
    tt_resp_free(&r);
    free(token);
    free(bad);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_bad_instructions)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_resp_t r;
    ASSERT_OK(tt_http_request(fx.tether.port,
                              "GET /respond?h=Grip-Hold:%20forever&h=Grip-Channel:%20x "
                              "HTTP/1.1\r\nHost: h\r\n\r\n",
                              &r, T_MS));
    ASSERT_EQ(r.status, 502);
    ASSERT_STR_EQ(r.body, "Error while proxying to origin.\n");
    tt_resp_free(&r);
    gfx_stop(&fx);
    /* With debug, the body says why. */
    gfx_start(&fx, NULL, ",debug");
    ASSERT_OK(tt_http_request(fx.tether.port,
                              "GET /respond?h=Grip-Hold:%20forever&h=Grip-Channel:%20x "
                              "HTTP/1.1\r\nHost: h\r\n\r\n",
                              &r, T_MS));
    ASSERT_EQ(r.status, 502);
    ASSERT_CONTAINS(r.body, "Error while proxying to origin.\n");
    ASSERT_CONTAINS(r.body, "Grip-Hold");
    tt_resp_free(&r);
    /* GRIP headers without a hold: passed through minus Grip-*, with Grip-Status. */
    ASSERT_OK(tt_http_request(fx.tether.port,
                              "GET /respond?h=Grip-Status:%20299%20Fine&h=X-A:%201&body=b "
                              "HTTP/1.1\r\nHost: h\r\n\r\n",
                              &r, T_MS));
    ASSERT_EQ(r.status, 299);
    ASSERT_CONTAINS(r.head, "299 Fine");
    ASSERT_EQ(tt_resp_header_count(&r, "Grip-Status"), 0);
    ASSERT_STR_EQ(r.body, "b");
    tt_resp_free(&r);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_json_instruct)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    /* {"hold":{"mode":"response","channels":[{"name":"js"}]},
     *  "response":{"code":200,"headers":{"X-J":"1"},"body":"none\n"}} */
    tt_tc_t *c = open_get(&fx, "/respond?h=Content-Type:%20application/grip-instruct&body="
                               "%7B%22hold%22%3A%7B%22mode%22%3A%22response%22%2C%22channels%22"
                               "%3A%5B%7B%22name%22%3A%22js%22%7D%5D%7D%2C%22response%22%3A%7B"
                               "%22code%22%3A200%2C%22headers%22%3A%7B%22X-J%22%3A%221%22%7D%2C"
                               "%22body%22%3A%22none%5Cn%22%7D%7D");
    wait_subscribed(&fx, "js", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"js\",\"formats\":{\"http-response\":"
                    "{\"body\":\"json hold answered\\n\"}}}]}");
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "json hold answered\n");
    char v[16];
    ASSERT_STR_EQ(tt_resp_header(&r, "X-J", v, sizeof v), "1");
    tt_resp_free(&r);
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

/* A stream with prev-id and a next link: a publish whose prev-id does not
 * follow makes Tether GET the link with Grip-Last and append its body. */
TEST_IMPL(hold_next_link_recovery)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    /* The link is the same URL: with Grip-Last it answers the missed items
     * and keeps the stream held on the channel. */
    tt_tc_t *c = open_get(
        &fx, "/respond?h=Grip-Hold:%20stream&h=Grip-Channel:%20rec;%20prev-id=1"
             "&h=Grip-Link:%20%3C/respond%3Frec%3D1%26lh%3DGrip-Hold:%2520stream%26lh%3D"
             "Grip-Channel:%2520rec%26lb%3Dmissed%250A%3E;%20rel=next&body=first%0A");
    ASSERT(wait_for(c, "first\n", T_MS));
    wait_subscribed(&fx, "rec", 1);
    /* In order: delivered. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"rec\",\"id\":\"2\",\"prev-id\":\"1\","
                    "\"formats\":{\"http-stream\":{\"content\":\"two\\n\"}}}]}");
    ASSERT(wait_for(c, "two\n", T_MS));
    /* A gap (prev-id 3, last 2): recovery through the link. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"rec\",\"id\":\"4\",\"prev-id\":\"3\","
                    "\"no-seq\":false,\"formats\":{\"http-stream\":{\"content\":\"four\\n\"}}}]}");
    ASSERT(wait_for(c, "missed\n", T_MS));
    ASSERT_NOT_CONTAINS(tt_tc_data(c, NULL), "four");
    ASSERT(tt_tether_wait_log(&fx.tether, "subscribe", T_MS));
    /* Still held after the recovery. */
    wait_subscribed(&fx, "rec", 2);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"rec\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"after\\n\"}}}]}");
    ASSERT(wait_for(c, "after\n", T_MS));
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

/* hint: the held long-poll is retried against the backend, which now has
 * the answer (it sees Grip-Last for the channel's prev-id). */
TEST_IMPL(hold_hint_retry)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *c = open_get(&fx, "/respond?h=Grip-Hold:%20response&h=Grip-Channel:%20hn;%20prev-id=5"
                               "&body=timeout&lb=fresh%20data&lh=X-Retried:%20yes");
    wait_subscribed(&fx, "hn", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"hn\",\"formats\":{\"http-response\":"
                    "{\"action\":\"hint\"}}}]}");
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "fresh data");
    char v[64];
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Retried", v, sizeof v), "yes");
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Grip-Last", v, sizeof v), "hn; last-id=5");
    tt_resp_free(&r);
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

/* A long-poll whose prev-id is behind the channel's last id retries at once. */
TEST_IMPL(hold_prev_id_behind)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *holder = open_get(&fx, HOLD_STREAM("pv", ""));
    wait_subscribed(&fx, "pv", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"pv\",\"id\":\"9\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"x\"}}}]}");
    ASSERT(wait_for(holder, "x\r\n", T_MS));
    tt_tc_t *c = open_get(&fx, "/respond?h=Grip-Hold:%20response&h=Grip-Channel:%20pv;%20prev-id=7"
                               "&body=timeout&lb=caught%20up");
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "caught up");
    char v[64];
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Grip-Last", v, sizeof v), "pv; last-id=7");
    tt_resp_free(&r);
    tt_tc_close(c);
    tt_tc_close(holder);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_sequencing)
{
    gfx_t fx;
    gfx_start(&fx, "[handler]\nmessage_wait=3000\nid_cache_ttl=60\n", NULL);
    tt_tc_t *c = open_get(&fx, HOLD_STREAM("sq", ""));
    wait_subscribed(&fx, "sq", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"sq\",\"id\":\"1\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"<1>\"}}}]}");
    /* 3 arrives before 2: it waits for its predecessor. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"sq\",\"id\":\"3\",\"prev-id\":\"2\","
                    "\"formats\":{\"http-stream\":{\"content\":\"<3>\"}}}]}");
    publish_ok(&fx, "{\"items\":[{\"channel\":\"sq\",\"id\":\"2\",\"prev-id\":\"1\","
                    "\"formats\":{\"http-stream\":{\"content\":\"<2>\"}}}]}");
    ASSERT(wait_for(c, "<3>", T_MS));
    const char *d = tt_tc_data(c, NULL);
    ASSERT(strstr(d, "<1>") < strstr(d, "<2>") && strstr(d, "<2>") < strstr(d, "<3>"));
    /* The same id again within id_cache_ttl is dropped. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"sq\",\"id\":\"2\",\"prev-id\":\"1\","
                    "\"formats\":{\"http-stream\":{\"content\":\"<dup>\"}}}]}");
    publish_ok(&fx, "{\"items\":[{\"channel\":\"sq\",\"id\":\"4\",\"prev-id\":\"3\","
                    "\"formats\":{\"http-stream\":{\"content\":\"<4>\"}}}]}");
    ASSERT(wait_for(c, "<4>", T_MS));
    ASSERT_NOT_CONTAINS(tt_tc_data(c, NULL), "<dup>");
    /* no-seq skips both. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"sq\",\"id\":\"4\",\"no-seq\":true,"
                    "\"formats\":{\"http-stream\":{\"content\":\"<again>\"}}}]}");
    ASSERT(wait_for(c, "<again>", T_MS));
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_subscription_limit)
{
    gfx_t fx;
    gfx_start(&fx, "[handler]\nconnection_subscription_max=2\n", NULL);
    tt_tc_t *c = open_get(&fx, "/respond?h=Grip-Hold:%20stream&h=Grip-Channel:%20l1,%20l2,%20l3"
                               "&body=x");
    wait_subscribed(&fx, "l2", 1);
    ASSERT(tt_tether_wait_log(&fx.tether, "connection_subscription_max is 2", T_MS));
    publish_ok(&fx, "{\"items\":[{\"channel\":\"l3\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"<l3>\"}}},{\"channel\":\"l2\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"<l2>\"}}}]}");
    ASSERT(wait_for(c, "<l2>", T_MS));
    ASSERT_NOT_CONTAINS(tt_tc_data(c, NULL), "<l3>");
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_slow_subscriber)
{
    gfx_t fx;
    gfx_start(&fx, "[tether]\nsubscriber_queue_max=65536\n", NULL);
    tt_tc_t *slow = open_get(&fx, HOLD_STREAM("big", ""));
    tt_tc_t *fast = open_get(&fx, HOLD_STREAM("big", ""));
    wait_subscribed(&fx, "big", 2);
    /* 64 KiB items; the slow client never reads, the fast one does. */
    char *json = malloc(70000);
    int n = snprintf(json, 70000, "{\"items\":[{\"channel\":\"big\",\"formats\":{\"http-stream\":"
                                  "{\"content\":\"");
    memset(json + n, 'z', 65536);
    strcpy(json + n + 65536, "\"}}}]}");
    int cut = 0;
    for (int i = 0; i < 200 && !cut; i++) {
        publish_ok(&fx, json);
        tt_tc_read_n(fast, 1, 1);
        tt_tc_consume(fast, 1 << 30);
        char *log = tt_tether_log(&fx.tether);
        cut = strstr(log, "slow subscriber") != NULL;
        free(log);
    }
    free(json);
    ASSERT(cut);
    /* The slow one is cut off; the fast one still gets messages. */
    ASSERT(tt_tc_wait_eof(slow, T_MS));
    publish_ok(&fx, "{\"items\":[{\"channel\":\"big\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"still here\"}}}]}");
    ASSERT(wait_for(fast, "still here", T_MS));
    tt_tc_close(slow);
    tt_tc_close(fast);
    gfx_stop(&fx);
    return 0;
}

TEST_IMPL(hold_test_target)
{
    tt_tether_t t;
    ASSERT_OK(tt_tether_start(&t, NULL, "* test\n", NULL));
    tt_tc_t *s = tt_tc_connect(t.port, T_MS);
    ASSERT_OK(tt_tc_sends(s, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n"));
    tt_tc_t *l = tt_tc_connect(t.port, T_MS);
    ASSERT_OK(tt_tc_sends(l, "GET /response HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT(tt_tether_wait_log(&t, "subscribe /response channel=test", T_MS));
    ASSERT(tt_tether_wait_log(&t, "subscribe /stream channel=test", T_MS));
    tt_resp_t r;
    ASSERT_EQ(tt_tether_publish(&t, "{\"items\":[{\"channel\":\"test\",\"formats\":{"
                                    "\"http-stream\":{\"content\":\"hello\\n\"},"
                                    "\"http-response\":{\"body\":\"hello\\n\"}}}]}",
                                &r),
              200);
    tt_resp_free(&r);
    ASSERT(wait_for(s, "hello\n", T_MS));
    ASSERT_OK(tt_tc_read_response(l, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "hello\n");
    tt_resp_free(&r);
    tt_tc_close(s);
    tt_tc_close(l);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    return 0;
}

/* rel=gone: when a held client leaves, the backend gets a POST. */
TEST_IMPL(hold_gone_link)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *c = open_get(&fx, HOLD_STREAM("gn", "&h=Grip-Link:%20%3C/status/204%3E;%20rel=gone"));
    ASSERT(wait_for(c, "start\n", T_MS));
    wait_subscribed(&fx, "gn", 1);
    tt_tc_close(c);
    ASSERT(tt_tether_wait_log(&fx.tether, "gone link answered 204", T_MS));
    gfx_stop(&fx);
    return 0;
}

/* Grip-Expose-Headers: only the listed headers reach the client. */
TEST_IMPL(hold_expose_headers)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *c = open_get(&fx, HOLD_STREAM("ex", "&h=Grip-Expose-Headers:%20X-Shown&h=X-Shown:%201"
                                                 "&h=X-Hidden:%202"));
    ASSERT(wait_for(c, "start\n", T_MS));
    ASSERT_CONTAINS(tt_tc_data(c, NULL), "X-Shown: 1");
    ASSERT_NOT_CONTAINS(tt_tc_data(c, NULL), "X-Hidden");
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

/* No Grip-Hold but a next link: one response made of the chained pages. */
TEST_IMPL(hold_link_paging)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_resp_t r;
    ASSERT_OK(tt_http_request(
        fx.tether.port,
        "GET /respond?h=Grip-Link:%20%3C/respond%3Fh%3DGrip-Link:%2520%253C/respond%253Fbody%253D"
        "page3%253E%253B%2520rel%253Dnext%26body%3Dpage2-%3E;%20rel=next&body=page1- HTTP/1.1\r\n"
        "Host: h\r\n\r\n",
        &r, T_MS));
    ASSERT_EQ(r.status, 200);
    ASSERT(r.chunked);
    ASSERT_STR_EQ(r.body, "page1-page2-page3");
    tt_resp_free(&r);
    gfx_stop(&fx);
    return 0;
}

/* A hint on a stream fetches the next link and appends what it returns. */
TEST_IMPL(hold_stream_hint)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *c = open_get(
        &fx, "/respond?h=Grip-Hold:%20stream&h=Grip-Channel:%20sh"
             "&h=Grip-Link:%20%3C/respond%3Fh%3DGrip-Hold:%2520stream%26h%3DGrip-Channel:%2520sh"
             "%26body%3Dfetched%250A%3E;%20rel=next&body=start%0A");
    ASSERT(wait_for(c, "start\n", T_MS));
    wait_subscribed(&fx, "sh", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"sh\",\"formats\":{\"http-stream\":"
                    "{\"action\":\"hint\"}}}]}");
    ASSERT(wait_for(c, "fetched\n", T_MS));
    wait_subscribed(&fx, "sh", 2);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"sh\",\"formats\":{\"http-stream\":"
                    "{\"content\":\"live\\n\"}}}]}");
    ASSERT(wait_for(c, "live\n", T_MS));
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}

/* Channel filters read the subscription's meta (Grip-Set-Meta) and the
 * item's meta: skip-self, skip-users, require-sub, var-subst. */
TEST_IMPL(hold_filters)
{
    gfx_t fx;
    gfx_start(&fx, NULL, NULL);
    tt_tc_t *c = open_get(&fx, "/respond?h=Grip-Hold:%20stream&h=Grip-Set-Meta:%20user=alice"
                               "&h=Grip-Channel:%20fl;%20filter=skip-self;%20filter=skip-users;"
                               "%20filter=require-sub;%20filter=var-subst,%20other&body=x");
    wait_subscribed(&fx, "fl", 1);
    publish_ok(&fx, "{\"items\":["
                    "{\"channel\":\"fl\",\"meta\":{\"sender\":\"alice\"},"
                    "\"formats\":{\"http-stream\":{\"content\":\"<self>\"}}},"
                    "{\"channel\":\"fl\",\"meta\":{\"skip_users\":\"bob, alice\"},"
                    "\"formats\":{\"http-stream\":{\"content\":\"<skipped>\"}}},"
                    "{\"channel\":\"fl\",\"meta\":{\"require_sub\":\"elsewhere\"},"
                    "\"formats\":{\"http-stream\":{\"content\":\"<notsub>\"}}},"
                    "{\"channel\":\"fl\",\"meta\":{\"require_sub\":\"other\",\"sender\":\"bob\"},"
                    "\"formats\":{\"http-stream\":{\"content\":\"<hi %(user)s, 100%%>\"}}}]}");
    ASSERT(wait_for(c, "<hi alice, 100%>", T_MS));
    const char *d = tt_tc_data(c, NULL);
    ASSERT_NOT_CONTAINS(d, "<self>");
    ASSERT_NOT_CONTAINS(d, "<skipped>");
    ASSERT_NOT_CONTAINS(d, "<notsub>");
    tt_tc_close(c);
    gfx_stop(&fx);
    return 0;
}
