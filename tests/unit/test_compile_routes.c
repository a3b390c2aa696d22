/*  test_compile_routes.c — routes.json content: $defs schemas, 3.0 bounds, $ref parameters and
 *  bodies, AsyncAPI, chains, allowed_request_headers, YAML values, layout. Owns its documents. */
#define _POSIX_C_SOURCE 200809L

#include "test_compile_util.h"

#include "cc_json.h"
#include "cc_schema.h"

#define S_HEAD "openapi: 3.1.0\ninfo: {title: T, version: '1'}\n"

static const json_t *s_body_schema(json_t *op)
{
    json_t *content = json_object_get(json_object_get(op, "request_body"), "content");
    return json_object_get(json_object_get(content, "application/json"), "schema");
}

/* ---------------------------------------------------------------- schemas */

static const char s_recursive[] = S_HEAD
    "paths:\n"
    "  /trees:\n"
    "    post:\n"
    "      requestBody:\n"
    "        content:\n"
    "          application/json:\n"
    "            schema: {$ref: '#/components/schemas/Node'}\n"
    "      x-barbacane-dispatch: {name: mock}\n"
    "components:\n"
    "  schemas:\n"
    "    Node:\n"
    "      type: object\n"
    "      required: [value]\n"
    "      properties:\n"
    "        value: {type: integer}\n"
    "        children: {type: array, items: {$ref: '#/components/schemas/Node'}}\n";

static void test_recursive_schema_validates(void **state)
{
    (void)state;
    json_t *routes = s_routes(s_recursive, 6);
    const json_t *schema = s_body_schema(s_op(routes, 0));
    s_assert_json(schema, "{\"$defs\":{\"Node\":{\"properties\":{\"children\":{\"items\":"
                          "{\"$ref\":\"#/$defs/Node\"},\"type\":\"array\"},\"value\":{\"type\":"
                          "\"integer\"}},\"required\":[\"value\"],\"type\":\"object\"}},"
                          "\"$ref\":\"#/$defs/Node\"}");
    char err[200];
    cc_schema_t *v = cc_schema_new((json_t *)schema, NULL, err, sizeof err);
    assert_non_null(v);
    json_t *good = json_loads("{\"value\":1,\"children\":[{\"value\":2,\"children\":"
                              "[{\"value\":3}]}]}", 0, NULL);
    json_t *bad = json_loads("{\"value\":1,\"children\":[{\"value\":2,\"children\":"
                             "[{\"value\":\"three\"}]}]}", 0, NULL);
    assert_int_equal(cc_schema_validate(v, good, NULL, NULL), 0);
    assert_true(cc_schema_validate(v, bad, NULL, NULL) > 0);
    json_decref(good);
    json_decref(bad);
    cc_schema_destroy(&v);
    json_decref(routes);
}

/* Same last segment -> _2; local $defs hoisted with pointers into them carried over; array
 * indexes and percent-encoded tokens resolve (OURS). */
static const char s_naming[] = S_HEAD
    "paths:\n"
    "  /n:\n"
    "    post:\n"
    "      requestBody:\n"
    "        content:\n"
    "          application/json:\n"
    "            schema:\n"
    "              type: object\n"
    "              properties:\n"
    "                a: {$ref: '#/components/schemas/User'}\n"
    "                b: {$ref: '#/components/schemas/Other/properties/User'}\n"
    "                c: {$ref: '#/components/schemas/Money'}\n"
    "                d: {$ref: '#/components/schemas/Pet/allOf/1'}\n"
    "                e: {$ref: '#/components/schemas/Foo%20Bar'}\n"
    "                f: {$ref: '#/components/schemas/User', description: dropped}\n"
    "      x-barbacane-dispatch: {name: mock}\n"
    "components:\n"
    "  schemas:\n"
    "    User: {type: string}\n"
    "    Other: {properties: {User: {type: integer}}}\n"
    "    Money:\n"
    "      $defs:\n"
    "        Amount: {type: number}\n"
    "      properties:\n"
    "        amount: {$ref: '#/$defs/Amount'}\n"
    "        min: {$ref: '#/$defs/Amount/type'}\n"
    "        other: {$ref: '#/$defs/Unknown'}\n"
    "    Pet: {allOf: [{type: object}, {required: [name]}]}\n"
    "    Foo Bar: {const: 1}\n";

