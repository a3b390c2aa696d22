/* cc_asyncapi.c — AsyncAPI 3: SEND/RECEIVE routes on channel addresses, with parameters,
 * messages, body and bindings (§6.1, §6.2). Owns the operations it adds to ctx->ops. */
#include "cc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_channels[] = "#/channels/";

/* The SEND request body comes from the first message: what is known about it. */
typedef struct {
    bool seen, has_payload;
    size_t depth, props;
    const cm_spec_node_t *payload;
} s_first_t;

static int s_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
}

/* A pointer token percent-decoded then RFC 6901-unescaped; NULL when malformed. */
static char *s_token(const char *tok)
{
    size_t n = strlen(tok), o = 0;
    char *out = malloc(n + 1);
    for (size_t i = 0; out && i < n; i++) {
        if (tok[i] != '%')
            out[o++] = tok[i];
        else if (i + 2 < n && s_hex(tok[i + 1]) >= 0 && s_hex(tok[i + 2]) >= 0) {
            out[o++] = (char)(s_hex(tok[i + 1]) * 16 + s_hex(tok[i + 2]));
            i += 2;
        } else {
            free(out);
            return NULL;
        }
    }
    if (!out)
        return NULL;
    out[o] = '\0';
    size_t w = 0;
    for (size_t i = 0; i < o; i++)
        out[w++] = out[i] == '~' && out[i + 1] == '1' ? (i++, '/')
                 : out[i] == '~' && out[i + 1] == '0' ? (i++, '~') : out[i];
    out[w] = '\0';
    return out;
}

/* The position of channel name under `channels` (SIZE_MAX: none), through a table built on
 * first use, so many operations on many channels stay linear. */
static size_t s_channel_index(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *channels,
                              const char *name)
{
    cc_spec_t *s = &ctx->specs[spec];
    if (!cc_is_map(channels))
        return SIZE_MAX;
    if (!s->channels) {
        s->channels = cc_map_new();
        for (size_t i = 0; s->channels && i < cm_spec_len(channels); i++) {
            const char *key = cm_spec_key_at(channels, i, NULL);
            if (cc_map_put(s->channels, key, strlen(key), (void *)(uintptr_t)(i + 1)) < 0)
                ctx->oom = true;
        }
        if (!s->channels) {
            ctx->oom = true;
            return SIZE_MAX;
        }
    }
    size_t idx = (size_t)(uintptr_t)cc_map_get(s->channels, name, strlen(name));
    return idx ? idx - 1 : SIZE_MAX;
}

/* The channel an operation names: its object, address and where the address is written. */
static const cm_spec_node_t *s_channel(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *ch,
                                       const char **address, const cm_spec_node_t **addr_at)
{
    char ex[80];
    const cm_spec_node_t *r = cm_spec_get(ch, "$ref");
    const char *ref = cc_str(r);
    if (!ref) {
        *addr_at = cm_spec_get(ch, "address");
        *address = cc_str(*addr_at) ? cc_str(*addr_at) : "";
        return ch;
    }
    if (!cc_starts_with(ref, s_channels) || strchr(ref + sizeof s_channels - 1, '/') ||
        !ref[sizeof s_channels - 1]) {
        CC_ERR(ctx, "E1004", spec, r, NULL, "channel $ref '%s' must be #/channels/<name>",
               cc_excerpt(ex, ref));
        return NULL;
    }
    const cm_spec_node_t *channels = cm_spec_get(ctx->specs[spec].root, "channels");
    char *name = s_token(ref + sizeof s_channels - 1);
    size_t idx = name ? s_channel_index(ctx, spec, channels, name) : SIZE_MAX;
    free(name);
    if (idx == SIZE_MAX) {
        CC_ERR(ctx, "E1003", spec, r, NULL, "channel $ref '%s' names no channel under "
               "'channels'", cc_excerpt(ex, ref));
        return NULL;
    }
    const cm_spec_node_t *value;
    const char *key = cm_spec_key_at(channels, idx, &value);
    bool failed;
    const cm_spec_node_t *obj = cc_follow(ctx, spec, value, NULL, &failed);
    if (!obj) {
        if (!failed)
            CC_ERR(ctx, "E1004", spec, value, NULL, "channel '%s' must be a mapping",
                   cc_excerpt(ex, key));
        return NULL;
    }
    *addr_at = cm_spec_get(obj, "address");
    *address = cc_str(*addr_at);
    if (!*address) {
        *address = key;
        *addr_at = cm_spec_key_node_at(channels, idx);
    }
    return obj;
}

