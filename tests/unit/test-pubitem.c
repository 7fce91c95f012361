/* Table tests for the publish request parser (src/pubitem.c): every field of
 * an item and of each format, both the `formats` and the legacy form, each
 * action, base64, Qt's int conversions, and every error text. The expected
 * texts are what Pushpin 1.36 answered (tests/fixtures/pushpin-publish-answers.md).
 *
 * JSON in the tables is written with ' for " to stay readable; J() swaps them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "pubitem.h"
#include "task.h"

/* The JSON text `s` with every ' turned into ". Static buffer: one at a time. */
static const char *J(const char *s)
{
    static char buf[4096];
    size_t i;

    ASSERT_LT(strlen(s), sizeof buf);
    for (i = 0; s[i]; i++)
        buf[i] = s[i] == '\'' ? '"' : s[i];
    buf[i] = '\0';
    return buf;
}

static tt_pub_batch_t *parse_ok(const char *json)
{
    char err[TT_PUBITEM_ERR_LEN];
    tt_pub_batch_t *b = NULL;
    const char *text = J(json);

    if (tt_pubitem_parse(text, strlen(text), &b, err, sizeof err) != 0 || !b)
        TT_TEST_FAIL("parse of %s failed: %s", text, err);
    return b;
}

/* The one item of a body that must parse. Free with tt_pubitem_free(*b). */
static const tt_pub_item_t *one_item(const char *json, tt_pub_batch_t **b)
{
    *b = parse_ok(json);
    ASSERT_EQ((*b)->n, 1);
    return &(*b)->items[0];
}

/* Parse len bytes that must fail with exactly `want`. */
static void expect_err_n(const char *json, size_t len, const char *want)
{
    char err[TT_PUBITEM_ERR_LEN];
    static tt_pub_batch_t dummy;
    tt_pub_batch_t *b = &dummy; /* must come back NULL */
    int rc = tt_pubitem_parse(json, len, &b, err, sizeof err);

    if (rc != TT_EPARSE || b != NULL || strcmp(err, want) != 0)
        TT_TEST_FAIL("%.*s: rc %d, err \"%s\", want \"%s\"", (int)len, json, rc, err, want);
}

static void expect_err(const char *json, const char *want)
{
    const char *text = J(json);

    expect_err_n(text, strlen(text), want);
}

typedef struct err_case_s {
    const char *json;
    const char *err;
} err_case_t;

static void run_err_table(const err_case_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_err(t[i].json, t[i].err);
}

#define NOT_JSON "Body is not valid JSON."
#define IF "Invalid format: "
#define ITEM_WT(k) IF "publish item object contains '" k "' with wrong type"
#define I0 "{'items':[{'channel':'c',"
#define I1 "}]}"
#define HR(x) I0 "'formats':{'http-response':" x "}" I1
#define HS(x) I0 "'formats':{'http-stream':" x "}" I1
#define WS(x) I0 "'formats':{'ws-message':" x "}" I1
/* An item with `fields` and a valid http-stream format. */
#define ITEM(fields) I0 fields ",'http-stream':{'content':'x'}" I1

/* ---- the body ---- */

TEST_IMPL(pubitem_body_errors)
{
    static const err_case_t t[] = {
        {"", NOT_JSON},
        {"not json", NOT_JSON},
        {"{'items':[", NOT_JSON},
        {"{'items':[]} x", NOT_JSON},
        {"{'items':[]} // x", NOT_JSON},
        {"{'items':[],}", NOT_JSON},
        {"{'items':[1,]}", NOT_JSON},
        {"{'items':[],'x':NaN}", NOT_JSON},
        {"{'items':[],'x':+1}", NOT_JSON},
        {"{'items':[],'x':tru}", NOT_JSON},
        {"{'items':[],'x':1e400}", NOT_JSON},
        {"{'items':[],'x':[-1e400]}", NOT_JSON},
        /* QJsonDocument wants an object or an array at the top. */
        {"'s'", NOT_JSON},
        {"1", NOT_JSON},
        {"null", NOT_JSON},
        {"true", NOT_JSON},
        {"[]", "Invalid format."},
        {"[{'items':[]}]", "Invalid format."},
        {"{}", IF "object does not contain 'items'"},
        {"{'Items':[]}", IF "object does not contain 'items'"},
        {"{'items':{}}", IF "object contains 'items' with wrong type"},
        {"{'items':null}", IF "object contains 'items' with wrong type"},
        {"{'items':'x'}", IF "object contains 'items' with wrong type"},
        {"{'items':[],'items':1}", IF "object contains 'items' with wrong type"},
        /* Not UTF-8: a bad byte, an overlong '/', a UTF-16 surrogate, past
         * U+10FFFF, a cut sequence, in a value and in a key. */
        {"{'items':[],'x':'\xff\xfe'}", NOT_JSON},
        {"{'items':[],'x':'\xc0\xaf'}", NOT_JSON},
        {"{'items':[],'x':'\xed\xa0\x80'}", NOT_JSON},
        {"{'items':[],'x':'\xf4\x90\x80\x80'}", NOT_JSON},
        {"{'items':[],'x':'\xe2\x82'}", NOT_JSON},
        {"{'items':[],'\xff':1}", NOT_JSON},
    };
    run_err_table(t, TT_ARRAY_SIZE(t));
    /* Control bytes between tokens, which cJSON alone would skip. */
    expect_err_n("\0{\"items\":[]}", 13, NOT_JSON);
    expect_err_n("{\"items\":\0[]}", 13, NOT_JSON);
    expect_err_n("{\"items\":[]}\0", 13, NOT_JSON);
    expect_err_n("{\"items\":[]}\0 garbage", 21, NOT_JSON);
    expect_err_n("{\x01\"items\":[]}", 13, NOT_JSON);
    expect_err_n("{\"items\":[]}\f", 13, NOT_JSON);
    expect_err_n(NULL, 0, NOT_JSON);
    expect_err_n("{'items':[]}", 12, NOT_JSON); /* single quotes */
    return 0;
}

