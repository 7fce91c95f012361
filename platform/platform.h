/* The only OS-facing header of Tether. Everything that differs between
 * Windows and Unix-like systems sits behind these calls; src/ never tests
 * for the OS. Implementations: platform/unix/ and platform/win/. */
#ifndef TT_PLATFORM_H
#define TT_PLATFORM_H

#include <stdio.h>
#include <uv.h>

/* What the process is asked to do from outside (signals, console events,
 * later the service manager). Called on the loop thread. */
typedef struct tt_platform_hooks_s {
    void (*on_stop)(void *arg);   /* SIGTERM, SIGINT, Ctrl-C/Ctrl-Break */
    void (*on_reload)(void *arg); /* SIGHUP where the OS has it */
    void *arg;
} tt_platform_hooks_t;

/* Process-wide set-up before anything else runs (e.g. ignore SIGPIPE). */
void tt_platform_init(void);

/* Watch for stop/reload requests on `loop`. The handles do not keep the loop
 * alive. Returns 0 or a libuv error. */
int tt_platform_signals_start(uv_loop_t *loop, const tt_platform_hooks_t *hooks);

/* Close the handles opened by tt_platform_signals_start. */
void tt_platform_signals_stop(void);

/* Whether the OS can ask the process to reload (SIGHUP); tests use this. */
int tt_platform_can_reload_signal(void);

/* Directory part of `path` in a new malloc'd string ("." if none). */
char *tt_platform_dirname(const char *path);

/* Whether `path` is absolute on this OS. */
int tt_platform_path_is_absolute(const char *path);

/* Separator used to join paths. */
char tt_platform_path_sep(void);

#endif
