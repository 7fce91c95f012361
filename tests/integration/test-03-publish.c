/* The publish (control) API as Pushpin answers it, Tether's additions
 * (auth, receiver counts), and the `tether publish` command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "tether.h"

#define T_MS 10000

static int control(const tt_tether_t *t, const char *method, const char *path,
                   const char *extra_headers, const char *body, tt_resp_t *r)
{
    char req[4096];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: h\r\n%sContent-Length: %zu\r\n\r\n%s",
             method, path, extra_headers ? extra_headers : "", body ? strlen(body) : 0,
             body ? body : "");
    return tt_http_request(t->control_port, req, r, T_MS);
}

TEST_IMPL(publish_api_answers)
{
    tt_tether_t t;
    ASSERT_OK(tt_tether_start(&t, NULL, "* test\n", NULL));
    tt_resp_t r;
    ASSERT_OK(control(&t, "GET", "/", NULL, NULL, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "Pushpin API\n");
    tt_resp_free(&r);
    const char *ok = "{\"items\":[{\"channel\":\"c\",\"formats\":{\"http-stream\":{\"content\":\"x\"}}}]}";
    ASSERT_OK(control(&t, "POST", "/publish", NULL, ok, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "Published\n");
    tt_resp_free(&r);
    ASSERT_OK(control(&t, "POST", "/publish/", "Accept: application/json\r\n", ok, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "{\"message\":\"Published\"}\n");
    tt_resp_free(&r);
    /* Pushpin's Accept rule: the last usable media range wins, q ignored. */
    ASSERT_OK(control(&t, "POST", "/publish/", "Accept: application/json, text/plain\r\n", ok,
                      &r));
    ASSERT_STR_EQ(r.body, "Published\n");
    tt_resp_free(&r);
    ASSERT_OK(control(&t, "POST", "/publish/", "Accept: image/png\r\n", ok, &r));
    ASSERT_EQ(r.status, 406);
    ASSERT_STR_EQ(r.body, "Not Acceptable. Supported formats are text/plain and application/json.\n");
    tt_resp_free(&r);
    ASSERT_OK(control(&t, "GET", "/publish/", NULL, NULL, &r));
    ASSERT_EQ(r.status, 405);
    ASSERT_STR_EQ(r.body, "Method not allowed: GET.\n");
    char v[64];
    ASSERT_STR_EQ(tt_resp_header(&r, "Allow", v, sizeof v), "POST");
    tt_resp_free(&r);
    ASSERT_OK(control(&t, "POST", "/nothing", NULL, ok, &r));
    ASSERT_EQ(r.status, 404);
    ASSERT_STR_EQ(r.body, "Not Found\n");
    tt_resp_free(&r);
    ASSERT_OK(tt_http_request(t.control_port,
                              "POST /publish/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
                              "\r\n\r\n0\r\n\r\n",
                              &r, T_MS));
    ASSERT_EQ(r.status, 411);
    ASSERT_STR_EQ(r.body, "Request requires Content-Length.\n");
    tt_resp_free(&r);
    ASSERT_OK(control(&t, "POST", "/recover", NULL, "", &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "Updated\n");
    tt_resp_free(&r);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    return 0;
}

TEST_IMPL(publish_api_errors)
{
    static const struct {
        const char *body;
        const char *answer;
    } cases[] = {
        {"not json", "Body is not valid JSON.\n"},
        {"{\"foo\":1}", "Invalid format: object does not contain 'items'\n"},
        {"{\"items\":[{\"formats\":{}}]}",
         "Invalid format: publish item object does not contain 'channel'\n"},
        {"{\"items\":[{\"channel\":\"c\"}]}", "Invalid format: no formats specified\n"},
        {"[]", "Invalid format.\n"},
        {"", "Body is not valid JSON.\n"},
    };
    tt_tether_t t;
    ASSERT_OK(tt_tether_start(&t, "[handler]\npush_in_http_max_body_size=2000\n", "* test\n",
                              NULL));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tt_resp_t r;
        ASSERT_OK(control(&t, "POST", "/publish/", NULL, cases[i].body, &r));
        ASSERT_EQ(r.status, 400);
        ASSERT(strncmp(r.body, cases[i].answer, strlen(cases[i].answer)) == 0);
        tt_resp_free(&r);
    }
    /* Over push_in_http_max_body_size: Pushpin's 400 and text. */
    char big[3000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tt_resp_t r;
    ASSERT_OK(control(&t, "POST", "/publish/", NULL, big, &r));
    ASSERT_EQ(r.status, 400);
    ASSERT_STR_EQ(r.body, "Request body too large.\n");
    tt_resp_free(&r);
    /* And over push_in_http_max_headers_size. */
    char head[12000];
    memset(head, 'h', sizeof head - 1);
    head[sizeof head - 1] = '\0';
    char req[13000];
    snprintf(req, sizeof req, "POST /publish/ HTTP/1.1\r\nX-Big: %s\r\nContent-Length: 0\r\n\r\n",
             head);
    ASSERT_OK(tt_http_request(t.control_port, req, &r, T_MS));
    ASSERT_EQ(r.status, 400);
    ASSERT_STR_EQ(r.body, "Request header too large.\n");
    tt_resp_free(&r);
    /* Still serving. */
    ASSERT_OK(control(&t, "POST", "/publish/", NULL, "{\"items\":[]}", &r));
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    ASSERT(tt_tether_wait_log(&t, "publish rejected: Body is not valid JSON.", T_MS));
    ASSERT_EQ(tt_tether_stop(&t), 0);
    return 0;
}

