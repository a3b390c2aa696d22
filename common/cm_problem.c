/* RFC 9457 problem+json bodies. A static table maps statuses to kinds and titles;
 * nothing else is owned here. */
#include "cm_problem.h"
#include <string.h>

static const struct { int status; const char *kind; const char *title; } s_kinds[] = {
    { 400, "bad-request", "Bad Request" },
    { 401, "unauthorized", "Unauthorized" },
    { 403, "forbidden", "Forbidden" },
    { 404, "not-found", "Not Found" },
    { 405, "method-not-allowed", "Method Not Allowed" },
    { 409, "conflict", "Conflict" },
    { 413, "payload-too-large", "Payload Too Large" },
    { 415, "unsupported-media-type", "Unsupported Media Type" },
    { 429, "too-many-requests", "Too Many Requests" },
    { 500, "internal-error", "Internal Server Error" },
    { 503, "service-unavailable", "Service Unavailable" },
    { 504, "gateway-timeout", "Gateway Timeout" },
};

static int s_index(int status)
{
    for (size_t i = 0; i < sizeof s_kinds / sizeof s_kinds[0]; i++)
        if (s_kinds[i].status == status)
            return (int) i;
    return 9; /* internal-error */
}

const char *cm_problem_kind(int status)
{
    return s_kinds[s_index(status)].kind;
}

const char *cm_problem_title(int status)
{
    return s_kinds[s_index(status)].title;
}

/* The request path as JSON can carry it: when it is not UTF-8 (a decoded %FF), its bytes
 * outside printable ASCII are percent-encoded again, as the client wrote them. */
static json_t *s_instance(const char *path)
{
    json_t *j = json_string(path ? path : "");
    if (j || !path)
        return j ? j : json_string("");
    size_t n = strlen(path) > 1024 ? 1024 : strlen(path);
    char out[3 * 1024 + 1];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) path[i];
        if (c < 0x21 || c > 0x7e)
            o += (size_t) snprintf(out + o, sizeof out - o, "%%%02X", c);
        else
            out[o++] = (char) c;
    }
    out[o] = '\0';
    return json_string(out);
}

char *cm_problem_json(int status, const char *detail, const char *instance, const char *rid,
                      json_t *errors, size_t *len)
{
    char type[96];
    snprintf(type, sizeof type, "urn:barbacane:error:%s", cm_problem_kind(status));
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "title", json_string(cm_problem_title(status)));
    json_object_set_new(o, "status", json_integer(status));
    json_object_set_new(o, "detail", json_string(detail ? detail : cm_problem_title(status)));
    json_object_set_new(o, "instance", s_instance(instance));
    json_object_set_new(o, "request_id", json_string(rid ? rid : ""));
    if (errors)
        json_object_set(o, "errors", errors);
    /* json_string returns NULL on invalid UTF-8: fall back to a fixed detail then. */
    if (!json_object_get(o, "detail"))
        json_object_set_new(o, "detail", json_string(cm_problem_title(status)));
    if (!json_object_get(o, "instance"))
        json_object_set_new(o, "instance", json_string(""));
    if (!json_object_get(o, "request_id"))
        json_object_set_new(o, "request_id", json_string(""));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s && len)
        *len = strlen(s);
    return s;
}