static void test_defs_naming(void **state)
{
    (void)state;
    json_t *routes = s_routes(s_naming, 6);
    s_assert_json(s_body_schema(s_op(routes, 0)),
                  "{\"$defs\":{\"1\":{\"required\":[\"name\"]},\"Amount\":{\"type\":\"number\"},"
                  "\"Foo_20Bar\":{\"const\":1},\"Money\":{\"properties\":{\"amount\":{\"$ref\":"
                  "\"#/$defs/Amount\"},\"min\":{\"$ref\":\"#/$defs/Amount/type\"},\"other\":"
                  "{\"$ref\":\"#/$defs/Unknown\"}}},\"User\":{\"type\":\"string\"},\"User_2\":"
                  "{\"type\":\"integer\"}},\"properties\":{\"a\":{\"$ref\":\"#/$defs/User\"},"
                  "\"b\":{\"$ref\":\"#/$defs/User_2\"},\"c\":{\"$ref\":\"#/$defs/Money\"},"
                  "\"d\":{\"$ref\":\"#/$defs/1\"},\"e\":{\"$ref\":\"#/$defs/Foo_20Bar\"},"
                  "\"f\":{\"$ref\":\"#/$defs/User\"}},\"type\":\"object\"}");
    json_decref(routes);
}

/* OpenAPI 3.0 draft-4 bounds become 2020-12 ones, in $defs bodies too; data is untouched. */
static void test_openapi30_bounds(void **state)
{
    (void)state;
    static const char spec[] =
        "openapi: 3.0.3\ninfo: {title: T, version: '1'}\n"
        "paths:\n"
        "  /b:\n"
        "    get:\n"
        "      parameters:\n"
        "        - name: n\n"
        "          in: query\n"
        "          schema:\n"
        "            type: integer\n"
        "            minimum: 1\n"
        "            exclusiveMinimum: true\n"
        "            maximum: 9\n"
        "            exclusiveMaximum: false\n"
        "            default: {exclusiveMinimum: true, minimum: 3}\n"
        "        - name: m\n"
        "          in: query\n"
        "          schema: {$ref: '#/components/schemas/M'}\n"
        "      x-barbacane-dispatch: {name: mock}\n"
        "components:\n"
        "  schemas:\n"
        "    M: {anyOf: [{type: number, exclusiveMaximum: true, maximum: 5}, "
        "{exclusiveMinimum: true}]}\n";
    json_t *routes = s_routes(spec, 6);
    json_t *params = json_object_get(s_op(routes, 0), "parameters");
    s_assert_json(json_object_get(json_array_get(params, 0), "schema"),
                  "{\"default\":{\"exclusiveMinimum\":true,\"minimum\":3},\"exclusiveMinimum\":1,"
                  "\"maximum\":9,\"type\":\"integer\"}");
    s_assert_json(json_object_get(json_array_get(params, 1), "schema"),
                  "{\"$defs\":{\"M\":{\"anyOf\":[{\"exclusiveMaximum\":5,\"type\":\"number\"},"
                  "{}]}},\"$ref\":\"#/$defs/M\"}");
    json_decref(routes);
    /* The same schema in a 3.1 document is left alone. */
    char *v31 = strdup(spec);
    memcpy(strstr(v31, "3.0.3"), "3.1.0", 5);
    routes = s_routes(v31, 6);
    params = json_object_get(s_op(routes, 0), "parameters");
    assert_true(json_is_true(json_object_get(json_object_get(json_array_get(params, 0),
                                                             "schema"), "exclusiveMinimum")));
    json_decref(routes);
    free(v31);
}

/* ---------------------------------------------------------------- parameters, bodies */

