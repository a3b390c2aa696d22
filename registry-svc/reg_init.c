/* POST /init: generates barbacane.yaml, api.yaml and .gitignore from the basic or minimal
 * template. User text is emitted as double-quoted YAML scalars, so any string round-trips. */
#include "reg.h"
#include "cm_spec.h"
#include "cm_util.h"
#include <ctype.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
} s_str_t;

static void s_put(s_str_t *s, const char *text, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *d = realloc(s->data, cap);
        if (!d)
            return;
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, text, n);
    s->len += n;
    s->data[s->len] = '\0';
}

static void s_puts(s_str_t *s, const char *text)
{
    s_put(s, text, strlen(text));
}

/* One UTF-8 code point (input is valid UTF-8: jansson checked it). */
static unsigned s_cp(const unsigned char *p, size_t *n)
{
    if (p[0] < 0x80) return *n = 1, p[0];
    if (p[0] < 0xe0) return *n = 2, (unsigned) (p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    if (p[0] < 0xf0) return *n = 3, (unsigned) (p[0] & 0x0f) << 12 | (unsigned) (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    return *n = 4, (unsigned) (p[0] & 0x07) << 18 | (unsigned) (p[1] & 0x3f) << 12
                   | (unsigned) (p[2] & 0x3f) << 6 | (p[3] & 0x3f);
}

/* A YAML double-quoted scalar: backslash, quote and every non-printable character escaped. */
static void s_quoted(s_str_t *s, const char *text)
{
    s_puts(s, "\"");
    for (const unsigned char *p = (const unsigned char *) text; *p;) {
        size_t n;
        unsigned cp = s_cp(p, &n);
        char esc[16];
        if (cp == '"' || cp == '\\')
            snprintf(esc, sizeof esc, "\\%c", (char) cp);
        else if (cp == '\n')
            strcpy(esc, "\\n");
        else if (cp == '\t')
            strcpy(esc, "\\t");
        else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028
                 || cp == 0x2029 || cp == 0xfeff || cp >= 0xfffe)
            snprintf(esc, sizeof esc, cp > 0xffff ? "\\U%08X" : "\\u%04X", cp);
        else {
            s_put(s, (const char *) p, n);
            p += n;
            continue;
        }
        s_puts(s, esc);
        p += n;
    }
    s_puts(s, "\"");
}

static const char s_health[] =
    "  /health:\n"
    "    get:\n"
    "      operationId: getHealth\n"
    "      summary: Health check\n"
    "      x-barbacane-dispatch:\n"
    "        name: mock\n"
    "        config:\n"
    "          status: 200\n"
    "          body: '{\"status\":\"ok\"}'\n"
    "      responses:\n"
    "        '200':\n"
    "          description: The service is healthy\n";

static const char s_users[] =
    "  /users:\n"
    "    get:\n"
    "      operationId: listUsers\n"
    "      summary: List users\n"
    "      x-barbacane-dispatch:\n"
    "        name: mock\n"
    "        config:\n"
    "          status: 200\n"
    "          body: '[]'\n"
    "      responses:\n"
    "        '200':\n"
    "          description: The users\n"
    "          content:\n"
    "            application/json:\n"
    "              schema:\n"
    "                type: array\n"
    "                items:\n"
    "                  $ref: '#/components/schemas/User'\n"
    "    post:\n"
    "      operationId: createUser\n"
    "      summary: Create a user\n"
    "      requestBody:\n"
    "        required: true\n"
    "        content:\n"
    "          application/json:\n"
    "            schema:\n"
    "              $ref: '#/components/schemas/NewUser'\n"
    "      x-barbacane-dispatch:\n"
    "        name: mock\n"
    "        config:\n"
    "          status: 201\n"
    "      responses:\n"
    "        '201':\n"
    "          description: The created user\n"
    "          content:\n"
    "            application/json:\n"
    "              schema:\n"
    "                $ref: '#/components/schemas/User'\n"
    "  /users/{id}:\n"
    "    parameters:\n"
    "      - name: id\n"
    "        in: path\n"
    "        required: true\n"
    "        schema:\n"
    "          type: string\n"
    "          format: uuid\n"
    "    get:\n"
    "      operationId: getUser\n"
    "      summary: Get a user\n"
    "      x-barbacane-dispatch:\n"
    "        name: mock\n"
    "        config:\n"
    "          status: 200\n"
    "      responses:\n"
    "        '200':\n"
    "          description: The user\n"
    "          content:\n"
    "            application/json:\n"
    "              schema:\n"
    "                $ref: '#/components/schemas/User'\n"
    "        '404':\n"
    "          description: No such user\n"
    "    put:\n"
    "      operationId: updateUser\n"
    "      summary: Replace a user\n"
    "      requestBody:\n"
    "        required: true\n"
    "        content:\n"
    "          application/json:\n"
    "            schema:\n"
    "              $ref: '#/components/schemas/NewUser'\n"
    "      x-barbacane-dispatch:\n"
    "        name: mock\n"
    "        config:\n"
    "          status: 200\n"
    "      responses:\n"
    "        '200':\n"
    "          description: The updated user\n"
    "    delete:\n"
    "      operationId: deleteUser\n"
    "      summary: Delete a user\n"
    "      x-barbacane-dispatch:\n"
    "        name: mock\n"
    "        config:\n"
    "          status: 204\n"
    "      responses:\n"
    "        '204':\n"
    "          description: Deleted\n"
    "components:\n"
    "  schemas:\n"
    "    NewUser:\n"
    "      type: object\n"
    "      required: [name, email]\n"
    "      properties:\n"
    "        name:\n"
    "          type: string\n"
    "        email:\n"
    "          type: string\n"
    "          format: email\n"
    "    User:\n"
    "      type: object\n"
    "      required: [id, name, email]\n"
    "      properties:\n"
    "        id:\n"
    "          type: string\n"
    "          format: uuid\n"
    "        name:\n"
    "          type: string\n"
    "        email:\n"
    "          type: string\n"
    "          format: email\n";

typedef struct {
    const char *name, *version, *description, *tmpl;
} s_init_t;

static char *s_api_yaml(const s_init_t *in)
{
    s_str_t s = { 0 };
    s_puts(&s, "openapi: 3.1.0\ninfo:\n  title: ");
    s_quoted(&s, in->name);
    s_puts(&s, "\n  version: ");
    s_quoted(&s, in->version);
    if (in->description) {
        s_puts(&s, "\n  description: ");
        s_quoted(&s, in->description);
    }
    s_puts(&s, "\npaths:\n");
    s_puts(&s, s_health);
    if (strcmp(in->tmpl, "basic") == 0)
        s_puts(&s, s_users);
    return s.data;
}

static char *s_config_yaml(const s_init_t *in)
{
    s_str_t s = { 0 };
    s_puts(&s, "# Barbacane project configuration, generated by POST /init\nproject: ");
    s_quoted(&s, in->name);
    s_puts(&s, "\nspecs:\n  - api.yaml\nplugins:\n  - name: mock\n    type: dispatcher\n");
    return s.data;
}

/* Reads and validates the request; false after answering 400. */
static bool s_input(const pr_request_t *req, pr_out_t *out, json_t *doc, s_init_t *in)
{
    json_t *name = json_object_get(doc, "name"), *tmpl = json_object_get(doc, "template");
    json_t *ver = json_object_get(doc, "version"), *desc = json_object_get(doc, "description");
    bool blank = true;
    for (const char *p = json_string_value(name); p && *p; p++)
        blank &= isspace((unsigned char) *p) != 0;
    if (!json_is_string(name) || blank || cm_utf8_len(json_string_value(name)) > 200
        || strlen(json_string_value(name)) != json_string_length(name))
        return pr_out_invalid(out, req, name ? "invalid" : "required", "/name",
                              "name is required: a non-blank string of at most 200 characters"), false;
    in->name = json_string_value(name);
    in->tmpl = tmpl ? json_string_value(tmpl) : "basic";
    if (!in->tmpl || (strcmp(in->tmpl, "basic") && strcmp(in->tmpl, "minimal")))
        return pr_out_invalid(out, req, "invalid", "/template", "template must be basic or minimal"), false;
    in->version = ver ? json_string_value(ver) : "1.0.0";
    if (!in->version || !*in->version || cm_utf8_len(in->version) > 64
        || (ver && strlen(in->version) != json_string_length(ver)))
        return pr_out_invalid(out, req, "invalid", "/version", "version must be a non-empty string of at most 64 characters"), false;
    in->description = desc && !json_is_null(desc) ? json_string_value(desc) : NULL;
    if (desc && !json_is_null(desc) && (!in->description || cm_utf8_len(in->description) > 4096
                                        || strlen(in->description) != json_string_length(desc)))
        return pr_out_invalid(out, req, "invalid", "/description", "description must be a string of at most 4096 characters"), false;
    return true;
}

/* The generated document must load with our own loader and carry the exact name. */
static bool s_verify(const char *api, const char *name)
{
    cm_spec_doc_t *doc = cm_spec_load(api, strlen(api), NULL, NULL, 0, NULL);
    const char *title = NULL;
    bool ok = doc && cm_spec_classify(doc, NULL, NULL, &title, NULL) == 0 && title
              && strcmp(title, name) == 0;
    cm_spec_doc_destroy(&doc);
    return ok;
}

void reg_init_generate(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    (void) ctx;
    json_t *doc = pr_req_object(req, out);
    s_init_t in;
    if (!doc || !s_input(req, out, doc, &in)) {
        json_decref(doc);
        return;
    }
    char *api = s_api_yaml(&in), *cfg = s_config_yaml(&in);
    if (!api || !cfg || !s_verify(api, in.name)) {
        pr_out_problem(out, req, 500, "the generated spec did not load");
    } else {
        json_t *files = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]",
            "path", "barbacane.yaml", "content", cfg, "path", "api.yaml", "content", api,
            "path", ".gitignore", "content", "# Barbacane build outputs\n*.bca\n.barbacane/\n");
        json_t *steps = json_pack("[s, s, s, s]",
            "Register the mock dispatcher: POST /plugins (name=mock, type=dispatcher, file=mock.wasm)",
            "Upload api.yaml: POST /specs with the file in the multipart field 'file'",
            "Compile it: POST /specs/{id}/compile",
            "Deploy the artifact to your data planes: POST /projects/{projectId}/deploy");
        pr_out_json(out, 200, json_pack("{s:o, s:o}", "files", files, "next_steps", steps));
    }
    free(api);
    free(cfg);
    json_decref(doc);
}