TEST_IMPL(publish_api_auth)
{
    tt_tether_t t;
    ASSERT_OK(tt_tether_start(&t, "[tether]\npublish_auth=bearer:s3cret\n", "* test\n", NULL));
    const char *ok = "{\"items\":[]}";
    tt_resp_t r;
    ASSERT_OK(control(&t, "POST", "/publish/", NULL, ok, &r));
    ASSERT_EQ(r.status, 401);
    tt_resp_free(&r);
    ASSERT_OK(control(&t, "POST", "/publish/", "Authorization: Bearer wrong\r\n", ok, &r));
    ASSERT_EQ(r.status, 401);
    tt_resp_free(&r);
    ASSERT_OK(control(&t, "POST", "/publish/", "Authorization: Bearer s3cret\r\n", ok, &r));
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    return 0;
}

/* `tether publish` reaches a stream and a long-poll, with pushpin-publish's options. */
TEST_IMPL(publish_cli)
{
    tt_tether_t t;
    ASSERT_OK(tt_tether_start(&t, NULL, "* test\n", NULL));
    tt_tc_t *s = tt_tc_connect(t.port, T_MS);
    ASSERT_OK(tt_tc_sends(s, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n"));
    tt_tc_t *l = tt_tc_connect(t.port, T_MS);
    ASSERT_OK(tt_tc_sends(l, "GET /response HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT(tt_tether_wait_log(&t, "subscribe /response channel=test", T_MS));
    ASSERT(tt_tether_wait_log(&t, "subscribe /stream channel=test", T_MS));
    char spec[64];
    snprintf(spec, sizeof spec, "http://127.0.0.1:%d", t.control_port);
    char *out;
    const char *args[] = {"publish", "--spec", spec, "--code", "202", "-H", "X-Cli: 1",
                          "test",    "hello",  NULL};
    ASSERT_EQ(tt_tether_cli(args, &out), 0);
    ASSERT_CONTAINS(out, "Published");
    free(out);
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(l, &r, T_MS, 0));
    ASSERT_EQ(r.status, 202);
    ASSERT_STR_EQ(r.body, "hello\n");
    char v[16];
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Cli", v, sizeof v), "1");
    tt_resp_free(&r);
    for (int i = 0; i < 100; i++) {
        size_t have = 0;
        const char *d = tt_tc_data(s, &have);
        if (d && strstr(d, "hello\n"))
            break;
        tt_tc_read_n(s, have + 1, 50);
    }
    ASSERT_CONTAINS(tt_tc_data(s, NULL), "6\r\nhello\n\r\n");
    const char *close_args[] = {"publish", "--spec", spec, "--close", "test", NULL};
    ASSERT_EQ(tt_tether_cli(close_args, &out), 0);
    free(out);
    ASSERT(tt_tc_wait_eof(s, T_MS) || strstr(tt_tc_data(s, NULL), "\r\n0\r\n\r\n"));
    /* Errors: nothing listening, bad usage. */
    const char *dead[] = {"publish", "--spec", "http://127.0.0.1:1", "test", "x", NULL};
    ASSERT_EQ(tt_tether_cli(dead, &out), 1);
    ASSERT_CONTAINS(out, "refused");
    free(out);
    const char *usage[] = {"publish", NULL};
    ASSERT_EQ(tt_tether_cli(usage, &out), 2);
    ASSERT_CONTAINS(out, "missing CHANNEL");
    free(out);
    tt_tc_close(s);
    tt_tc_close(l);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    return 0;
}
