/* Support for integration tests: temp files, child processes (tether and
 * tt_origin), and a blocking-style HTTP/1.1 client, all on libuv so that the
 * same tests run on Unix and on Windows (mingw-w64, wine).
 *
 * Every call that waits is bounded by a timeout; none of them keeps state
 * across calls in a shared loop: each process and each client owns a private
 * uv loop that runs only inside that object's calls. Results follow the house
 * rule: 0 ok, negative on failure (libuv codes or TT_E* from error.h), unless
 * a comment says otherwise. Nothing here is thread-safe; tests are
 * single-threaded. */
#ifndef TT_TEST_SUPPORT_H
#define TT_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* ---- paths and files ---------------------------------------------------- */

/* Directory of the running tt_tests executable (where tether and tt_origin
 * are built too). Static storage; aborts if the OS cannot tell. */
const char *tt_test_bin_dir(void);

/* Create a new unique empty directory under the OS temp dir. Returns its
 * malloc'd path (caller frees), or NULL on failure. */
char *tt_test_tmpdir(void);

/* Remove `dir` and everything below it. Returns 0, or a negative libuv code
 * for the first entry that could not be removed (the rest is still tried). */
int tt_test_rmtree(const char *dir);

/* Write `content` (a C string) to the file `name` inside `dir`, replacing it.
 * Returns the malloc'd full path (caller frees), or NULL on failure. */
char *tt_test_write_file(const char *dir, const char *name, const char *content);

/* Read a whole file. Returns a malloc'd NUL-terminated copy (caller frees)
 * and its length in *len (len may be NULL), or NULL if it cannot be read. */
char *tt_test_read_file(const char *path, size_t *len);

/* Block the calling thread for `ms` milliseconds. */
void tt_test_sleep_ms(int ms);

/* ---- processes ---------------------------------------------------------- */

typedef struct tt_proc_s tt_proc_t;

/* Start <bin_dir>/<exe> (with ".exe" appended when the running tt_tests has
 * that suffix) with `args` (NULL-terminated, argv[0] excluded; may be NULL).
 * stdout and stderr are appended to `log_path`, or inherited when it is NULL.
 * stdin is a pipe that only this object holds: it reaches EOF when the
 * process is freed or the test process dies, so a child that watches it
 * (tt_origin --watch-stdin) never outlives its test. Returns NULL on failure
 * (logged to stderr). Free with tt_proc_free. */
tt_proc_t *tt_proc_start(const char *exe, const char *const *args, const char *log_path);

/* Like tt_proc_start for a tool found on PATH (curl, openssl, python3). */
tt_proc_t *tt_proc_start_tool(const char *tool, const char *const *args, const char *log_path);

/* Run a tool from PATH to completion, its stdin at EOF, bounded by
 * timeout_ms (then killed); its stdout and stderr together in *out (malloc'd). Returns the exit
 * status, or -1 if it could not start, was killed or timed out. */
int tt_run_tool(const char *tool, const char *const *args, int timeout_ms, char **out);

/* Whether `path` is a regular file (and, with need_exec, executable on Unix). */
int tt_is_file(const char *path, int need_exec);

/* `name` found on PATH into out (or `name` itself when it has a slash and is
 * a file), skipping the first `skip` matches. Returns 1 if found. */
int tt_find_on_path(const char *name, int skip, char *out, size_t outlen);

/* The child's OS process id. */
int tt_proc_pid(tt_proc_t *p);

/* Poll `path` until it holds a line "<kind> <addr>:<port>" (as written by
 * --port-file), for at most timeout_ms. Returns the port, or -1 on timeout or
 * when the process exited first. */
int tt_proc_wait_port(tt_proc_t *p, const char *path, const char *kind, int timeout_ms);

/* Send `signum` with uv_process_kill (on Windows anything but SIGINT-like
 * signals terminates the process). Returns 0, UV_ESRCH when it already
 * exited, or another negative libuv code. */
int tt_proc_signal(tt_proc_t *p, int signum);

/* Wait up to timeout_ms for the process to exit. Returns 1 and fills
 * *status / *term_signal (each may be NULL) if it exited, 0 on timeout. */
int tt_proc_wait_exit(tt_proc_t *p, int timeout_ms, int64_t *status, int *term_signal);

/* Close the child's stdin (it sees EOF): the portable way to ask a child that
 * watches its stdin (tt_origin, tether --watch-stdin) to stop gracefully. */
void tt_proc_close_stdin(tt_proc_t *p);

/* Kill the process (SIGKILL) if it is still running, reap it (bounded wait),
 * close its stdin pipe and free everything. NULL is a no-op. */
void tt_proc_free(tt_proc_t *p);

/* ---- the fake origin (tt_origin) ---------------------------------------- */

typedef struct tt_origin_s {
    tt_proc_t *proc;
    int port;
    char *dir; /* temp dir holding the port file; removed by tt_origin_stop */
} tt_origin_t;

/* Start tt_origin on an ephemeral 127.0.0.1 port: make a temp dir, pass it a
 * port file there, wait (up to 10 s) for the port. The origin logs one line
 * per request to the test's stderr. Returns 0 with *o filled, or a negative
 * value with *o zeroed and nothing left running. */
