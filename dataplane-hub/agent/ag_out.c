/* JSON-lines events on stdout and the --sessions summary of artifact arrivals. Owns a table of
 * AG_OUT_ARTIFACTS recent artifacts, each with one bit per session (so a session that gets the
 * same notification twice is counted once). */
#include "ag_out.h"
#include "cm_util.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char id[37];
    unsigned char *bits;
    size_t count;
    int64_t first_ms, last_ms;
    bool done;
} s_artifact_t;

struct ag_out {
    FILE *f;
    ag_ev_class_t min;
    size_t n;
    s_artifact_t arts[AG_OUT_ARTIFACTS];
    size_t next_slot;
};

ag_out_t *ag_out_new(FILE *f, ag_ev_class_t min_class, size_t nsessions)
{
    ag_out_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->f = f;
    o->min = min_class;
    o->n = nsessions;
    return o;
}

void ag_out_destroy(ag_out_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < AG_OUT_ARTIFACTS; i++)
        free((*self_p)->arts[i].bits);
    free(*self_p);
    *self_p = NULL;
}

json_t *ag_out_str(const char *s)
{
    json_t *v = json_string(s ? s : "");
    if (v)
        return v;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char) *p >= 0x80 || (unsigned char) *p < 0x20)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

void ag_out_emit(ag_out_t *self, ag_ev_class_t cls, const char *event, long session,
                 json_t *fields)
{
    if (cls < self->min) {
        json_decref(fields);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string(event));
    if (session >= 0)
        json_object_set_new(o, "session", json_integer(session));
    if (json_is_object(fields))
        json_object_update(o, fields);
    json_decref(fields);
    if (!json_object_get(o, "at_ms"))
        json_object_set_new(o, "at_ms", json_integer(cm_wall_ms()));
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!line)
        return;
    fputs(line, self->f);
    fputc('\n', self->f);
    fflush(self->f);
    free(line);
}

static s_artifact_t *s_slot(ag_out_t *self, const char *id)
{
    for (size_t i = 0; i < AG_OUT_ARTIFACTS; i++)
        if (self->arts[i].bits && strcmp(self->arts[i].id, id) == 0)
            return &self->arts[i];
    s_artifact_t *a = &self->arts[self->next_slot];
    self->next_slot = (self->next_slot + 1) % AG_OUT_ARTIFACTS;
    free(a->bits);
    memset(a, 0, sizeof *a);
    a->bits = calloc(self->n / 8 + 1, 1);
    if (!a->bits)
        return NULL;
    snprintf(a->id, sizeof a->id, "%s", id);
    return a;
}

void ag_out_artifact_seen(ag_out_t *self, size_t session, const char *artifact_id,
                          int64_t at_ms)
{
    s_artifact_t *a = session < self->n ? s_slot(self, artifact_id) : NULL;
    if (!a || a->done || (a->bits[session / 8] & (1u << (session % 8))))
        return;
    a->bits[session / 8] |= (unsigned char) (1u << (session % 8));
    if (a->count++ == 0)
        a->first_ms = at_ms;
    a->last_ms = at_ms;
    if (a->count < self->n)
        return;
    a->done = true;
    ag_out_emit(self, AG_EV_SUMMARY, "all_artifact_available", -1,
                json_pack("{s:s, s:I, s:I, s:I, s:I}", "artifact_id", a->id, "sessions",
                          (json_int_t) self->n, "first_at_ms", (json_int_t) a->first_ms,
                          "last_at_ms", (json_int_t) a->last_ms, "spread_ms",
                          (json_int_t) (a->last_ms - a->first_ms)));
}