static const char s_refs[] = S_HEAD
    "paths:\n"
    "  /orders/{id}:\n"
    "    parameters:\n"
    "      - $ref: '#/components/parameters/Id'\n"
    "      - {name: X-Tenant, in: header, required: true, schema: {maxLength: 3}}\n"
    "      - {name: limit, in: query, schema: {type: string}}\n"
    "    put:\n"
    "      parameters:\n"
    "        - $ref: '#/components/parameters/Alias'\n"
    "        - {name: x-tenant, in: header, schema: {maxLength: 64}}\n"
    "        - {name: q, in: querystring, content: {text/plain: {schema: {minLength: 2}}, "
    "application/x-www-form-urlencoded: {schema: {type: string}}}}\n"
    "      requestBody: {$ref: '#/components/requestBodies/Order'}\n"
    "      responses:\n"
    "        '200': {$ref: '#/components/responses/Ok'}\n"
    "        '204': {description: none}\n"
    "        default: {content: {}}\n"
    "      x-barbacane-dispatch: {name: mock}\n"
    "components:\n"
    "  parameters:\n"
    "    Id: {name: id, in: path, required: true, schema: {type: string, format: uuid}}\n"
    "    Limit: {name: limit, in: query, schema: {type: integer}}\n"
    "    Alias: {$ref: '#/components/parameters/Limit'}\n"
    "  requestBodies:\n"
    "    Order:\n"
    "      required: true\n"
    "      content:\n"
    "        application/json: {schema: {$ref: '#/components/schemas/Order'}}\n"
    "        text/csv: {}\n"
    "  responses:\n"
    "    Ok: {$ref: '#/components/responses/Real'}\n"
    "    Real: {description: ok, content: {application/json: {schema: {type: object}}}}\n"
    "  schemas:\n"
    "    Order: {type: object, properties: {id: {type: string}}}\n";

static void test_ref_parameters_and_bodies(void **state)
{
    (void)state;
    json_t *routes = s_routes(s_refs, 6);
    json_t *op = s_op(routes, 0);
    /* Path-level parameters the operation redefines (limit by name, X-Tenant case-blind)
     * are replaced; $ref chains are followed; querystring reads the first media type. */
    s_assert_json(json_object_get(op, "parameters"),
                  "[{\"name\":\"id\",\"location\":\"path\",\"required\":true,\"schema\":"
                  "{\"format\":\"uuid\",\"type\":\"string\"}},{\"name\":\"limit\",\"location\":"
                  "\"query\",\"required\":false,\"schema\":{\"type\":\"integer\"}},{\"name\":"
                  "\"x-tenant\",\"location\":\"header\",\"required\":false,\"schema\":"
                  "{\"maxLength\":64}},{\"name\":\"q\",\"location\":\"querystring\",\"required\":"
                  "false,\"schema\":{\"type\":\"string\"}}]");
    s_assert_json(json_object_get(op, "request_body"),
                  "{\"required\":true,\"content\":{\"application/json\":{\"schema\":{\"$defs\":"
                  "{\"Order\":{\"properties\":{\"id\":{\"type\":\"string\"}},\"type\":"
                  "\"object\"}},\"$ref\":\"#/$defs/Order\"}},\"text/csv\":{\"schema\":null}}}");
    s_assert_json(json_object_get(op, "responses"),
                  "{\"200\":{\"content\":{\"application/json\":{\"schema\":{\"type\":"
                  "\"object\"}}}}}");
    json_decref(routes);
}

/* ---------------------------------------------------------------- AsyncAPI */

