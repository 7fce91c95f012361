/* tether: command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "platform.h"
#include "publish_cli.h"

static const char usage[] =
    "usage: tether <command> [options]\n"
    "\n"
    "commands:\n"
    "  run            run the proxy\n"
    "  check-config   load the configuration and routes, print every problem\n"
    "  publish        publish to a channel (tether publish --help)\n"
    "  version        print the version\n"
    "  help           print this help\n"
    "\n"
    "options (run, check-config):\n"
    "  -c, --config FILE     pushpin.conf-style configuration file\n"
    "  --port [ADDR:]PORT    listen here instead of [runner] http_port (repeatable)\n"
    "  --route LINE          use this route line instead of the routes file (repeatable)\n"
    "  --log-level N         0 error, 1 warning, 2 info, 3 debug\n"
    "  --port-file FILE      write the bound ports to FILE once listening\n"
    "  --watch-stdin         stop when standard input closes (for supervisors)\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tether: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'tether help' for usage.\n");
    return 2;
}

/* Parse options after the command into `o`; returns 0 or an exit status. */
static int parse_opts(int argc, char **argv, tt_app_opts_t *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--watch-stdin") == 0) {
            o->watch_stdin = true;
            continue;
        }
        bool takes = strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 ||
                     strcmp(a, "--port") == 0 || strcmp(a, "--route") == 0 ||
                     strcmp(a, "--log-level") == 0 || strcmp(a, "--port-file") == 0;
        if (!takes)
            return usage_error("unknown option '%s'", a);
        if (!v)
            return usage_error("option '%s' needs a value", a);
        i++;
        if (a[1] == 'c' || strcmp(a, "--config") == 0) {
            o->config_path = v;
        } else if (strcmp(a, "--port") == 0) {
            if (o->n_ports == TT_MAX_CLI_PORTS)
                return usage_error("too many --port options (max %s)", "16");
            o->ports[o->n_ports++] = v;
        } else if (strcmp(a, "--route") == 0) {
            if (o->n_routes == TT_MAX_CLI_ROUTES)
                return usage_error("too many --route options (max %s)", "64");
            o->routes[o->n_routes++] = v;
        } else if (strcmp(a, "--log-level") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || n < 0 || n > 4)
                return usage_error("invalid log level '%s' (0-4)", v);
            o->log_level = (int)n;
        } else {
            o->port_file = v;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    tt_platform_init();
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("tether %s\n", TT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "publish") == 0)
        return tt_publish_cli(argc - 1, argv + 1);
    tt_app_opts_t o;
    memset(&o, 0, sizeof o);
    o.log_level = -1;
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check-config") != 0)
        return usage_error("unknown command '%s'", cmd);
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc;
    if (strcmp(cmd, "check-config") == 0)
        return tt_app_check_config(&o, stdout);
    return tt_app_run(&o);
}
