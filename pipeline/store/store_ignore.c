/* Deliveries an operator acknowledged as permanently bad (migration 050). */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_conn.h"

int store_scene_ignore(store *s, const char *scene, const char *reason)
{
    const char *params[] = {scene, reason};
    if (store_exec(s, "recording the ignored scene",
                   "INSERT INTO scene_ignores (scene, reason) VALUES ($1, $2) "
                   "ON CONFLICT (scene) DO UPDATE SET reason = EXCLUDED.reason, "
                   "ignored_by = current_user, ignored_at = now()",
                   2, params) != MC_OK)
        return mc_fail_wrap("scene %s", scene);
    return MC_OK;
}

int store_scene_ignored(store *s, const char *scene_id, const char *path, int *ignored,
                        char *reason, size_t reason_size)
{
    const char *slash = strrchr(path, '/');
    const char *params[] = {scene_id && *scene_id ? scene_id : path, path,
                            slash ? slash + 1 : path};
    *ignored = 0;
    PGresult *r = store_query(s, "looking up ignored scenes",
                              "SELECT reason FROM scene_ignores WHERE scene IN ($1, $2, $3) "
                              "ORDER BY ignored_at DESC LIMIT 1",
                              3, params);
    if (!r)
        return MC_ERR;
    if (PQntuples(r) > 0) {
        *ignored = 1;
        if (reason)
            snprintf(reason, reason_size, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return MC_OK;
}