static const char s_async[] =
    "asyncapi: 3.0.0\ninfo: {title: Events, version: '1'}\n"
    "channels:\n"
    "  signups:\n"
    "    address: users/{userId}/signedup\n"
    "    parameters:\n"
    "      userId: {$ref: '#/components/parameters/UserId'}\n"
    "    bindings: {kafka: {topic: signups, partitions: 3}, ws: {method: GET}}\n"
    "    messages:\n"
    "      signedUp: {$ref: '#/components/messages/SignedUp'}\n"
    "      audit: {payload: {type: string}}\n"
    "operations:\n"
    "  onSignup:\n"
    "    action: receive\n"
    "    channel: {$ref: '#/channels/signups'}\n"
    "    bindings: {kafka: {groupId: g1}}\n"
    "    x-barbacane-dispatch: {name: kafka, config: {topic: in}}\n"
    "  publishSignup:\n"
    "    action: send\n"
    "    channel: {$ref: '#/channels/signups'}\n"
    "    messages: [{$ref: '#/channels/signups/messages/signedUp'}]\n"
    "    x-barbacane-dispatch: {name: kafka, config: {topic: out}}\n"
    "components:\n"
    "  parameters:\n"
    "    UserId: {description: the user}\n"
    "  messages:\n"
    "    SignedUp:\n"
    "      contentType: application/cloudevents+json\n"
    "      payload: {$ref: '#/components/schemas/User'}\n"
    "  schemas:\n"
    "    User: {type: object, properties: {id: {type: string}}}\n";

static void test_asyncapi_routes(void **state)
{
    (void)state;
    json_t *routes = s_routes(s_async, 6);
    json_t *recv = s_op(routes, 0), *send = s_op(routes, 1);
    assert_string_equal(json_string_value(json_object_get(recv, "method")), "RECEIVE");
    assert_string_equal(json_string_value(json_object_get(send, "method")), "SEND");
    assert_string_equal(json_string_value(json_object_get(send, "path")),
                        "users/{userId}/signedup");
    assert_string_equal(json_string_value(json_object_get(send, "operation_id")),
                        "publishSignup");
    s_assert_json(json_object_get(recv, "parameters"),
                  "[{\"name\":\"userId\",\"location\":\"path\",\"required\":true,\"schema\":null}]");
    /* RECEIVE: all the channel's messages (key order), no body; bindings merged. */
    assert_true(json_is_null(json_object_get(recv, "request_body")));
    json_t *msgs = json_object_get(recv, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "name")),
                        "audit");
    s_assert_json(json_object_get(recv, "bindings"),
                  "{\"kafka\":{\"groupId\":\"g1\"},\"ws\":{\"method\":\"GET\"}}");
    /* SEND: its own (referenced) message, resolved; the body comes from its payload. */
    s_assert_json(json_object_get(send, "messages"),
                  "[{\"name\":\"signedUp\",\"payload\":{\"$defs\":{\"User\":{\"properties\":"
                  "{\"id\":{\"type\":\"string\"}},\"type\":\"object\"}},\"$ref\":"
                  "\"#/$defs/User\"},\"content_type\":\"application/cloudevents+json\","
                  "\"bindings\":{}}]");
    s_assert_json(json_object_get(send, "request_body"),
                  "{\"required\":true,\"content\":{\"application/cloudevents+json\":{\"schema\":"
                  "{\"$defs\":{\"User\":{\"properties\":{\"id\":{\"type\":\"string\"}},\"type\":"
                  "\"object\"}},\"$ref\":\"#/$defs/User\"}}}}");
    assert_null(json_object_get(send, "responses"));
    assert_true(json_is_null(json_object_get(send, "summary")));
    json_decref(routes);
}

/* ---------------------------------------------------------------- middleware chains */

static const char s_chains[] = S_HEAD
    "x-barbacane-middlewares:\n"
    "  - {name: cors, config: {origin: '*'}}\n"
    "  - {name: rate-limit, config: {quota: 10}}\n"
    "paths:\n"
    "  /inherit:\n"
    "    get: {x-barbacane-dispatch: {name: mock}}\n"
    "  /none:\n"
    "    get: {x-barbacane-middlewares: [], x-barbacane-dispatch: {name: mock}}\n"
    "  /override:\n"
    "    get:\n"
    "      x-barbacane-middlewares:\n"
    "        - {name: jwt-auth, config: {}}\n"
    "        - {name: rate-limit@0.10.0, config: {quota: 99}}\n"
    "      x-barbacane-dispatch: {name: mock}\n";