static void s_operation(cc_ctx_t *ctx, size_t spec, const char *key,
                        const cm_spec_node_t *at, const cm_spec_node_t *value)
{
    char ex[80];
    bool failed;
    const cm_spec_node_t *obj = cc_follow(ctx, spec, value, NULL, &failed);
    if (!obj) {
        if (!failed)
            CC_ERR(ctx, "E1004", spec, value, NULL, "operation '%s' must be a mapping",
                   cc_excerpt(ex, key));
        return;
    }
    const cm_spec_node_t *an = cm_spec_get(obj, "action"), *ch = cm_spec_get(obj, "channel");
    const char *action = cc_str(an);
    if (!action || (strcmp(action, "send") && strcmp(action, "receive"))) {
        CC_ERR(ctx, "E1004", spec, an ? an : at, NULL, "operation '%s' needs an 'action' of "
               "send or receive", cc_excerpt(ex, key));
        return;
    }
    if (!cc_is_map(ch)) {
        CC_ERR(ctx, "E1004", spec, ch ? ch : at, NULL, "operation '%s' needs a 'channel' "
               "($ref: '#/channels/<name>' or an inline channel)", cc_excerpt(ex, key));
        return;
    }
    const char *address = NULL;
    const cm_spec_node_t *addr_at = NULL;
    const cm_spec_node_t *channel = s_channel(ctx, spec, ch, &address, &addr_at);
    if (!channel)
        return;
    cc_op_t *op = cc_op_new(ctx, spec, address, !strcmp(action, "send") ? "SEND" : "RECEIVE",
                            obj, at);
    if (!op)
        return;
    op->path_at = addr_at ? addr_at : at;
    op->channel = channel;
    op->operation_id = key;
    op->send = !strcmp(action, "send");
}

void cc_asyncapi_collect(cc_ctx_t *ctx, size_t spec)
{
    const cm_spec_node_t *ops = cm_spec_get(ctx->specs[spec].root, "operations");
    if (!ops || cm_spec_kind(ops) == CM_NODE_NULL)
        return;
    if (!cc_is_map(ops)) {
        CC_ERR(ctx, "E1004", spec, ops, NULL, "'operations' must be a mapping, found a %s",
               cm_spec_kind_name(cm_spec_kind(ops)));
        return;
    }
    for (size_t i = 0; i < cm_spec_len(ops) && !cc_cancelled(ctx); i++) {
        const cm_spec_node_t *v;
        const char *key = cm_spec_key_at(ops, i, &v);
        s_operation(ctx, spec, key, cm_spec_key_node_at(ops, i), v);
    }
}

/* ---------------------------------------------------------------- routes members */

/* A mapping's entries as a sorted JSON object ({} when it is not a mapping). */
static json_t *s_object_or_empty(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n)
{
    return cc_is_map(n) ? cc_value_json(ctx, spec, n) : json_object();
}

json_t *cc_asyncapi_parameters(cc_ctx_t *ctx, const cc_op_t *op)
{
    const cm_spec_node_t *params = cm_spec_get(op->channel, "parameters");
    size_t len = cc_is_map(params) ? cm_spec_len(params) : 0, *order = cc_sorted_keys(params);
    json_t *arr = json_array();
    if (!arr || (len && !order)) {
        ctx->oom = true;
        json_decref(arr);
        free(order);
        return NULL;
    }
    for (size_t k = 0; k < len && arr; k++) {
        const cm_spec_node_t *v;
        const char *name = cm_spec_key_at(params, order[k], &v);
        const cm_spec_node_t *raw = cm_spec_get(cc_follow(ctx, op->spec, v, op, NULL), "schema");
        size_t depth = 0, props = 0;
        json_t *schema = raw ? cc_schema_position(ctx, op->spec, raw, true, op, &depth, &props)
                             : json_null();
        json_t *p = json_object();
        if (!schema || !p) {
            json_decref(schema);
            json_decref(p);
            json_decref(arr);
            arr = NULL;
            break;
        }
        char what[120], ex[80];
        snprintf(what, sizeof what, "parameter '%s'", cc_excerpt(ex, name));
        if (raw)
            cc_schema_limits(ctx, op->spec, raw, op, what, depth, props);
        json_object_set_new_nocheck(p, "name", json_string_nocheck(name));
        json_object_set_new_nocheck(p, "location", json_string_nocheck("path"));
        json_object_set_new_nocheck(p, "required", json_true());
        json_object_set_new_nocheck(p, "schema", schema);
        json_array_append_new(arr, p);
    }
    free(order);
    return arr;
}

