/* URLs of barbacane-agent: the WebSocket URL it connects to, and a download_url joined to it
 * the way the real data plane joins them (ws→http, wss→https, scheme + authority + "/…").
 * Owns nothing. */
#ifndef AG_URL_H
#define AG_URL_H
#include <stdbool.h>
#include <stddef.h>

#define AG_URL_MAX 4096

typedef struct {
    char scheme[8];             /* lowercase: "ws", "wss", "http" or "https" */
    bool tls;                   /* wss or https */
    char host[256];             /* for connecting: an IPv6 literal without its brackets */
    int port;                   /* explicit, or 80/443 by scheme */
    char authority[300];        /* host[:port] as written (brackets kept): the Host header */
    char path[AG_URL_MAX];      /* path and query, always beginning with '/'; no fragment */
} ag_url_t;

/* Parses an absolute ws/wss/http/https URL into out. Refuses user info (the agent never sends a
 * credential it was not asked to), control characters and spaces, bad ports, overlong parts.
 * 0, or -1 with a reason in err. */
int ag_url_parse(const char *url, ag_url_t *out, char *err, size_t errlen);

/* The URL a data plane downloads from: a download_url beginning with '/' is appended to the
 * scheme (ws→http, wss→https) and authority of ws_url; an absolute http(s) URL is kept as it
 * is; anything else is refused. Writes a NUL-terminated URL of at most cap bytes into out.
 * 0, or -1 with a reason in err. */
int ag_url_join(const char *ws_url, const char *download_url, char *out, size_t cap, char *err,
                size_t errlen);

#endif