static const char *s_chain_names(json_t *op, char *out, size_t cap)
{
    json_t *mw = json_object_get(op, "middlewares");
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(mw); i++) {
        json_t *m = json_array_get(mw, i);
        char *cfg = s_compact(json_object_get(m, "config"));
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s=%s", i ? " " : "",
                 json_string_value(json_object_get(m, "name")), cfg);
        free(cfg);
    }
    return out;
}

static void test_middleware_chains(void **state)
{
    (void)state;
    char buf[512];
    json_t *routes = s_routes(s_chains, 6);
    /* sorted by path: /inherit, /none, /override */
    assert_string_equal(s_chain_names(s_op(routes, 0), buf, sizeof buf),
                        "cors={\"origin\":\"*\"} rate-limit={\"quota\":10}");
    assert_string_equal(s_chain_names(s_op(routes, 1), buf, sizeof buf), "");
    /* Globals redefined by name (version ignored) are replaced; the name written is bare. */
    assert_string_equal(s_chain_names(s_op(routes, 2), buf, sizeof buf),
                        "cors={\"origin\":\"*\"} jwt-auth={} rate-limit={\"quota\":99}");
    json_decref(routes);
}

/* Unpinned -> the highest semantic version (0.10.0 > 0.9.0); every use shares one version. */
static void test_plugin_versions(void **state)
{
    (void)state;
    cc_options_t o = s_opts(6);
    cc_result_t r;
    s_lookup_t calls = {0};
    cc_input_t in = {"api.yaml", (const unsigned char *)s_chains, strlen(s_chains)};
    assert_int_equal(cc_compile(&in, 1, &o, s_lookup, &calls, &r), CC_OK);
    assert_int_equal(calls.calls, 4);   /* cors, rate-limit, mock, jwt-auth: once each */
    bool pinned_asked = false;
    for (int i = 0; i < calls.calls; i++)
        pinned_asked = pinned_asked || !strcmp(calls.asked[i], "rate-limit@0.10.0");
    assert_true(pinned_asked);
    assert_int_equal(r.nplugins, 4);
    for (size_t i = 0; i < r.nplugins; i++)
        if (!strcmp(r.plugins[i].name, "rate-limit"))
            assert_string_equal(r.plugins[i].version, "0.10.0");
    cc_result_free(&r);
}

/* ---------------------------------------------------------------- allowed_request_headers */

static const char s_headers[] = S_HEAD
    "components:\n"
    "  securitySchemes:\n"
    "    key: {type: apiKey, in: header, name: ' X-API-Key '}\n"
    "    session: {type: apiKey, in: cookie, name: sid}\n"
    "    query: {type: apiKey, in: query, name: token}\n"
    "    bearer: {type: http, scheme: bearer}\n"
    "    mtls: {type: mutualTLS}\n"
    "security: [{key: []}]\n"
    "x-barbacane-middlewares:\n"
    "  - name: jwt-auth\n"
    "    config: {rename: {X-Legacy-User: x-user, 'bad name': x}}\n"
    "  - name: rate-limit\n"
    "    config: {key: \"client_ip\"}\n"
    "paths:\n"
    "  /root-security:\n"
    "    get:\n"
    "      parameters:\n"
    "        - {name: X-Trace, in: header}\n"
    "        - {name: x-trace, in: header}\n"
    "        - {name: pref, in: cookie}\n"
    "      x-barbacane-dispatch:\n"
    "        name: http-upstream\n"
    "        config: {url: 'https://b', forward: [X-Forward-A, ' x-forward-b', '', 'with space']}\n"
    "  /own-security:\n"
    "    get:\n"
    "      security: [{session: [], query: []}, {bearer: []}, {mtls: []}, {nope: []}]\n"
    "      x-barbacane-middlewares:\n"
    "        - name: rate-limit\n"
    "          config: {key: \"$request.header.X-Client.Id and $header.X-Other headers['X-Sub'] "
    "headers[x]\"}\n"
    "      x-barbacane-dispatch: {name: kafka, config: {key: 'header:X-Kafka-Key'}}\n"
    "  /anonymous:\n"
    "    get:\n"
    "      security: []\n"
    "      x-barbacane-middlewares: []\n"
    "      x-barbacane-dispatch: {name: mock}\n";

