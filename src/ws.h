/* WebSocket sessions: a client that asked to upgrade, served three ways as
 * Pushpin does (GRIP.md 3): translated to WebSocket-over-HTTP for a
 * stateless backend (target `over_http`), passed through to a WebSocket
 * backend, or held by Tether itself (the `test` target's /ws). In every
 * case the client's frames are parsed and checked here (RFC 6455), GRIP
 * control messages from the backend subscribe the connection to channels,
 * and published ws-message items reach it as frames rendered once. */
#ifndef TT_WS_H
#define TT_WS_H

#include "proxy.h"

/* Take over an upgrade request that matched `route` (the proxy found it).
 * Answers the handshake errors itself (400/426). */
void tt_ws_start(tt_proxy_env_t *env, tt_client_t *cl, tt_msg_t *req, const tt_route_t *route);

/* Close the module's loop handles (at shutdown). */
void tt_ws_close_all(void);

#endif