int tt_origin_start(tt_origin_t *o);

/* Stop the origin started by tt_origin_start: SIGTERM, bounded wait, SIGKILL
 * if needed, then remove its temp dir. Safe on a zeroed or stopped *o. */
void tt_origin_stop(tt_origin_t *o);

/* ---- client ------------------------------------------------------------- */

typedef struct tt_tc_s tt_tc_t;

/* Connect to 127.0.0.1:port. Returns NULL on failure or timeout. */
tt_tc_t *tt_tc_connect(int port, int timeout_ms);

/* Write `len` bytes and wait until libuv reports them written (30 s bound).
 * Incoming bytes are buffered meanwhile (up to 16 MiB) so that a peer that
 * answers while we write cannot deadlock us. Returns 0 or a negative code. */
int tt_tc_send(tt_tc_t *c, const void *data, size_t len);

/* tt_tc_send of a C string. */
int tt_tc_sends(tt_tc_t *c, const char *s);

/* Send `total` bytes of generated body (byte i = 'a' + i % 26) in 64 KiB
 * pieces with a few writes in flight, in bounded memory. Returns 0 when all
 * were written, TT_ETIMEOUT after timeout_ms, or a negative libuv code. */
int tt_tc_send_pattern(tt_tc_t *c, uint64_t total, int timeout_ms);

/* Read until at least `n` bytes are buffered in total, EOF, or timeout;
 * returns the number of bytes buffered. */
size_t tt_tc_read_n(tt_tc_t *c, size_t n, int timeout_ms);

/* Read (buffering what comes) until EOF or timeout; returns 1 if the peer
 * closed (EOF or reset) within the timeout, 0 otherwise. */
int tt_tc_wait_eof(tt_tc_t *c, int timeout_ms);

/* Buffered bytes not yet consumed; *len (may be NULL) gets their count. The
 * data is NUL-terminated (not counted) and valid until the next call on c. */
const char *tt_tc_data(tt_tc_t *c, size_t *len);

/* Drop the first n buffered bytes (all of them if n is larger). */
void tt_tc_consume(tt_tc_t *c, size_t n);

/* Close the connection and free the client. NULL is a no-op. */
void tt_tc_close(tt_tc_t *c);

/* One parsed response. Fields are owned by the struct: tt_resp_free. */
typedef struct tt_resp_s {
    int status;
    char *head;      /* raw head incl. status line and final CRLFCRLF, NUL-terminated */
    char *body;      /* decoded body (chunked decoded), NUL-terminated; may contain NULs */
    size_t body_len; /* body bytes (counted, not stored, by tt_tc_read_response_count) */
    int chunked;     /* response used chunked coding */
    int closed;      /* body was close-delimited, or the peer had already closed after it */
} tt_resp_t;

/* Read exactly one response from the buffered stream and consume it, so that
 * pipelined responses can be read one after another. Framing: no body for
 * 1xx/204/304 or when head_request is set; else chunked, Content-Length, or
 * close-delimited. A 100 Continue is returned as its own response. The head
 * must end in CRLFCRLF and be at most 1 MiB; a stored body at most 256 MiB.
 * Returns 0 with *r filled, or TT_ETIMEOUT, TT_EPARSE (malformed), TT_ELIMIT,
 * TT_ECLOSED (EOF or reset before the response was complete); on failure *r
 * is zeroed (status may be set) and the stream is left where it stopped. */
int tt_tc_read_response(tt_tc_t *c, tt_resp_t *r, int timeout_ms, int head_request);

/* Like tt_tc_read_response (no HEAD flag) but the body is not stored:
 * r->body stays NULL, r->body_len counts the body and *sum (may be NULL) gets
 * the sum of its bytes modulo 2^32. Memory stays bounded for any size. */
int tt_tc_read_response_count(tt_tc_t *c, tt_resp_t *r, uint32_t *sum, int timeout_ms);

/* Value of the first header `name` (case-insensitive) in r->head, copied to
 * buf (truncated to buflen - 1, surrounding blanks removed). Returns buf, or
 * NULL if the header is absent. */
const char *tt_resp_header(const tt_resp_t *r, const char *name, char *buf, size_t buflen);

/* Number of header lines named `name` (case-insensitive) in r->head. */
int tt_resp_header_count(const tt_resp_t *r, const char *name);

/* Release the fields of *r and zero it. Safe on a zeroed *r. */
void tt_resp_free(tt_resp_t *r);

/* One-shot: connect, send `request` verbatim, read one response (HEAD
 * framing when the request starts with "HEAD "), close. Same returns as
 * tt_tc_read_response, or TT_ECLOSED when the connection failed. */
int tt_http_request(int port, const char *request, tt_resp_t *r, int timeout_ms);

/* The generated body pattern: byte i of /size, /chunked, /eof bodies and of
 * tt_tc_send_pattern is 'a' + i % 26. Sum of the first n such bytes mod 2^32,
 * for checking /count answers and counted responses. */
uint32_t tt_pattern_sum(uint64_t n);

#endif