static void test_allowed_request_headers(void **state)
{
    (void)state;
    json_t *routes = s_routes(s_headers, 6);
    /* /anonymous: nothing. */
    s_assert_json(json_object_get(s_op(routes, 0), "allowed_request_headers"), "[]");
    /* /own-security: cookie + authorization from its own requirement, names found in the
     * configurations (header-ref markers and subscripts, header: prefix), and the inherited
     * jwt-auth's rename keys (its chain keeps the globals it does not redefine). */
    s_assert_json(json_object_get(s_op(routes, 1), "allowed_request_headers"),
                  "[\"authorization\",\"cookie\",\"x-client.id\",\"x-kafka-key\","
                  "\"x-legacy-user\",\"x-other\",\"x-sub\"]");
    /* /root-security: parameters (deduplicated, lowercased), cookie, the root apiKey header
     * (trimmed), the jwt-auth default (Authorization), its header-name-map keys, and the
     * dispatcher's header-name list without the empty and spaced entries. */
    s_assert_json(json_object_get(s_op(routes, 2), "allowed_request_headers"),
                  "[\"authorization\",\"cookie\",\"x-api-key\",\"x-forward-a\",\"x-forward-b\","
                  "\"x-legacy-user\",\"x-trace\"]");
    json_decref(routes);
    /* Format 4 has no such member. */
    routes = s_routes(s_headers, 4);
    assert_null(json_object_get(s_op(routes, 0), "allowed_request_headers"));
    json_decref(routes);
}

/* A plugin configuration naming an x-auth-* header is refused too (E1056). */
static void test_reserved_header_from_config(void **state)
{
    (void)state;
    static const char spec[] = S_HEAD
        "paths:\n"
        "  /a:\n"
        "    get:\n"
        "      x-barbacane-dispatch: {name: http-upstream, config: {url: 'https://b', "
        "forward: [X-Auth-Sub]}}\n";
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", spec, &o, &r), CC_INVALID);
    const cc_finding_t *f = s_find(&r, "E1056");
    assert_non_null(f);
    assert_string_equal(f->location, "api.yaml:6:59");
    assert_string_equal(f->operation, "GET /a");
    cc_result_free(&r);
    /* format 4 has no allowlist (BCA-FORMAT §6.4 is format 6): nothing to refuse there */
    o = s_opts(4);
    assert_int_equal(s_compile_text("api.yaml", spec, &o, &r), CC_OK);
    assert_null(strstr(r.routes_json, "allowed_request_headers"));
    cc_result_free(&r);
}

/* E1051/E1052 measure the schema as emitted: a $ref is a leaf and each $defs body counts
 * once, however many times it is referenced; both limits are options. */
static void test_schema_limits(void **state)
{
    (void)state;
    static const char spec[] = S_HEAD
        "paths:\n"
        "  /l:\n"
        "    post:\n"
        "      requestBody:\n"
        "        content:\n"
        "          application/json:\n"
        "            schema:\n"
        "              properties:\n"
        "                a: {$ref: '#/components/schemas/P'}\n"
        "                b: {items: {$ref: '#/components/schemas/P'}}\n"
        "      x-barbacane-dispatch: {name: mock}\n"
        "components:\n"
        "  schemas:\n"
        "    P: {properties: {x: {}, y: {}, z: {properties: {deep: {}}}}}\n";
    /* Top level: 2 properties, depth 2 (b.items); P: 4 properties, depth 2. */
    cc_options_t o = s_opts(6);
    cc_result_t r;
    o.max_schema_depth = 2;
    o.max_schema_properties = 6;
    assert_int_equal(s_compile_text("api.yaml", spec, &o, &r), CC_OK);
    cc_result_free(&r);
    o.max_schema_depth = 1;
    o.max_schema_properties = 5;
    assert_int_equal(s_compile_text("api.yaml", spec, &o, &r), CC_INVALID);
    assert_int_equal(r.nfindings, 2);
    assert_string_equal(r.findings[0].code, "E1051");
    assert_non_null(strstr(r.findings[0].message, "nested 2 levels deep (limit 1)"));
    assert_string_equal(r.findings[1].code, "E1052");
    assert_non_null(strstr(r.findings[1].message, "6 properties in total (limit 5)"));
    assert_string_equal(r.findings[1].location, "api.yaml:10:15");
    cc_result_free(&r);
}

