/* `tether publish`: publish one item to a running Tether (or any GRIP
 * control API), with the options of Pushpin's pushpin-publish. */
#ifndef TT_PUBLISH_CLI_H
#define TT_PUBLISH_CLI_H

/* argv[0] is "publish". Returns the process exit status: 0 published,
 * 1 refused or unreachable, 2 usage error. */
int tt_publish_cli(int argc, char **argv);

#endif