/* What Pushpin accepts around the document. */
TEST_IMPL(pubitem_body_ok)
{
    static const char *const ok[] = {
        "{'items':[]}",
        "\n {'items':[]}\n \t\r\n",
        "\xef\xbb\xbf{'items':[]}",                        /* UTF-8 BOM */
        "{'items':1,'items':[]}",                          /* the last repeat wins */
        "{'items':[],'x':'\xf0\x9f\x98\x80\xef\xbf\xbf'}", /* U+1F600, U+FFFF */
        "{'items':[],'x':'a\tb'}",                         /* a raw tab, as Qt allows */
        "{'items':[],'x':1.}",
        "{'items':[],'x':-0}",
        "{'items':[],'x':1E5}",
        "{'items':[],'\\u0000':1}",
    };
    for (size_t i = 0; i < TT_ARRAY_SIZE(ok); i++) {
        tt_pub_batch_t *b = parse_ok(ok[i]);
        ASSERT_EQ(b->n, 0);
        tt_pubitem_free(b);
    }
    tt_pub_batch_t *b = NULL;
    /* Deep nesting (Pushpin allows 1024 levels, cJSON 1000). */
    char deep[1100];
    size_t n = (size_t)snprintf(deep, sizeof deep, "{\"items\":[],\"x\":");
    for (int i = 0; i < 500; i++)
        deep[n + (size_t)i] = '[', deep[n + 1000 - 1 - (size_t)i] = ']';
    deep[n + 1000] = '}';
    ASSERT_OK(tt_pubitem_parse(deep, n + 1001, &b, NULL, 0));
    tt_pubitem_free(b);
    /* Raw control bytes inside strings are fine, a NUL too (it ends the
     * value: a known gap, see pubitem.c). */
    static const char ctl[] = "{\"items\":[{\"channel\":\"a\0b\",\"x\":\"\x01\\\"\x1f\","
                              "\"http-stream\":{\"content\":\"x\"}}]}";
    ASSERT_OK(tt_pubitem_parse(ctl, sizeof ctl - 1, &b, NULL, 0));
    ASSERT_STR_EQ(b->items[0].channel, "a");
    tt_pubitem_free(b);
    tt_pubitem_free(NULL);
    return 0;
}

/* err may be NULL; a short buffer gets a cut, terminated text. */
TEST_IMPL(pubitem_err_buffer)
{
    tt_pub_batch_t *b = NULL;
    char err[10];

    ASSERT_EQ(tt_pubitem_parse("{}", 2, &b, NULL, 0), TT_EPARSE);
    ASSERT_NULL(b);
    ASSERT_EQ(tt_pubitem_parse("{}", 2, &b, err, sizeof err), TT_EPARSE);
    ASSERT_STR_EQ(err, "Invalid f");
    ASSERT_EQ(tt_pubitem_parse("x", 1, &b, err, sizeof err), TT_EPARSE);
    ASSERT_STR_EQ(err, "Body is n");
    ASSERT_EQ(tt_pubitem_parse("{}", 2, &b, err, 0), TT_EPARSE);
    return 0;
}

/* ---- items ---- */