/* One Message: {name, payload, content_type, bindings}; first (may be NULL) learns about it. */
static json_t *s_message(cc_ctx_t *ctx, const cc_op_t *op, const char *name,
                         const cm_spec_node_t *msg, s_first_t *first)
{
    const cm_spec_node_t *payload = cm_spec_get(msg, "payload");
    const char *ct = cc_str(cm_spec_get(msg, "contentType"));
    size_t depth = 0, props = 0;
    json_t *p = payload ? cc_schema_position(ctx, op->spec, payload, true, op, &depth, &props)
                        : json_null();
    json_t *b = s_object_or_empty(ctx, op->spec, cm_spec_get(msg, "bindings"));
    json_t *m = json_object();
    if (!p || !b || !m) {
        json_decref(p);
        json_decref(b);
        json_decref(m);
        return NULL;
    }
    if (first && !first->seen)
        *first = (s_first_t){true, payload != NULL, depth, props, payload};
    json_object_set_new_nocheck(m, "name", json_string_nocheck(name));
    json_object_set_new_nocheck(m, "payload", p);
    json_object_set_new_nocheck(m, "content_type", ct ? json_string_nocheck(ct) : json_null());
    json_object_set_new_nocheck(m, "bindings", b);
    return m;
}

/* The channel message a $ref names: its key (malloc'd), when the target is one of the
 * operation's channel messages (looked up by the reference's last token). */
static char *s_channel_message(cc_ctx_t *ctx, const cc_op_t *op, const char *ref,
                               const cm_spec_node_t *target, const cm_spec_node_t **msg)
{
    const cm_spec_node_t *msgs = cm_spec_get(op->channel, "messages");
    const char *slash = strrchr(ref, '/');
    char *name = slash ? s_token(slash + 1) : NULL;
    const cm_spec_node_t *v = name ? cm_spec_get(msgs, name) : NULL;
    if (v && v == target) {
        *msg = cc_follow(ctx, op->spec, v, op, NULL);
        return name;
    }
    free(name);
    return NULL;
}

/* A referenced message: the channel's own, else whatever object the reference names.
 * *skip: the reference names no message object (nothing is added). */
static json_t *s_ref_message(cc_ctx_t *ctx, const cc_op_t *op, const cm_spec_node_t *entry,
                             s_first_t *first, bool *skip)
{
    const cm_spec_node_t *r = cm_spec_get(entry, "$ref"), *msg = NULL;
    const char *ref = cc_str(r);
    const cm_spec_node_t *target = cc_ref_target(ctx, op->spec, ref, r, op);
    if (!target)
        return NULL;
    char *own = s_channel_message(ctx, op, ref, target, &msg);
    const char *name = own;
    if (!name) {
        msg = cc_follow(ctx, op->spec, target, op, NULL);
        const char *slash = strrchr(ref, '/');
        own = s_token(slash ? slash + 1 : ref);
        name = own ? own : "default";
    }
    json_t *m = NULL;
    if (cc_is_map(msg))
        m = s_message(ctx, op, name, msg, first);
    else
        *skip = true;
    free(own);
    return m;
}

static json_t *s_entry_message(cc_ctx_t *ctx, const cc_op_t *op, const cm_spec_node_t *e,
                               s_first_t *first, bool *skip)
{
    *skip = !cc_is_map(e);
    if (*skip)
        return NULL;
    if (cc_str(cm_spec_get(e, "$ref")))
        return s_ref_message(ctx, op, e, first, skip);
    const char *name = cc_str(cm_spec_get(e, "name"));
    return s_message(ctx, op, name ? name : "default", e, first);
}

