/* Windows: Ctrl-C (SIGINT), Ctrl-Break (SIGBREAK) and closing the console
 * window (which libuv reports as SIGHUP) all ask for an orderly stop. After
 * a console close Windows waits about 10 s, then ends the process anyway.
 *
 * Windows has no reload signal and no SIGTERM that anyone can send: libuv's
 * uv_process_kill() (any signal but 0) and `taskkill /f` end a process with
 * TerminateProcess, which no handler sees. Reload therefore comes only from
 * the admin API (and later the service control handler). There is no
 * SIGPIPE either: a send to a closed socket is just an error code. */
#include <signal.h>

#include "platform.h" /* uv.h, which brings in <windows.h> */

static const int signums[] = {SIGINT, SIGBREAK, SIGHUP};
#define NSIGS (sizeof signums / sizeof signums[0])
static uv_signal_t sigs[NSIGS];
static size_t nstarted;
static tt_platform_hooks_t hooks;

void tt_platform_init(void)
{
    /* A crash or a missing drive must not open a dialog box and leave a
     * service or a test run waiting for a click that never comes. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (hooks.on_stop)
        hooks.on_stop(hooks.arg);
}

static int watch(uv_loop_t *loop, uv_signal_t *h, int signum)
{
    int rc = uv_signal_init(loop, h);
    if (rc != 0)
        return rc;
    rc = uv_signal_start(h, on_signal, signum);
    if (rc != 0) {
        uv_close((uv_handle_t *)h, NULL);
        return rc;
    }
    uv_unref((uv_handle_t *)h);
    return 0;
}

int tt_platform_signals_start(uv_loop_t *loop, const tt_platform_hooks_t *h)
{
    hooks = *h;
    for (size_t i = 0; i < NSIGS; i++) {
        int rc = watch(loop, &sigs[i], signums[i]);
        if (rc != 0) {
            tt_platform_signals_stop(); /* a failed start leaves nothing open */
            return rc;
        }
        nstarted++;
    }
    return 0;
}

void tt_platform_signals_stop(void)
{
    for (size_t i = 0; i < nstarted; i++)
        uv_close((uv_handle_t *)&sigs[i], NULL);
    nstarted = 0;
}

int tt_platform_can_reload_signal(void)
{
    return 0;
}