TEST_IMPL(pubitem_item_errors)
{
    static const err_case_t t[] = {
        {"{'items':[1]}", IF "publish item object is not an object"},
        {"{'items':[null]}", IF "publish item object is not an object"},
        {"{'items':[[]]}", IF "publish item object is not an object"},
        {"{'items':['x']}", IF "publish item object is not an object"},
        {"{'items':[{'http-stream':{'content':'x'}}]}",
         IF "publish item object does not contain 'channel'"},
        {"{'items':[{'Channel':'a','http-stream':{'content':'x'}}]}",
         IF "publish item object does not contain 'channel'"},
        {"{'items':[{'channel':1,'http-stream':{'content':'x'}}]}", ITEM_WT("channel")},
        {"{'items':[{'channel':null,'http-stream':{'content':'x'}}]}", ITEM_WT("channel")},
        {"{'items':[{'channel':'a','channel':1,'http-stream':{'content':'x'}}]}",
         ITEM_WT("channel")},
        {ITEM("'id':1"), ITEM_WT("id")},
        {ITEM("'id':null"), ITEM_WT("id")},
        {ITEM("'prev-id':true"), ITEM_WT("prev-id")},
        {I0 "'formats':'x'" I1, ITEM_WT("formats")},
        {I0 "'formats':null" I1, ITEM_WT("formats")},
        {I0 "'formats':[]" I1, ITEM_WT("formats")},
        {I0 "'formats':{}" I1, IF "no formats specified"},
        {"{'items':[{'channel':'a'}]}", IF "no formats specified"},
        {I0 "'meta':5" I1, IF "no formats specified"},
        {I0 "'HTTP-STREAM':{'content':'x'}" I1, IF "no formats specified"},
        {"{'items':[{'channel':'a','http-stream':{'content':'x'}},{'channel':'b'}]}",
         IF "no formats specified"},
        {ITEM("'meta':'x'"), ITEM_WT("meta")},
        {ITEM("'meta':null"), ITEM_WT("meta")},
        {ITEM("'meta':[]"), ITEM_WT("meta")},
        {ITEM("'meta':{'a':'1','b':2}"), IF "'meta' contains 'b' with wrong type"},
        {ITEM("'meta':{'z':2,'a':3}"), IF "'meta' contains 'a' with wrong type"},
        {ITEM("'size':null"), ITEM_WT("size")},
        {ITEM("'size':[]"), ITEM_WT("size")},
        {ITEM("'size':{}"), ITEM_WT("size")},
        {ITEM("'size':-1"), IF "publish item object contains 'size' with invalid value"},
        {ITEM("'size':'-1'"), IF "publish item object contains 'size' with invalid value"},
        {ITEM("'size':-0.6"), IF "publish item object contains 'size' with invalid value"},
        {ITEM("'size':4294967295"), IF "publish item object contains 'size' with invalid value"},
        {ITEM("'size':2147483648"), IF "publish item object contains 'size' with invalid value"},
        {ITEM("'size':'2147483648'"), IF "publish item object contains 'size' with invalid value"},
        {ITEM("'no-seq':1"), ITEM_WT("no-seq")},
        {ITEM("'no-seq':'true'"), ITEM_WT("no-seq")},
        {ITEM("'no-seq':null"), ITEM_WT("no-seq")},
        /* Order: channel, id, prev-id, formats, meta, size, no-seq. */
        {"{'items':[{'id':1}]}", IF "publish item object does not contain 'channel'"},
        {"{'items':[{'channel':5,'formats':5}]}", ITEM_WT("channel")},
        {I0 "'id':1,'prev-id':1" I1, ITEM_WT("id")},
        {I0 "'prev-id':1,'formats':1" I1, ITEM_WT("prev-id")},
        {I0 "'meta':5,'formats':{'http-stream':{}}" I1,
         IF "'http-stream' does not contain 'content' or 'content-bin'"},
        {ITEM("'meta':5,'size':-1"), ITEM_WT("meta")},
        {ITEM("'no-seq':5,'size':-1"), IF "publish item object contains 'size' with invalid value"},
    };
    run_err_table(t, TT_ARRAY_SIZE(t));
    return 0;
}

TEST_IMPL(pubitem_item_fields)
{
    tt_pub_batch_t *b;
    const tt_pub_item_t *it;

    /* Defaults. */
    it = one_item("{'items':[{'channel':'ch','http-stream':{'content':'x'}}]}", &b);
    ASSERT_STR_EQ(it->channel, "ch");
    ASSERT_NULL(it->id);
    ASSERT_NULL(it->prev_id);
    ASSERT(!it->no_seq);
    ASSERT_EQ(it->size, -1);
    ASSERT_EQ(it->n_meta, 0);
    tt_pubitem_free(b);

    it = one_item(ITEM("'id':'i2','prev-id':'i1','no-seq':true,'size':42,"
                       "'meta':{'sender':'u1','b':'2','a':'1','b':'3'}"),
                  &b);
    ASSERT_STR_EQ(it->channel, "c");
    ASSERT_STR_EQ(it->id, "i2");
    ASSERT_STR_EQ(it->prev_id, "i1");
    ASSERT(it->no_seq);
    ASSERT_EQ(it->size, 42);
    /* Sorted by name; a repeated name keeps its last value. */
    ASSERT_EQ(it->n_meta, 3);
    ASSERT_STR_EQ(it->meta[0].name, "a");
    ASSERT_STR_EQ(it->meta[0].value, "1");
    ASSERT_STR_EQ(it->meta[1].name, "b");
    ASSERT_STR_EQ(it->meta[1].value, "3");
    ASSERT_STR_EQ(it->meta[2].name, "sender");
    ASSERT_STR_EQ(it->meta[2].value, "u1");
    tt_pubitem_free(b);

    /* Empty strings are kept; escapes decode; the last repeat wins. */
    it = one_item(ITEM("'channel':'','id':'','prev-id':'','no-seq':false,'size':0,'meta':{}"), &b);
    ASSERT_STR_EQ(it->channel, "");
    ASSERT_STR_EQ(it->id, "");
    ASSERT_STR_EQ(it->prev_id, "");
    ASSERT(!it->no_seq);
    ASSERT_EQ(it->size, 0);
    tt_pubitem_free(b);
    it = one_item("{'items':[{'channel':1,'channel':'\\u00e9\\ud83d\\ude00 \\'q\\'',"
                  "'http-stream':{'content':'x'}}]}",
                  &b);
    ASSERT_STR_EQ(it->channel, "\xc3\xa9\xf0\x9f\x98\x80 \"q\"");
    tt_pubitem_free(b);

    /* Several items keep their order. */
    b = parse_ok("{'items':[{'channel':'a','http-stream':{'content':'1'}},"
                 "{'channel':'b','ws-message':{'content':'2'}}]}");
    ASSERT_EQ(b->n, 2);
    ASSERT_STR_EQ(b->items[0].channel, "a");
    ASSERT(b->items[0].http_stream.present);
    ASSERT_STR_EQ(b->items[1].channel, "b");
    ASSERT(b->items[1].ws_message.present);
    tt_pubitem_free(b);
    return 0;
}