/* ---------------------------------------------------------------- YAML values */

/* serde_yaml's typing of plain scalars, quoted ones staying strings, keys always strings,
 * non-finite floats as null; configurations written with sorted keys. */
static void test_yaml_values(void **state)
{
    (void)state;
    static const char spec[] = S_HEAD
        "paths:\n"
        "  /v:\n"
        "    get:\n"
        "      x-barbacane-dispatch:\n"
        "        name: mock\n"
        "        config:\n"
        "          z: [1.5, 1e3, .inf, .NaN, 0x1F, 0o17, -42, 3.0]\n"
        "          y: {200: a, true: b, ~: c, 1.5: d}\n"
        "          x: ['1', \"true\", null, ~, True, FALSE, '', yes]\n"
        "          w: |\n            two\n            lines\n";
    json_t *routes = s_routes(spec, 6);
    s_assert_json(json_object_get(json_object_get(s_op(routes, 0), "dispatch"), "config"),
                  "{\"w\":\"two\\nlines\\n\",\"x\":[\"1\",\"true\",null,null,true,false,\"\","
                  "\"yes\"],\"y\":{\"1.5\":\"d\",\"200\":\"a\",\"true\":\"b\",\"~\":\"c\"},"
                  "\"z\":[1.5,1000.0,null,null,31,15,-42,3.0]}");
    json_decref(routes);
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", spec, &o, &r), CC_OK);
    assert_non_null(strstr(r.routes_json, "\"z\": [\n            1.5,\n            1000.0,\n"
                                          "            null,"));
    cc_result_free(&r);
}

/* ---------------------------------------------------------------- rendering */

/* routes.json is written operation by operation; it must be exactly serde's pretty text of
 * the whole value (reparsed here and rendered by cc_json_pretty). */
static void test_rendering_matches_serde_layout(void **state)
{
    (void)state;
    const char *specs[] = {s_refs, s_async, s_chains, s_headers, s_naming};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        cc_options_t o = s_opts(6);
        cc_result_t r;
        assert_int_equal(s_compile_text("api.yaml", specs[i], &o, &r), CC_OK);
        json_t *v = json_loadb(r.routes_json, r.routes_len, 0, NULL);
        size_t len;
        char *again = cc_json_pretty(v, &len);
        assert_non_null(again);
        assert_int_equal(len, r.routes_len);
        assert_memory_equal(again, r.routes_json, len);
        free(again);
        json_decref(v);
        cc_result_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recursive_schema_validates),
        cmocka_unit_test(test_defs_naming),
        cmocka_unit_test(test_openapi30_bounds),
        cmocka_unit_test(test_ref_parameters_and_bodies),
        cmocka_unit_test(test_asyncapi_routes),
        cmocka_unit_test(test_middleware_chains),
        cmocka_unit_test(test_plugin_versions),
        cmocka_unit_test(test_allowed_request_headers),
        cmocka_unit_test(test_reserved_header_from_config),
        cmocka_unit_test(test_schema_limits),
        cmocka_unit_test(test_yaml_values),
        cmocka_unit_test(test_rendering_matches_serde_layout),
    };
    return cmocka_run_group_tests_name("compile-routes", tests, NULL, NULL);
}
