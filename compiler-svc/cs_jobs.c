/* The compilation queue in PostgreSQL: claim (FOR UPDATE SKIP LOCKED), input loading, lease
 * renewal, and the outcome stored only by the lease holder. Owns what a cs_job_t holds. */
#include "cs.h"
#include "cm_log.h"
#include "cm_util.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CS_MAX_INPUTS 64

static const char *s_claim_sql =
    "UPDATE compilations c SET status = 'compiling', claimed_by = $1, attempts = c.attempts + 1,"
    "       lease_until = now() + $2::int * interval '1 second'"
    " WHERE c.id = (SELECT id FROM compilations"
    "               WHERE (status = 'pending' AND (lease_until IS NULL OR lease_until <= now()))"
    "                  OR (status = 'compiling' AND lease_until < now())"
    "               ORDER BY created_at, id FOR UPDATE SKIP LOCKED LIMIT 1)"
    " RETURNING c.id, c.project_id, c.attempts, c.artifact_format, c.production,"
    "   to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "   c.spec_id, c.spec_revision, c.additional_specs::text";

void cs_job_clear(cs_job_t *job)
{
    for (size_t i = 0; i < job->ninputs; i++) {
        free(job->files ? job->files[i] : NULL);
        free(job->data ? job->data[i] : NULL);
    }
    free(job->inputs);
    free(job->files);
    free(job->data);
    free(job->spec_ids);
    free(job->revisions);
    memset(job, 0, sizeof *job);
}

/* The pinned inputs: the primary spec, then each additional one in request order. */
static int s_pins(cs_job_t *job, const char *primary, int revision, const char *extra)
{
    json_error_t err;
    json_t *list = json_loads(extra, 0, &err);
    size_t n = 1 + (json_is_array(list) ? json_array_size(list) : 0);
    if (n > CS_MAX_INPUTS) {
        json_decref(list);
        return -1;
    }
    job->spec_ids = calloc(n, sizeof *job->spec_ids);
    job->revisions = calloc(n, sizeof *job->revisions);
    if (!job->spec_ids || !job->revisions) {
        json_decref(list);
        return -1;
    }
    snprintf(job->spec_ids[0], 37, "%s", primary);
    job->revisions[0] = revision;
    for (size_t i = 1; i < n; i++) {
        json_t *e = json_array_get(list, i - 1);
        snprintf(job->spec_ids[i], 37, "%s", json_string_value(json_object_get(e, "spec_id"))
                 ? json_string_value(json_object_get(e, "spec_id")) : "");
        job->revisions[i] = (int) json_integer_value(json_object_get(e, "revision"));
    }
    job->ninputs = n;
    json_decref(list);
    return 0;
}