/* The `formats` object, the legacy form, and how they mix. */
TEST_IMPL(pubitem_forms)
{
    static const char *const forms[] = {
        "{'items':[{'channel':'c','formats':{'http-response':{'body':'r'},"
        "'http-stream':{'content':'s'},'ws-message':{'content':'w'}}}]}",
        "{'items':[{'channel':'c','http-response':{'body':'r'},"
        "'http-stream':{'content':'s'},'ws-message':{'content':'w'}}]}",
    };
    tt_pub_batch_t *b;
    const tt_pub_item_t *it;

    for (size_t i = 0; i < TT_ARRAY_SIZE(forms); i++) {
        it = one_item(forms[i], &b);
        ASSERT(it->http_response.present);
        ASSERT_STR_EQ(it->http_response.body, "r");
        ASSERT(it->http_stream.present);
        ASSERT_STR_EQ(it->http_stream.content, "s");
        ASSERT(it->ws_message.present);
        ASSERT_STR_EQ(it->ws_message.content, "w");
        tt_pubitem_free(b);
    }
    /* One format alone, either way. */
    it = one_item("{'items':[{'channel':'c','ws-message':{'content':'w'}}]}", &b);
    ASSERT(!it->http_response.present);
    ASSERT(!it->http_stream.present);
    ASSERT(it->ws_message.present);
    tt_pubitem_free(b);
    /* With `formats`, format keys on the item are ignored, even bad ones. */
    it = one_item(I0 "'formats':{'http-stream':{'content':'x'}},'ws-message':5" I1, &b);
    ASSERT(it->http_stream.present);
    ASSERT(!it->ws_message.present);
    tt_pubitem_free(b);
    /* Unknown keys in `formats` count as formats: accepted, nothing to send. */
    it = one_item(I0 "'formats':{'foo':{}}" I1, &b);
    ASSERT(!it->http_response.present && !it->http_stream.present && !it->ws_message.present);
    tt_pubitem_free(b);
    /* Format errors in both forms. */
    static const err_case_t t[] = {
        {I0 "'ws-message':5" I1, IF "'ws-message' is not an object"},
        {I0 "'ws-message':null" I1, IF "'ws-message' is not an object"},
        {HR("[]"), IF "'http-response' is not an object"},
        {HS("'x'"), IF "'http-stream' is not an object"},
        {WS("1"), IF "'ws-message' is not an object"},
        /* Checked in the order http-response, http-stream, ws-message. */
        {I0 "'formats':{'ws-message':1,'http-stream':2,'http-response':3}" I1,
         IF "'http-response' is not an object"},
        {I0 "'formats':{'ws-message':1,'http-stream':2}" I1, IF "'http-stream' is not an object"},
        {I0 "'ws-message':1,'http-stream':2" I1, IF "'http-stream' is not an object"},
    };
    run_err_table(t, TT_ARRAY_SIZE(t));
    return 0;
}

/* ---- formats ---- */

TEST_IMPL(pubitem_actions)
{
    static const struct {
        const char *field;
        tt_pub_action_t want;
    } t[] = {
        {"", TT_ACT_SEND},
        {"'action':'send',", TT_ACT_SEND},
        {"'action':'hint',", TT_ACT_HINT},
        {"'action':'close',", TT_ACT_CLOSE},
        {"'action':'refresh',", TT_ACT_REFRESH},
    };
    static const char *const fmt[] = {"http-response", "http-stream", "ws-message"};
    /* A send needs a payload; the other actions read nothing else, so a bad
     * payload field goes unnoticed. */
    static const char *const payload[] = {"'body':'b'", "'content':'s'", "'content':'w'"};
    char json[512];

    for (size_t f = 0; f < TT_ARRAY_SIZE(fmt); f++) {
        for (size_t i = 0; i < TT_ARRAY_SIZE(t); i++) {
            const char *rest = t[i].want == TT_ACT_SEND ? payload[f] : "'body':1,'content':5";
            snprintf(json, sizeof json, I0 "'formats':{'%s':{%s%s}}" I1, fmt[f], t[i].field, rest);
            tt_pub_batch_t *b;
            const tt_pub_item_t *it = one_item(json, &b);
            tt_pub_action_t got = f == 0   ? it->http_response.action
                                  : f == 1 ? it->http_stream.action
                                           : it->ws_message.action;
            if (got != t[i].want)
                TT_TEST_FAIL("%s: action %s", json, tt_pub_action_name(got));
            tt_pubitem_free(b);
        }
    }
    ASSERT_STR_EQ(tt_pub_action_name(TT_ACT_REFRESH), "refresh");
    static const err_case_t e[] = {
        {HS("{'action':1}"), IF "'http-stream' contains 'action' with wrong type"},
        {HS("{'action':null,'content':'x'}"), IF "'http-stream' contains 'action' with wrong type"},
        {HR("{'action':[]}"), IF "'http-response' contains 'action' with wrong type"},
        {WS("{'action':{}}"), IF "'ws-message' contains 'action' with wrong type"},
        /* An unknown action: Pushpin sets no message. */
        {HS("{'action':'foo'}"), IF},
        {HS("{'action':'Send','content':'x'}"), IF},
        {HR("{'action':'','body':'x'}"), IF},
        {WS("{'action':'drop'}"), IF},
    };
    run_err_table(e, TT_ARRAY_SIZE(e));
    return 0;
}

