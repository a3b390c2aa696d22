/* PostgreSQL access through libpq. Owns one connection, its prepared-statement cache
 * (keyed by the address of each static SQL string) and the transaction flag. */
#include "cm_db.h"
#include "cm_log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CM_DB_MAX_STMTS 128
#define CM_DB_LOCK_KEY "727274001"

struct cm_db {
    PGconn *conn;
    char *conninfo;
    bool in_tx;
    int nstmts;
    const char *stmts[CM_DB_MAX_STMTS];
};

static void s_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void s_quiet_notices(void *arg, const char *msg)
{
    (void) arg;
    (void) msg;
}

cm_db_t *cm_db_new(const char *conninfo, int wait_ms)
{
    cm_db_t *self = calloc(1, sizeof *self);
    if (!self || !(self->conninfo = strdup(conninfo ? conninfo : ""))) {
        free(self);
        return NULL;
    }
    int delay = 50, waited = 0;
    for (;;) {
        self->conn = PQconnectdb(self->conninfo);
        if (PQstatus(self->conn) == CONNECTION_OK)
            break;
        cm_warn("database connection failed: %s", PQerrorMessage(self->conn));
        PQfinish(self->conn);
        self->conn = NULL;
        if (waited >= wait_ms) {
            free(self->conninfo);
            free(self);
            return NULL;
        }
        s_sleep_ms(delay);
        waited += delay;
        delay = delay * 2 > 2000 ? 2000 : delay * 2;
    }
    PQsetNoticeProcessor(self->conn, s_quiet_notices, NULL);
    return self;
}

void cm_db_destroy(cm_db_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_db_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

bool cm_db_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

const char *cm_db_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* The index of sql in the prepared cache, preparing it first when needed; -1 on failure. */
static int s_prepare(cm_db_t *self, const char *sql, int n)
{
    for (int i = 0; i < self->nstmts; i++)
        if (self->stmts[i] == sql)
            return i;
    if (self->nstmts == CM_DB_MAX_STMTS)
        return -1;
    char name[16];
    snprintf(name, sizeof name, "s%d", self->nstmts);
    PGresult *res = PQprepare(self->conn, name, sql, n, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        cm_error("prepare failed: %s", PQresultErrorMessage(res));
    PQclear(res);
    if (!ok)
        return -1;
    self->stmts[self->nstmts] = sql;
    return self->nstmts++;
}

static PGresult *s_exec_once(cm_db_t *self, const char *sql, int n, const char *const *vals,
                             const int *lens, const int *fmts, int binary)
{
    int idx = s_prepare(self, sql, n);
    if (idx < 0)
        return PQexecParams(self->conn, sql, n, NULL, vals, lens, fmts, binary);
    char name[16];
    snprintf(name, sizeof name, "s%d", idx);
    return PQexecPrepared(self->conn, name, n, vals, lens, fmts, binary);
}

/* After a lost connection: reconnect and forget the statements prepared on the old one. */
static bool s_recover(cm_db_t *self)
{
    if (PQstatus(self->conn) == CONNECTION_OK)
        return false;
    cm_warn("database connection lost; reconnecting");
    PQreset(self->conn);
    self->nstmts = 0;
    bool was_tx = self->in_tx;
    self->in_tx = false;
    return PQstatus(self->conn) == CONNECTION_OK && !was_tx;
}

static PGresult *s_exec(cm_db_t *self, const char *sql, int n, const char *const *vals,
                        const int *lens, const int *fmts, int binary)
{
    PGresult *res = s_exec_once(self, sql, n, vals, lens, fmts, binary);
    if (!cm_db_ok(res) && s_recover(self)) {
        PQclear(res);
        res = s_exec_once(self, sql, n, vals, lens, fmts, binary);
    }
    if (!res)
        res = PQmakeEmptyPGresult(self->conn, PGRES_FATAL_ERROR);
    return res;
}

PGresult *cm_db_exec(cm_db_t *self, const char *sql, int n, const char *const *vals,
                     const int *lens, const int *fmts)
{
    return s_exec(self, sql, n, vals, lens, fmts, 0);
}

PGresult *cm_db_exec_bin(cm_db_t *self, const char *sql, int n, const char *const *vals,
                         const int *lens, const int *fmts)
{
    return s_exec(self, sql, n, vals, lens, fmts, 1);
}

int cm_db_run(cm_db_t *self, const char *sql)
{
    PGresult *res = PQexec(self->conn, sql);
    if (!cm_db_ok(res) && !self->in_tx && s_recover(self)) {
        PQclear(res);
        res = PQexec(self->conn, sql);
    }
    int rc = cm_db_ok(res) ? 0 : -1;
    if (rc)
        cm_error("statement failed: %s", res ? PQresultErrorMessage(res) : "out of memory");
    PQclear(res);
    return rc;
}

int cm_db_begin(cm_db_t *self)
{
    if (cm_db_run(self, "BEGIN") != 0)
        return -1;
    self->in_tx = true;
    return 0;
}

int cm_db_commit(cm_db_t *self)
{
    self->in_tx = false;
    return cm_db_run(self, "COMMIT");
}

void cm_db_rollback(cm_db_t *self)
{
    if (!self->in_tx && PQtransactionStatus(self->conn) == PQTRANS_IDLE)
        return;
    self->in_tx = false;
    PGresult *res = PQexec(self->conn, "ROLLBACK");
    PQclear(res);
}

bool cm_db_ping(cm_db_t *self)
{
    PGresult *res = cm_db_exec(self, "SELECT 1", 0, NULL, NULL, NULL);
    bool ok = cm_db_ok(res);
    PQclear(res);
    return ok;
}

static bool s_applied(cm_db_t *self, int version)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *vals[] = { v };
    PGresult *res = PQexecParams(self->conn, "SELECT 1 FROM schema_migrations WHERE version = $1",
                                 1, NULL, vals, NULL, NULL, 0);
    bool applied = cm_db_ok(res) && PQntuples(res) > 0;
    PQclear(res);
    return applied;
}

static int s_apply(cm_db_t *self, const cm_migration_t *m)
{
    if (s_applied(self, m->version))
        return 0;
    char v[16];
    snprintf(v, sizeof v, "%d", m->version);
    const char *vals[] = { v, m->name };
    if (cm_db_begin(self) != 0)
        return -1;
    if (cm_db_run(self, m->sql) != 0) {
        cm_db_rollback(self);
        return -1;
    }
    PGresult *res = PQexecParams(self->conn,
                                 "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                 2, NULL, vals, NULL, NULL, 0);
    bool ok = cm_db_ok(res);
    PQclear(res);
    if (!ok || cm_db_commit(self) != 0) {
        cm_db_rollback(self);
        return -1;
    }
    cm_info("applied migration %s", m->name);
    return 0;
}

int cm_db_migrate(cm_db_t *self)
{
    if (cm_db_run(self, "SELECT pg_advisory_lock(" CM_DB_LOCK_KEY ")") != 0)
        return -1;
    int rc = cm_db_run(self, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                             " version integer PRIMARY KEY, name text NOT NULL,"
                             " applied_at timestamptz NOT NULL DEFAULT now())");
    for (int i = 0; rc == 0 && i < cm_migrations_count; i++)
        rc = s_apply(self, &cm_migrations[i]);
    cm_db_run(self, "SELECT pg_advisory_unlock(" CM_DB_LOCK_KEY ")");
    return rc;
}