int cs_job_claim(cm_db_t *db, const char *worker, int lease_s, cs_job_t *job)
{
    memset(job, 0, sizeof *job);
    char lease[16];
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *vals[] = { worker, lease };
    PGresult *res = cm_db_exec(db, s_claim_sql, 2, vals, NULL, NULL);
    int rc = !cm_db_ok(res) ? -1 : PQntuples(res) == 1 ? 1 : 0;
    if (rc == 1) {
        snprintf(job->id, sizeof job->id, "%s", PQgetvalue(res, 0, 0));
        snprintf(job->project_id, sizeof job->project_id, "%s", PQgetvalue(res, 0, 1));
        snprintf(job->worker, sizeof job->worker, "%s", worker);
        job->attempts = atoi(PQgetvalue(res, 0, 2));
        job->format = atoi(PQgetvalue(res, 0, 3));
        job->production = PQgetvalue(res, 0, 4)[0] == 't';
        snprintf(job->compiled_at, sizeof job->compiled_at, "%s", PQgetvalue(res, 0, 5));
        if (s_pins(job, PQgetvalue(res, 0, 6), atoi(PQgetvalue(res, 0, 7)),
                   PQgetvalue(res, 0, 8)) != 0)
            job->ninputs = 0;   /* loading reports it */
    } else if (rc < 0) {
        cm_warn("claiming a compilation failed: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    return rc;
}

int cs_job_load(cm_db_t *db, cs_job_t *job, char *why, size_t whylen)
{
    size_t n = job->ninputs;
    if (n == 0) {
        snprintf(why, whylen, "the compilation's inputs are unreadable");
        return 1;
    }
    job->inputs = calloc(n, sizeof *job->inputs);
    job->files = calloc(n, sizeof *job->files);
    job->data = calloc(n, sizeof *job->data);
    if (!job->inputs || !job->files || !job->data)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char rev[16];
        snprintf(rev, sizeof rev, "%d", job->revisions[i]);
        const char *vals[] = { job->spec_ids[i], rev };
        PGresult *res = cm_db_exec_bin(db,
            "SELECT filename, content FROM spec_revisions WHERE spec_id = $1::uuid"
            " AND revision = $2::int", 2, vals, NULL, NULL);
        int rc = !cm_db_ok(res) ? -1 : PQntuples(res) == 1 ? 0 : 1;
        if (rc == 0) {
            size_t len = (size_t) PQgetlength(res, 0, 1);
            job->files[i] = strndup(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
            job->data[i] = malloc(len ? len : 1);
            if (!job->files[i] || !job->data[i])
                rc = -1;
            else
                memcpy(job->data[i], PQgetvalue(res, 0, 1), len);
            job->inputs[i] = (cc_input_t) { job->files[i], job->data[i], len };
        } else if (rc == 1) {
            snprintf(why, whylen, "spec %s revision %d no longer exists", job->spec_ids[i],
                     job->revisions[i]);
        }
        PQclear(res);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- outcomes ------------------------------------------------------------------------ */

/* The findings columns: failures the job met outside the compiler become one E1000 error. */
static void s_findings(const cc_result_t *r, const char *reason, char **errors, char **warnings)
{
    json_t *e = r ? cc_findings_json(r, CC_SEV_ERROR) : json_array();
    json_t *w = r ? cc_findings_json(r, CC_SEV_WARNING) : json_array();
    if (reason && e)
        json_array_append_new(e, json_pack("{s:s, s:s, s:n, s:n}", "code", "E1000",
                                           "message", reason, "location", "operation"));
    *errors = e ? json_dumps(e, JSON_COMPACT) : NULL;
    *warnings = w ? json_dumps(w, JSON_COMPACT) : NULL;
    json_decref(e);
    json_decref(w);
}

/* The links as JSON records (any number of them, no literal to size). */
static char *s_links(const cs_job_t *job, const cc_result_t *r, bool plugins)
{
    json_t *a = json_array();
    size_t n = plugins ? r->nplugins : job->ninputs;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, plugins
            ? json_pack("{s:s, s:s}", "n", r->plugins[i].name, "v", r->plugins[i].version)
            : json_pack("{s:s, s:i}", "s", job->spec_ids[i], "r", job->revisions[i]));
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return text;
}

/* The artifact row and its links, inside the caller's transaction. */
static bool s_store_artifact(cm_db_t *db, const cs_job_t *job, const cc_result_t *r,
                             const char *aid)
{
    const cc_bca_t *a = &r->artifact;
    char size[24], format[8];
    snprintf(size, sizeof size, "%zu", a->len);
    snprintf(format, sizeof format, "%d", job->format);
    char *specs = s_links(job, r, false), *plugins = s_links(job, r, true);
    const char *vals[] = { aid, job->id, job->project_id, a->manifest, a->sha256, size,
                           a->artifact_hash, format, BB_VERSION, job->compiled_at,
                           (const char *) a->data, specs, plugins };
    int lens[13] = { 0 }, fmts[13] = { 0 };
    lens[10] = (int) a->len;
    fmts[10] = 1;
    PGresult *res = specs && plugins ? cm_db_exec(db,
        "WITH a AS (INSERT INTO artifacts (id, compilation_id, project_id, manifest, sha256,"
        "   size_bytes, artifact_hash, artifact_format, compiler_version, compiled_at, content)"
        "   VALUES ($1, $2, $3, $4::json, $5, $6::bigint, $7, $8::int, $9, $10::timestamptz, $11)"
        "   RETURNING id),"
        " s AS (INSERT INTO artifact_specs (artifact_id, spec_id, revision)"
        "   SELECT a.id, x.s, x.r FROM a, json_to_recordset($12::json) AS x(s uuid, r int)"
        "   ON CONFLICT DO NOTHING)"
        " INSERT INTO artifact_plugins (artifact_id, plugin_name, plugin_version)"
        "   SELECT a.id, x.n, x.v FROM a, json_to_recordset($13::json) AS x(n text, v text)",
        13, vals, lens, fmts) : NULL;
    bool ok = res && cm_db_ok(res);
    if (!ok)
        cm_warn("storing the artifact of %s failed: %s", job->id,
                res ? PQresultErrorMessage(res) : "out of memory");
    PQclear(res);
    free(specs);
    free(plugins);
    return ok;
}

int cs_job_finish(cm_db_t *db, const cs_job_t *job, const cc_result_t *r, const char *reason)
{
    bool ok = r && r->status == CC_OK && !reason;
    char aid[37] = "", *errors = NULL, *warnings = NULL;
    if (ok)
        cm_uuid_v4(aid);
    s_findings(r, reason, &errors, &warnings);
    if (!errors || !warnings || cm_db_begin(db) != 0) {
        free(errors);
        free(warnings);
        return -1;
    }
    const char *vals[] = { job->id, job->worker, ok ? "succeeded" : "failed", ok ? aid : NULL,
                           errors, warnings };
    PGresult *res = cm_db_exec(db,
        "UPDATE compilations SET status = $3, artifact_id = $4::uuid, errors = $5::jsonb,"
        "   warnings = $6::jsonb, completed_at = now(), lease_until = NULL"
        " WHERE id = $1 AND claimed_by = $2 AND status = 'compiling' RETURNING id",
        6, vals, NULL, NULL);
    int rc = !cm_db_ok(res) ? -1 : PQntuples(res) == 1 ? 0 : 1;
    PQclear(res);
    free(errors);
    free(warnings);
    if (rc == 0 && ok && !s_store_artifact(db, job, r, aid))
        rc = -1;
    if (rc != 0 || cm_db_commit(db) != 0) {
        cm_db_rollback(db);
        return rc != 0 ? rc : -1;
    }
    return 0;
}

int cs_job_release(cm_db_t *db, const cs_job_t *job, int delay_ms, int max_attempts,
                   const char *reason)
{
    char delay[16], max[16], *errors = NULL, *warnings = NULL;
    snprintf(delay, sizeof delay, "%d", delay_ms);
    snprintf(max, sizeof max, "%d", max_attempts);
    char full[512];
    snprintf(full, sizeof full, "gave up after %d attempts: %s", job->attempts, reason);
    s_findings(NULL, full, &errors, &warnings);
    const char *vals[] = { job->id, job->worker, delay, max, errors };
    PGresult *res = cm_db_exec(db,
        "UPDATE compilations SET claimed_by = NULL,"
        "   status = CASE WHEN attempts >= $4::int THEN 'failed' ELSE 'pending' END,"
        "   errors = CASE WHEN attempts >= $4::int THEN $5::jsonb ELSE errors END,"
        "   completed_at = CASE WHEN attempts >= $4::int THEN now() END,"
        "   lease_until = CASE WHEN attempts >= $4::int THEN NULL"
        "                      ELSE now() + $3::int * interval '1 millisecond' END"
        " WHERE id = $1 AND claimed_by = $2 AND status = 'compiling'", 5, vals, NULL, NULL);
    int rc = cm_db_ok(res) ? 0 : -1;
    PQclear(res);
    free(errors);
    free(warnings);
    return rc;
}

int cs_job_renew(cm_db_t *db, const char *const *ids, const char *const *workers, size_t n,
                 int lease_s, bool *alive)
{
    if (n == 0)
        return 0;
    json_t *jobs = json_array();
    for (size_t i = 0; jobs && i < n; i++) {
        alive[i] = false;
        json_array_append_new(jobs, json_pack("{s:s, s:s}", "id", ids[i], "w", workers[i]));
    }
    char *list = jobs && json_array_size(jobs) == n ? json_dumps(jobs, JSON_COMPACT) : NULL;
    json_decref(jobs);
    if (!list)
        return -1;
    char lease[16];
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *vals[] = { list, lease };
    PGresult *res = cm_db_exec(db,
        "UPDATE compilations c SET lease_until = now() + $2::int * interval '1 second'"
        " FROM json_to_recordset($1::json) AS j(id uuid, w text)"
        " WHERE c.id = j.id AND c.claimed_by = j.w AND c.status = 'compiling' RETURNING c.id::text",
        2, vals, NULL, NULL);
    free(list);
    if (!cm_db_ok(res)) {
        PQclear(res);
        return -1;   /* the database is away: nobody can take the jobs meanwhile either */
    }
    for (int r = 0; r < PQntuples(res); r++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(PQgetvalue(res, r, 0), ids[i]) == 0)
                alive[i] = true;
    PQclear(res);
    return 0;
}

/* ---- plugins ------------------------------------------------------------------------- */

static char **s_functions(const char *json_text, size_t *n)
{
    json_error_t err;
    json_t *a = json_loads(json_text, 0, &err);
    size_t count = json_is_array(a) ? json_array_size(a) : 0;
    char **out = count ? calloc(count, sizeof *out) : NULL;
    *n = 0;
    for (size_t i = 0; out && i < count; i++)
        if (json_is_string(json_array_get(a, i)))
            out[(*n)++] = strdup(json_string_value(json_array_get(a, i)));
    json_decref(a);
    return out;
}

int cs_plugin_lookup(void *arg, const char *name, const char *version, cc_plugin_t *out)
{
    cm_db_t *db = arg;
    const char *vals[] = { name, version };
    PGresult *res = cm_db_exec_bin(db,
        "SELECT name, version, plugin_type, wasm, config_schema::text, caps_from_manifest,"
        "   body_access, array_to_json(host_functions)::text"
        " FROM plugins WHERE name = $1 AND ($2::text IS NULL OR version = $2)"
        " ORDER BY sort_key DESC LIMIT 1", 2, vals, NULL, NULL);
    int rc = !cm_db_ok(res) ? -1 : PQntuples(res) == 1 ? 1 : 0;
    if (rc == 1) {
        memset(out, 0, sizeof *out);
        out->name = strndup(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
        out->version = strndup(PQgetvalue(res, 0, 1), (size_t) PQgetlength(res, 0, 1));
        out->plugin_type = strndup(PQgetvalue(res, 0, 2), (size_t) PQgetlength(res, 0, 2));
        out->wasm_len = (size_t) PQgetlength(res, 0, 3);
        out->wasm = malloc(out->wasm_len ? out->wasm_len : 1);
        if (out->wasm)
            memcpy(out->wasm, PQgetvalue(res, 0, 3), out->wasm_len);
        out->config_schema = strndup(PQgetvalue(res, 0, 4), (size_t) PQgetlength(res, 0, 4));
        out->caps_from_manifest = PQgetvalue(res, 0, 5)[0] != 0;
        out->body_access = PQgetvalue(res, 0, 6)[0] != 0;
        char *fns = strndup(PQgetvalue(res, 0, 7), (size_t) PQgetlength(res, 0, 7));
        out->host_functions = fns ? s_functions(fns, &out->n_host_functions) : NULL;
        free(fns);
        if (!out->name || !out->version || !out->plugin_type || !out->wasm || !out->config_schema) {
            cc_plugin_clear(out);
            rc = -1;
        }
    } else if (rc < 0) {
        cm_warn("plugin lookup failed: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    return rc;
}