TEST_IMPL(pubitem_http_response)
{
    tt_pub_batch_t *b;
    const tt_pub_item_t *it;
    const tt_pub_http_response_t *r;

    it = one_item(HR("{'code':404,'reason':'Nope','headers':[['B','2'],['A','1'],['B','3']],"
                     "'body':'hi\\n'}"),
                  &b);
    r = &it->http_response;
    ASSERT(r->present);
    ASSERT_EQ(r->action, TT_ACT_SEND);
    ASSERT_EQ(r->code, 404);
    ASSERT_STR_EQ(r->reason, "Nope");
    /* The list form keeps order and repeats. */
    ASSERT_EQ(r->n_headers, 3);
    ASSERT_STR_EQ(r->headers[0].name, "B");
    ASSERT_STR_EQ(r->headers[0].value, "2");
    ASSERT_STR_EQ(r->headers[1].name, "A");
    ASSERT_STR_EQ(r->headers[2].value, "3");
    ASSERT(r->has_body);
    ASSERT_EQ(r->body_len, 3);
    ASSERT_STR_EQ(r->body, "hi\n");
    ASSERT_NULL(r->body_patch_json);
    ASSERT(!r->filters.present);
    tt_pubitem_free(b);

    /* Defaults: code 200, reason NULL (also for ""), no headers. The object
     * form is sorted by name, a repeated name keeping its last value. */
    it = one_item(HR("{'reason':'','headers':{'Z':'1','A':'2','Z':'3'},'body':''}"), &b);
    r = &it->http_response;
    ASSERT_EQ(r->code, 200);
    ASSERT_NULL(r->reason);
    ASSERT_EQ(r->n_headers, 2);
    ASSERT_STR_EQ(r->headers[0].name, "A");
    ASSERT_STR_EQ(r->headers[1].name, "Z");
    ASSERT_STR_EQ(r->headers[1].value, "3");
    ASSERT(r->has_body);
    ASSERT_EQ(r->body_len, 0);
    tt_pubitem_free(b);

    /* body-patch is kept as compact JSON text. */
    it = one_item(HR("{'body-patch':[ {'op':'replace', 'path':'/a', 'value':1} ]}"), &b);
    r = &it->http_response;
    ASSERT(!r->has_body);
    ASSERT_NULL(r->body);
    ASSERT_STR_EQ(r->body_patch_json, J("[{'op':'replace','path':'/a','value':1}]"));
    tt_pubitem_free(b);

    /* Preference: body-bin, then body, then body-patch; the others are not read. */
    it = one_item(HR("{'body-bin':'aGk=','body':1,'body-patch':1}"), &b);
    ASSERT_STR_EQ(it->http_response.body, "hi");
    tt_pubitem_free(b);
    it = one_item(HR("{'body':'x','body-patch':1}"), &b);
    ASSERT_STR_EQ(it->http_response.body, "x");
    ASSERT_NULL(it->http_response.body_patch_json);
    tt_pubitem_free(b);

    /* Non-send actions read nothing else; code stays 200. */
    it = one_item(HR("{'action':'hint','code':-1,'headers':5}"), &b);
    ASSERT_EQ(it->http_response.action, TT_ACT_HINT);
    ASSERT_EQ(it->http_response.code, 200);
    ASSERT(!it->http_response.has_body);
    tt_pubitem_free(b);
    return 0;
}

#define HR_WT(k) IF "'http-response' contains '" k "' with wrong type"
#define HR_IV(k) IF "'http-response' contains '" k "' with invalid value"