/* The operation's `messages` (refs resolved), else all of its channel's, in key order. */
static json_t *s_messages(cc_ctx_t *ctx, const cc_op_t *op, s_first_t *first)
{
    const cm_spec_node_t *own = cm_spec_get(op->node, "messages");
    const cm_spec_node_t *chan = cm_spec_get(op->channel, "messages");
    json_t *arr = json_array();
    bool ok = arr != NULL;
    if (ok && cc_is_seq(own)) {
        for (size_t i = 0; ok && i < cm_spec_len(own); i++) {
            bool skip;
            json_t *m = s_entry_message(ctx, op, cm_spec_at(own, i), first, &skip);
            ok = skip || (m && json_array_append_new(arr, m) == 0);
        }
    } else if (ok && cc_is_map(chan)) {
        size_t len = cm_spec_len(chan), *order = cc_sorted_keys(chan);
        ok = len == 0 || order;
        for (size_t k = 0; ok && k < len; k++) {
            const cm_spec_node_t *v;
            const char *name = cm_spec_key_at(chan, order[k], &v);
            const cm_spec_node_t *msg = cc_follow(ctx, op->spec, v, op, NULL);
            json_t *m = cc_is_map(msg) ? s_message(ctx, op, name, msg, first) : NULL;
            ok = !cc_is_map(msg) || (m && json_array_append_new(arr, m) == 0);
        }
        free(order);
    }
    if (!ok) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* SEND: {"required": true, "content": {<type>: {"schema": <payload>}}} of the first message. */
static json_t *s_send_body(cc_ctx_t *ctx, const json_t *messages)
{
    const json_t *m = json_array_get(messages, 0);
    const json_t *ct = json_object_get(m, "content_type");
    json_t *body = json_object(), *content = json_object(), *entry = json_object();
    if (!body || !content || !entry) {
        json_decref(body);
        json_decref(content);
        json_decref(entry);
        ctx->oom = true;
        return NULL;
    }
    json_object_set_nocheck(entry, "schema", json_object_get(m, "payload"));
    json_object_set_new_nocheck(content, json_is_string(ct) ? json_string_value(ct)
                                                            : "application/json", entry);
    json_object_set_new_nocheck(body, "required", json_true());
    json_object_set_new_nocheck(body, "content", content);
    return body;
}

json_t *cc_asyncapi_messages(cc_ctx_t *ctx, const cc_op_t *op, json_t **body)
{
    s_first_t first = {0};
    json_t *arr = s_messages(ctx, op, &first);
    *body = NULL;
    if (!arr)
        return NULL;
    /* The reference reads the first message only: no payload there, no body. */
    if (op->send && json_array_size(arr) && first.has_payload) {
        *body = s_send_body(ctx, arr);
        cc_schema_limits(ctx, op->spec, first.payload, op, "request body (message payload)",
                         first.depth, first.props);
    } else
        *body = json_null();
    if (!*body) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static int s_key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The channel's bindings, each replaced by the operation's binding of the same protocol;
 * keys in bytewise order. */
json_t *cc_asyncapi_bindings(cc_ctx_t *ctx, const cc_op_t *op)
{
    const cm_spec_node_t *ch = cm_spec_get(op->channel, "bindings");
    const cm_spec_node_t *own = cm_spec_get(op->node, "bindings");
    size_t nch = cc_is_map(ch) ? cm_spec_len(ch) : 0, nown = cc_is_map(own) ? cm_spec_len(own) : 0;
    const char **keys = malloc((nch + nown + 1) * sizeof *keys);
    json_t *out = json_object();
    if (!keys || !out) {
        free(keys);
        json_decref(out);
        ctx->oom = true;
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < nch; i++)
        keys[n++] = cm_spec_key_at(ch, i, NULL);
    for (size_t i = 0; i < nown; i++)
        keys[n++] = cm_spec_key_at(own, i, NULL);
    if (n)
        qsort(keys, n, sizeof *keys, s_key_cmp);
    for (size_t i = 0; out && i < n; i++) {
        if (i && !strcmp(keys[i], keys[i - 1]))
            continue;
        const cm_spec_node_t *v = cm_spec_get(own, keys[i]);
        json_t *j = cc_value_json(ctx, op->spec, v ? v : cm_spec_get(ch, keys[i]));
        if (!j || json_object_set_new_nocheck(out, keys[i], j) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    free(keys);
    return out;
}
