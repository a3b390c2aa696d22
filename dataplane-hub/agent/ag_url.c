/* URL parsing and the data plane's download_url join. Pure functions: every output lands in the
 * caller's buffers, and every input is treated as hostile (it comes from a server message). */
#include "ag_url.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int s_fail(char *err, size_t errlen, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", why);
    return -1;
}

/* No byte of a URL may be a control character, a space or DEL: they would let a hostile
 * download_url smuggle a header into the request line. */
static bool s_clean(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s <= 0x20 || (unsigned char) *s == 0x7f)
            return false;
    return true;
}

static int s_scheme(const char *url, ag_url_t *out, const char **rest)
{
    static const struct { const char *name; bool tls; int port; } known[] = {
        { "ws", false, 80 }, { "wss", true, 443 }, { "http", false, 80 }, { "https", true, 443 },
    };
    const char *sep = strstr(url, "://");
    if (!sep)
        return -1;
    size_t n = (size_t) (sep - url);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strlen(known[i].name) == n && strncasecmp(url, known[i].name, n) == 0) {
            snprintf(out->scheme, sizeof out->scheme, "%s", known[i].name);
            out->tls = known[i].tls;
            out->port = known[i].port;
            *rest = sep + 3;
            return 0;
        }
    }
    return -1;
}

static int s_port(const char *p, size_t n, int *port)
{
    if (n == 0 || n > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char) p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (int) v;
    return 0;
}

/* authority = host [":" port], host = reg-name | "[" IPv6 "]". */
static int s_authority(const char *a, size_t n, ag_url_t *out, char *err, size_t errlen)
{
    if (n == 0)
        return s_fail(err, errlen, "URL has no host");
    if (memchr(a, '@', n))
        return s_fail(err, errlen, "URL carries user info (a credential)");
    if (n >= sizeof out->authority)
        return s_fail(err, errlen, "URL authority too long");
    memcpy(out->authority, a, n);
    out->authority[n] = '\0';
    const char *host = a, *colon = NULL;
    size_t hlen;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || close == a + 1)
            return s_fail(err, errlen, "URL has a malformed IPv6 host");
        host = a + 1;
        hlen = (size_t) (close - host);
        if (close + 1 < a + n) {
            if (close[1] != ':')
                return s_fail(err, errlen, "URL has a malformed IPv6 host");
            colon = close + 1;
        }
    } else {
        colon = memchr(a, ':', n);
        hlen = colon ? (size_t) (colon - a) : n;
    }
    if (hlen == 0 || hlen >= sizeof out->host)
        return s_fail(err, errlen, "URL host empty or too long");
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    if (colon && s_port(colon + 1, (size_t) (a + n - colon - 1), &out->port) != 0)
        return s_fail(err, errlen, "URL has a bad port");
    return 0;
}

int ag_url_parse(const char *url, ag_url_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!url || !*url)
        return s_fail(err, errlen, "empty URL");
    if (strlen(url) >= AG_URL_MAX)
        return s_fail(err, errlen, "URL too long");
    if (!s_clean(url))
        return s_fail(err, errlen, "URL contains a space or a control character");
    const char *rest = NULL;
    if (s_scheme(url, out, &rest) != 0)
        return s_fail(err, errlen, "URL scheme is not ws, wss, http or https");
    size_t alen = strcspn(rest, "/?#");
    if (s_authority(rest, alen, out, err, errlen) != 0)
        return -1;
    const char *path = rest + alen;
    size_t plen = strcspn(path, "#");
    if (plen == 0 || path[0] == '?')
        snprintf(out->path, sizeof out->path, "/%.*s", (int) plen, path);
    else
        snprintf(out->path, sizeof out->path, "%.*s", (int) plen, path);
    return 0;
}

int ag_url_join(const char *ws_url, const char *download_url, char *out, size_t cap, char *err,
                size_t errlen)
{
    if (!download_url || !*download_url)
        return s_fail(err, errlen, "empty download_url");
    if (!s_clean(download_url))
        return s_fail(err, errlen, "download_url contains a space or a control character");
    ag_url_t base, abs;
    if (download_url[0] != '/') {
        if (ag_url_parse(download_url, &abs, err, errlen) != 0)
            return -1;
        if (strcmp(abs.scheme, "http") != 0 && strcmp(abs.scheme, "https") != 0)
            return s_fail(err, errlen, "download_url is neither relative nor http(s)");
        if (strlen(download_url) >= cap)
            return s_fail(err, errlen, "download_url too long");
        snprintf(out, cap, "%s", download_url);
        return 0;
    }
    if (ag_url_parse(ws_url, &base, err, errlen) != 0)
        return -1;
    const char *scheme = base.tls ? "https" : "http";
    int n = snprintf(out, cap, "%s://%s%s", scheme, base.authority, download_url);
    if (n < 0 || (size_t) n >= cap || (size_t) n >= AG_URL_MAX)
        return s_fail(err, errlen, "download URL too long");
    return 0;
}