TEST_IMPL(pubitem_http_response_errors)
{
    static const err_case_t t[] = {
        {HR("{}"), IF "'http-response' does not contain 'body', 'body-bin', or 'body-patch'"},
        {HR("{'code':200}"),
         IF "'http-response' does not contain 'body', 'body-bin', or 'body-patch'"},
        {HR("{'code':null,'body':'x'}"), HR_WT("code")},
        {HR("{'code':[],'body':'x'}"), HR_WT("code")},
        {HR("{'code':{},'body':'x'}"), HR_WT("code")},
        {HR("{'code':-1,'body':'x'}"), HR_IV("code")},
        {HR("{'code':1000,'body':'x'}"), HR_IV("code")},
        {HR("{'code':1e3,'body':'x'}"), HR_IV("code")},
        {HR("{'code':999.5,'body':'x'}"), HR_IV("code")},
        {HR("{'code':-0.6,'body':'x'}"), HR_IV("code")},
        {HR("{'code':4294967295,'body':'x'}"), HR_IV("code")},
        {HR("{'code':4294966296.6,'body':'x'}"), HR_IV("code")},
        {HR("{'code':'-1','body':'x'}"), HR_IV("code")},
        {HR("{'code':' 1000 ','body':'x'}"), HR_IV("code")},
        {HR("{'code':'\\t-1','body':'x'}"), HR_IV("code")},
        {HR("{'code':'+1000','body':'x'}"), HR_IV("code")},
        {HR("{'code':'0001000','body':'x'}"), HR_IV("code")},
        {HR("{'code':'4294967295','body':'x'}"), HR_IV("code")},
        {HR("{'code':'99999999999','body':'x'}"), HR_IV("code")},
        {HR("{'reason':1,'body':'x'}"), HR_WT("reason")},
        {HR("{'reason':null,'body':'x'}"), HR_WT("reason")},
        {HR("{'headers':'x','body':'x'}"), HR_WT("headers")},
        {HR("{'headers':null,'body':'x'}"), HR_WT("headers")},
        {HR("{'headers':5,'body':'x'}"), HR_WT("headers")},
        {HR("{'headers':['x'],'body':'x'}"), IF "headers contains element with wrong type"},
        {HR("{'headers':[['a','b'],{}],'body':'x'}"),
         IF "headers contains element with wrong type"},
        {HR("{'headers':[['x']],'body':'x'}"),
         IF "headers contains list with wrong number of elements"},
        {HR("{'headers':[[]],'body':'x'}"),
         IF "headers contains list with wrong number of elements"},
        {HR("{'headers':[['x','y','z']],'body':'x'}"),
         IF "headers contains list with wrong number of elements"},
        {HR("{'headers':[[1,'y']],'body':'x'}"), IF "header contains name element with wrong type"},
        {HR("{'headers':[['x',1]],'body':'x'}"),
         IF "header contains value element with wrong type"},
        {HR("{'headers':[['x',null]],'body':'x'}"),
         IF "header contains value element with wrong type"},
        {HR("{'headers':{'A':'1','Bad':2},'body':'x'}"),
         IF "headers contains 'Bad' with wrong type"},
        {HR("{'headers':{'Z':2,'A':3},'body':'x'}"), IF "headers contains 'A' with wrong type"},
        {HR("{'headers':{'A':2,'A':'1','B':[]},'body':'x'}"),
         IF "headers contains 'B' with wrong type"},
        {HR("{'content-filters':'x','body':'x'}"), HR_WT("content-filters")},
        {HR("{'content-filters':[1],'body':'x'}"),
         IF "content-filters contains element with wrong type"},
        {HR("{'body':1}"), HR_WT("body")},
        {HR("{'body':null}"), HR_WT("body")},
        {HR("{'body-bin':1}"), HR_WT("body-bin")},
        {HR("{'body-bin':null,'body':'x'}"), HR_WT("body-bin")},
        {HR("{'body-patch':{}}"), HR_WT("body-patch")},
        {HR("{'body-patch':null}"), HR_WT("body-patch")},
        /* Tether only: Pushpin publishes what Qt salvages from bad base64. */
        {HR("{'body-bin':'!!!not base64'}"), HR_IV("body-bin")},
        /* Order: code, reason, headers, content-filters, body. */
        {HR("{'code':-1,'headers':5}"), HR_IV("code")},
        {HR("{'reason':1,'code':-1}"), HR_IV("code")},
        {HR("{'headers':5,'reason':1}"), HR_WT("reason")},
        {HR("{'headers':5,'content-filters':5}"), HR_WT("headers")},
        {HR("{'content-filters':5,'body':1}"), HR_WT("content-filters")},
    };
    run_err_table(t, TT_ARRAY_SIZE(t));
    return 0;
}

TEST_IMPL(pubitem_http_stream)
{
    tt_pub_batch_t *b;
    const tt_pub_item_t *it;

    it = one_item(HS("{'content':'data: x\\n\\n'}"), &b);
    ASSERT(it->http_stream.present);
    ASSERT_EQ(it->http_stream.action, TT_ACT_SEND);
    ASSERT_STR_EQ(it->http_stream.content, "data: x\n\n");
    ASSERT_EQ(it->http_stream.content_len, 9);
    tt_pubitem_free(b);
    /* content-bin wins, even over a content of the wrong type. */
    it = one_item(HS("{'content-bin':'AAEC/w==','content':1}"), &b);
    ASSERT_EQ(it->http_stream.content_len, 4);
    ASSERT(memcmp(it->http_stream.content, "\0\1\2\377", 4) == 0);
    tt_pubitem_free(b);
    it = one_item(HS("{'content':''}"), &b);
    ASSERT_STR_EQ(it->http_stream.content, "");
    tt_pubitem_free(b);
    it = one_item(HS("{'action':'close'}"), &b);
    ASSERT_EQ(it->http_stream.action, TT_ACT_CLOSE);
    ASSERT_NULL(it->http_stream.content);
    tt_pubitem_free(b);

    static const err_case_t t[] = {
        {HS("{}"), IF "'http-stream' does not contain 'content' or 'content-bin'"},
        {HS("{'content':1}"), IF "'http-stream' contains 'content' with wrong type"},
        {HS("{'content':null}"), IF "'http-stream' contains 'content' with wrong type"},
        {HS("{'content-bin':1}"), IF "'http-stream' contains 'content-bin' with wrong type"},
        {HS("{'content-bin':[],'content':'x'}"),
         IF "'http-stream' contains 'content-bin' with wrong type"},
        {HS("{'content-filters':'x','content':'x'}"),
         IF "'http-stream' contains 'content-filters' with wrong type"},
        {HS("{'content-filters':[null],'content':'x'}"),
         IF "content-filters contains element with wrong type"},
        {HS("{'content-filters':5,'content':5}"),
         IF "'http-stream' contains 'content-filters' with wrong type"},
        {HS("{'content-bin':'%%%'}"), IF "'http-stream' contains 'content-bin' with invalid value"},
    };
    run_err_table(t, TT_ARRAY_SIZE(t));
    return 0;
}

