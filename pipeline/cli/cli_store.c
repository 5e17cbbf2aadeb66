/* Opening the store from the settings: the DSN when one is set, else the private
 * cluster in the state directory. Shared by every subcommand that needs the database. */
#include "cli.h"
#include "error.h"

int cli_open_store(const mc_settings *set, store **out)
{
    char state_dir[4096];
    if (!set->db[0] && settings_state_dir(set, state_dir, sizeof state_dir) != MC_OK)
        return MC_ERR;
    store_options opt = {.dsn = set->db, .state_dir = set->db[0] ? NULL : state_dir};
    return store_open(&opt, out);
}
