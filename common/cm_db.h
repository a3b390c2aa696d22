/* PostgreSQL access through libpq: connect with retry, parameterised queries over a
 * per-connection prepared-statement cache, transactions, and the migration runner. */
#ifndef CM_DB_H
#define CM_DB_H
#include <libpq-fe.h>
#include <stdbool.h>

typedef struct cm_db cm_db_t;

typedef struct {
    int version;
    const char *name;
    const char *sql;
} cm_migration_t;

/* The migrations compiled into the binary (common/sql/NNN_name.sql), in version order. */
extern const cm_migration_t cm_migrations[];
extern const int cm_migrations_count;

/* Connects, retrying with exponential backoff for up to wait_ms. NULL when it never succeeds.
 * The caller owns the result. */
cm_db_t *cm_db_new(const char *conninfo, int wait_ms);
void cm_db_destroy(cm_db_t **self_p);

/* Runs a parameterised statement (text or binary parameters; fmts/lens may be NULL for text).
 * sql must be a string with static lifetime: its address keys the prepared-statement cache.
 * Outside a transaction a lost connection is re-established and the statement retried once.
 * Returns a result the caller must PQclear (never NULL; check cm_db_ok). */
PGresult *cm_db_exec(cm_db_t *self, const char *sql, int n, const char *const *vals,
                     const int *lens, const int *fmts);
/* The same with results in binary format (for bytea columns). */
PGresult *cm_db_exec_bin(cm_db_t *self, const char *sql, int n, const char *const *vals,
                         const int *lens, const int *fmts);
/* True when res is COMMAND_OK or TUPLES_OK. */
bool cm_db_ok(const PGresult *res);
/* The SQLSTATE of a failed result ("" when none), borrowed from res. */
const char *cm_db_sqlstate(const PGresult *res);
/* Plain statements (no parameters, may be several); 0 or -1 (logged). */
int cm_db_run(cm_db_t *self, const char *sql);
int cm_db_begin(cm_db_t *self);
int cm_db_commit(cm_db_t *self);
/* Rolls back; safe to call when no transaction is open. */
void cm_db_rollback(cm_db_t *self);
/* True when the server answers a trivial query now. */
bool cm_db_ping(cm_db_t *self);
/* Applies pending migrations under pg_advisory_lock; 0 or -1 (logged). */
int cm_db_migrate(cm_db_t *self);

#endif