TEST_IMPL(pubitem_ws_message)
{
    static const struct {
        const char *fields;
        tt_ws_type_t type;
        const char *content;
    } t[] = {
        {"'content':'hi'", TT_WSMSG_TEXT, "hi"},
        {"'content-bin':'aGk='", TT_WSMSG_BINARY, "hi"},
        {"'type':'text','content-bin':'aGk='", TT_WSMSG_TEXT, "hi"},
        {"'type':'binary','content':'hi'", TT_WSMSG_BINARY, "hi"},
        {"'type':'ping'", TT_WSMSG_PING, ""},
        {"'type':'pong'", TT_WSMSG_PONG, ""},
        {"'type':'ping','content':'p'", TT_WSMSG_PING, "p"},
        {"'type':'pong','content-bin':'aGk='", TT_WSMSG_PONG, "hi"},
        {"'content-bin':'aGk=','content':1", TT_WSMSG_BINARY, "hi"},
        {"'content':''", TT_WSMSG_TEXT, ""},
    };
    char json[512];

    for (size_t i = 0; i < TT_ARRAY_SIZE(t); i++) {
        snprintf(json, sizeof json, WS("{%s}"), t[i].fields);
        tt_pub_batch_t *b;
        const tt_pub_ws_message_t *w = &one_item(json, &b)->ws_message;
        ASSERT(w->present);
        ASSERT_EQ(w->action, TT_ACT_SEND);
        ASSERT_EQ(w->type, t[i].type);
        ASSERT_STR_EQ(w->content, t[i].content);
        ASSERT_EQ(w->content_len, strlen(t[i].content));
        ASSERT_EQ(w->close_code, -1);
        tt_pubitem_free(b);
    }
    return 0;
}

TEST_IMPL(pubitem_ws_close)
{
    static const struct {
        const char *json;
        int code;
        const char *reason;
    } t[] = {
        {WS("{'action':'close'}"), -1, NULL},
        {WS("{'action':'close','code':4000,'reason':'bye'}"), 4000, "bye"},
        {WS("{'action':'close','code':1000,'reason':''}"), 1000, NULL},
        {WS("{'action':'close','code':70000}"), 70000, NULL},
        {WS("{'action':'close','code':'x'}"), 0, NULL},
        {WS("{'action':'close','code':'1001','content':5}"), 1001, NULL},
    };

    for (size_t i = 0; i < TT_ARRAY_SIZE(t); i++) {
        tt_pub_batch_t *b;
        const tt_pub_ws_message_t *w = &one_item(t[i].json, &b)->ws_message;
        ASSERT_EQ(w->action, TT_ACT_CLOSE);
        ASSERT_EQ(w->close_code, t[i].code);
        if (t[i].reason)
            ASSERT_STR_EQ(w->close_reason, t[i].reason);
        else
            ASSERT_NULL(w->close_reason);
        ASSERT_NULL(w->content);
        tt_pubitem_free(b);
    }
    return 0;
}

#define WS_WT(k) IF "'ws-message' contains '" k "' with wrong type"

TEST_IMPL(pubitem_ws_message_errors)
{
    static const err_case_t t[] = {
        {WS("{}"), IF "'ws-message' does not contain 'content' or 'content-bin'"},
        {WS("{'type':'text'}"), IF "'ws-message' does not contain 'content' or 'content-bin'"},
        {WS("{'type':'binary'}"), IF "'ws-message' does not contain 'content' or 'content-bin'"},
        {WS("{'type':1,'content':'x'}"), WS_WT("type")},
        {WS("{'type':null,'content':'x'}"), WS_WT("type")},
        {WS("{'type':'close','content':'x'}"),
         IF "'ws-message' contains 'type' with unknown value"},
        {WS("{'type':'TEXT','content':'x'}"), IF "'ws-message' contains 'type' with unknown value"},
        {WS("{'content':1}"), WS_WT("content")},
        {WS("{'content-bin':1}"), WS_WT("content-bin")},
        {WS("{'content-bin':null,'content':'x'}"), WS_WT("content-bin")},
        {WS("{'content-filters':{},'content':'x'}"), WS_WT("content-filters")},
        {WS("{'content-filters':['a',2],'content':'x'}"),
         IF "content-filters contains element with wrong type"},
        {WS("{'content-bin':'*'}"), IF "'ws-message' contains 'content-bin' with invalid value"},
        /* Order: type, content-filters, content. */
        {WS("{'content-filters':1,'type':'zz'}"),
         IF "'ws-message' contains 'type' with unknown value"},
        {WS("{'content-filters':1,'content':1}"), WS_WT("content-filters")},
        {WS("{'action':'close','code':[]}"), WS_WT("code")},
        {WS("{'action':'close','code':null}"), WS_WT("code")},
        {WS("{'action':'close','code':-5}"), IF "'ws-message' contains 'code' with invalid value"},
        {WS("{'action':'close','code':'-5'}"),
         IF "'ws-message' contains 'code' with invalid value"},
        {WS("{'action':'close','reason':5}"), WS_WT("reason")},
        {WS("{'action':'close','reason':1,'code':-1}"),
         IF "'ws-message' contains 'code' with invalid value"},
    };
    run_err_table(t, TT_ARRAY_SIZE(t));
    return 0;
}

