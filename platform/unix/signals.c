/* Unix: SIGTERM and SIGINT ask for an orderly stop, SIGHUP for a reload.
 * SIGPIPE is ignored: a peer that goes away is an EPIPE, not a crash. */
#include <signal.h>
#include <string.h>

#include "platform.h"

static uv_signal_t sig_term, sig_int, sig_hup;
static tt_platform_hooks_t hooks;
static int started;

void tt_platform_init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGHUP) {
        if (hooks.on_reload)
            hooks.on_reload(hooks.arg);
    } else if (hooks.on_stop) {
        hooks.on_stop(hooks.arg);
    }
}

static int watch(uv_loop_t *loop, uv_signal_t *h, int signum)
{
    int rc = uv_signal_init(loop, h);
    if (rc == 0)
        rc = uv_signal_start(h, on_signal, signum);
    if (rc == 0)
        uv_unref((uv_handle_t *)h);
    return rc;
}

int tt_platform_signals_start(uv_loop_t *loop, const tt_platform_hooks_t *h)
{
    hooks = *h;
    /* uv_signal_init cannot fail for a valid loop; only a start can. */
    int rc = watch(loop, &sig_term, SIGTERM);
    int rc2 = watch(loop, &sig_int, SIGINT);
    int rc3 = watch(loop, &sig_hup, SIGHUP);
    started = 1;
    return rc ? rc : rc2 ? rc2 : rc3;
}

void tt_platform_signals_stop(void)
{
    if (!started)
        return;
    started = 0;
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
}

int tt_platform_can_reload_signal(void)
{
    return 1;
}
