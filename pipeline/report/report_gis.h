/* Flagged claims for GIS users, all in EPSG:4326 (WGS 84, longitude and latitude):
 * GeoJSON (RFC 7946), GeoPackage, and CSV with a WKT geometry column (written to a file,
 * with a .prj, a .csvt of the column types and an OGR .vrt that declares the CRS),
 * openable in QGIS. The geometry is read from the parcel file with OGR and reprojected;
 * the properties come from the store. */
#ifndef MOWCHECK_REPORT_GIS_H
#define MOWCHECK_REPORT_GIS_H

#include <stddef.h>

#include <ogr_api.h>

#include "store.h"

typedef enum { REPORT_GIS_GEOJSON = 0, REPORT_GIS_CSV, REPORT_GIS_GPKG } report_gis_format;

typedef struct report_gis_options {
    int season;               /* 0: all seasons */
    const char *parcels_path; /* NULL: the store's current parcel set (parcel_sets.source_path) */
    const char *id_field;     /* NULL: the parcel set's id field */
    report_gis_format format;
    const char *output;       /* NULL or "-": stdout; a device or pipe in place; a file whole
                                 or not at all (output_write) */
    store_series_filter observed; /* for the tile and events (store_report_detail_load) */
    const store_report_prefetch *prefetch; /* as report_options.prefetch */
} report_gis_options;

/* "geojson", "csv" or "gpkg". */
int report_gis_format_parse(const char *text, report_gis_format *format);

/* Writes every flagged claim (not_mowed, inconclusive) as one feature / row:
 * claim_id, parcel_id, season, outcome, case_number, reviewed (null / empty where not
 * reviewed), reason; CSV then wkt; then what the report shows: p_mowed (the figure the
 * decision rule used; null where none), tile, scheme, window_start, window_end (dates),
 * rule (the decision rule's code), n_events and event_dates ("start/end; ..."). A
 * flagged parcel missing from the parcel file is written without geometry and named in
 * a warning. *n_written: features written. */
int report_flagged_export(store *s, const report_gis_options *o, size_t *n_written);

/* The flagged claims (as store_flagged_load) with each one's parcel geometry from the
 * parcel file (NULL: the store's current one), reprojected to EPSG:4326 (lon, lat). */
typedef struct report_flagged_set {
    store_flagged *rows;
    size_t n;
    OGRGeometryH *geoms;  /* per row; NULL where the parcel is not in the file */
    size_t *by_parcel;    /* row indices sorted by parcel_id */
} report_flagged_set;

int report_flagged_set_load(store *s, int season, const char *parcels_path,
                            const char *id_field, report_flagged_set *set);
void report_flagged_set_free(report_flagged_set *set);

#endif