/* content-filters: absent, empty, or a list, on every format. */
TEST_IMPL(pubitem_content_filters)
{
    tt_pub_batch_t *b;
    const tt_pub_item_t *it;

    it = one_item(I0 "'formats':{'http-response':{'content-filters':['build-id'],'body':'b'},"
                     "'http-stream':{'content-filters':[],'content':'s'},"
                     "'ws-message':{'content':'w'}}" I1,
                  &b);
    ASSERT(it->http_response.filters.present);
    ASSERT_EQ(it->http_response.filters.n, 1);
    ASSERT_STR_EQ(it->http_response.filters.names[0], "build-id");
    ASSERT(it->http_stream.filters.present);
    ASSERT_EQ(it->http_stream.filters.n, 0);
    ASSERT(!it->ws_message.filters.present);
    tt_pubitem_free(b);
    it = one_item(WS("{'content-filters':['skip-self','var-subst'],'content':'w'}"), &b);
    ASSERT_EQ(it->ws_message.filters.n, 2);
    ASSERT_STR_EQ(it->ws_message.filters.names[1], "var-subst");
    tt_pubitem_free(b);
    return 0;
}

/* body-bin / content-bin: standard base64, padding optional, whitespace skipped. */
TEST_IMPL(pubitem_base64)
{
    static const struct {
        const char *b64;
        const char *bytes;
        size_t len;
    } ok[] = {
        {"", "", 0},
        {"aGVsbG8=", "hello", 5},
        {"aGVsbG8", "hello", 5},
        {"aGVs\\r\\nbG8=\\n", "hello", 5},
        {" aG Vs bG 8= ", "hello", 5},
        {"aGk", "hi", 2},
        {"aA", "h", 1},
        {"aA=", "h", 1},
        {"AAEC", "\0\1\2", 3},
        {"+/+/", "\xfb\xff\xbf", 3},
    };
    static const char *const bad[] = {
        "!!!", "aGVsb", "a", "aG==aG==", "====", "aGk=x", "aGVsbG8-", "aGVsbG8_", "\\u00e9AAA",
    };
    char json[256];

    for (size_t i = 0; i < TT_ARRAY_SIZE(ok); i++) {
        snprintf(json, sizeof json, HS("{'content-bin':'%s'}"), ok[i].b64);
        tt_pub_batch_t *b;
        const tt_pub_http_stream_t *s = &one_item(json, &b)->http_stream;
        if (s->content_len != ok[i].len || memcmp(s->content, ok[i].bytes, ok[i].len) != 0)
            TT_TEST_FAIL("%s decoded wrong (%zu bytes)", ok[i].b64, s->content_len);
        ASSERT_EQ(s->content[s->content_len], '\0');
        tt_pubitem_free(b);
    }
    for (size_t i = 0; i < TT_ARRAY_SIZE(bad); i++) {
        snprintf(json, sizeof json, HR("{'body-bin':'%s'}"), bad[i]);
        expect_err(json, HR_IV("body-bin"));
    }
    return 0;
}

/* `code` and `size` go through QVariant::toInt(): values Pushpin accepted,
 * and what they became. */
TEST_IMPL(pubitem_int_conversion)
{
    static const struct {
        const char *v;
        int want;
    } t[] = {
        {"404", 404},
        {"'404'", 404},
        {"' 404\\n'", 404},
        {"'+404'", 404},
        {"'-0'", 0},
        {"'abc'", 0},
        {"''", 0},
        {"'1e3'", 0},
        {"'0x3e8'", 0},
        {"'1000.0'", 0},
        {"'1,000'", 0},
        {"'1 000'", 0},
        {"'- 1'", 0},
        {"'-4294967296'", 0},
        {"'99999999999999999999'", 0},
        {"true", 1},
        {"false", 0},
        {"200.7", 201},
        {"200.5", 201},
        {"999.4", 999},
        {"-0.4", 0},
        {"-0.5", 0},
        {"4294967496", 200},
        {"1e20", 0},
        {"-1e20", 0},
        {"9223372036854775808", 0},
        {"-9223372036854775808", 0},
        {"-9223372036854775809", 0},
    };
    char json[256];

    for (size_t i = 0; i < TT_ARRAY_SIZE(t); i++) {
        tt_pub_batch_t *b;
        snprintf(json, sizeof json, HR("{'code':%s,'body':''}"), t[i].v);
        if (one_item(json, &b)->http_response.code != t[i].want)
            TT_TEST_FAIL("code %s: got %d, want %d", t[i].v, b->items[0].http_response.code,
                         t[i].want);
        tt_pubitem_free(b);
        snprintf(json, sizeof json, ITEM("'size':%s"), t[i].v);
        ASSERT_EQ(one_item(json, &b)->size, t[i].want);
        tt_pubitem_free(b);
    }
    return 0;
}
