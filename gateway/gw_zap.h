/* The gateway's ZAP handler (ZeroMQ RFC 27): decides every CURVE handshake on the broker and
 * event sockets from a directory of allowed public keys, each tagged with its role, and tells
 * the broker which role a connected key has. Served from the gateway's event loop. */
#ifndef GW_ZAP_H
#define GW_ZAP_H
#include <czmq.h>
#include <stddef.h>

typedef struct gw_zap gw_zap_t;

#define GW_ZAP_DOMAIN_BROKER "broker"   /* fronts and services */
#define GW_ZAP_DOMAIN_EVENTS "events"   /* services only */

/* Binds the ZAP endpoint and loads the public keys of dir (every zcert file not ending in
 * _secret, with metadata role = front|registry|compiler|hub). Must exist before any CURVE
 * server socket binds. NULL (logged) when the endpoint or dir cannot be used. */
gw_zap_t *gw_zap_new(const char *dir);
void gw_zap_destroy(gw_zap_t **self_p);
/* The REP socket, for the event loop (borrowed). */
zsock_t *gw_zap_socket(gw_zap_t *self);
/* Answers every pending handshake request. */
void gw_zap_drain(gw_zap_t *self);
/* Re-reads the directory (SIGHUP). On failure the previous table stays. 0 or -1. */
int gw_zap_reload(gw_zap_t *self);
/* The role of a Z85 public key (the User-Id of a CURVE peer), or -1 when it is not allowed
 * (any more). Signature of gw_broker_role_fn. */
int gw_zap_role(void *self, const char *user_id);
/* Keys allowed now, and handshakes refused so far. */
size_t gw_zap_keys(const gw_zap_t *self);
unsigned long gw_zap_refused(const gw_zap_t *self);

#endif
