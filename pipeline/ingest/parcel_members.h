/* Every parcel of a parcel set into the store, with the overlaps between them, so
 * that decide asks the registry about each one (schemas/030_parcel_members.sql):
 * also a parcel whose geometry was refused, one with no pixel left after the inner
 * buffer, and one whose ground other parcels cover. */
#ifndef MOWCHECK_PARCEL_MEMBERS_H
#define MOWCHECK_PARCEL_MEMBERS_H

#include "parcels.h"
#include "store.h"

/* Default of the setting parcel_overlap_share. */
#define PARCEL_OVERLAP_SHARE_DEFAULT 0.1

/* Once per set (nothing to do where the store has its members): finds the pairs
 * of parcels that share more than min_share of either one's area, warns about
 * each naming both parcels, and stores members and overlaps. min_share <= 0:
 * the default. *n_overlaps (may be NULL): the pairs found now. */
int parcel_members_record(store *s, const parcel_set *set, double min_share,
                          size_t *n_overlaps);

#endif
