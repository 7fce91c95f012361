/* The command line: usage errors, version, check-config diagnostics. */
#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "tether.h"

TEST_IMPL(cli_usage)
{
    char *out;
    const char *bogus[] = {"bogus", NULL};
    ASSERT_EQ(tt_tether_cli(bogus, &out), 2);
    ASSERT_CONTAINS(out, "unknown command 'bogus'");
    free(out);
    const char *badopt[] = {"run", "--nope", NULL};
    ASSERT_EQ(tt_tether_cli(badopt, &out), 2);
    ASSERT_CONTAINS(out, "unknown option '--nope'");
    free(out);
    const char *novalue[] = {"run", "--port", NULL};
    ASSERT_EQ(tt_tether_cli(novalue, &out), 2);
    ASSERT_CONTAINS(out, "option '--port' needs a value");
    free(out);
    const char *badlevel[] = {"run", "--log-level", "x", NULL};
    ASSERT_EQ(tt_tether_cli(badlevel, &out), 2);
    ASSERT_CONTAINS(out, "invalid log level 'x'");
    free(out);
    const char *help[] = {"--help", NULL};
    ASSERT_EQ(tt_tether_cli(help, &out), 0);
    ASSERT_CONTAINS(out, "check-config");
    free(out);
    const char *version[] = {"version", NULL};
    ASSERT_EQ(tt_tether_cli(version, &out), 0);
    ASSERT_CONTAINS(out, "tether ");
    free(out);
    return 0;
}

TEST_IMPL(cli_check_config)
{
    char *dir = tt_test_tmpdir();
    char *conf = tt_test_write_file(dir, "tether.conf",
                                    "[runner]\nhttp_port=7999\nlog_level=abc\n"
                                    "[proxy]\nroutesfile=my-routes\nno_such_key=1\n");
    char *routes = tt_test_write_file(dir, "my-routes", "* 127.0.0.1:80\n*,weird x:1\n");
    char *out;
    const char *args[] = {"check-config", "-c", conf, NULL};
    ASSERT_EQ(tt_tether_cli(args, &out), 1);
    ASSERT_CONTAINS(out, "tether.conf:3: error:");
    ASSERT_CONTAINS(out, "log_level");
    ASSERT_CONTAINS(out, "tether.conf:6: warning:");
    free(out);
    /* Fix the config: now the routes file (found relative to it) is checked. */
    free(tt_test_write_file(dir, "tether.conf", "[proxy]\nroutesfile=my-routes\n"));
    ASSERT_EQ(tt_tether_cli(args, &out), 1);
    ASSERT_CONTAINS(out, "my-routes:2: error:");
    free(out);
    free(tt_test_write_file(dir, "my-routes", "* 127.0.0.1:80\n"));
    ASSERT_EQ(tt_tether_cli(args, &out), 0);
    ASSERT_CONTAINS(out, "configuration ok: 1 route(s)");
    free(out);
    /* A missing file is an error, not a crash. */
    const char *missing[] = {"check-config", "-c", "/nonexistent/tether.conf", NULL};
    ASSERT_EQ(tt_tether_cli(missing, &out), 1);
    ASSERT_CONTAINS(out, "cannot open");
    free(out);
    free(conf);
    free(routes);
    tt_test_rmtree(dir);
    free(dir);
    return 0;
}

/* The configuration the README's run command uses is valid as shipped. */
TEST_IMPL(cli_shipped_config)
{
    char *out;
    const char *args[] = {"check-config", "-c", TT_SOURCE_DIR "/service/tether.conf", NULL};
    ASSERT_EQ(tt_tether_cli(args, &out), 0);
    ASSERT_CONTAINS(out, "configuration ok: 1 route(s)");
    ASSERT_NOT_CONTAINS(out, "warning");
    free(out);
    return 0;
}
