/* One batch at a time: the stage lock that keeps two `mowcheck run` on one
 * database apart (the second waits), freed when its holder's connection ends; and
 * two detect stages storing the same parcel-seasons at once, which take turns
 * instead of one failing on a duplicate key. */
#include <pthread.h>
#include <unistd.h>

#include "store.h"
#include "store_test.h"
#include "test.h"

static char dsn[512];

static void test_stage_lock(void)
{
    store *a = store_test_open(dsn, NULL), *b = store_test_open(dsn, NULL);
    REQUIRE(a && b);
    int got = -1;
    REQUIRE(store_stage_lock(a, "run", 0, &got) == MC_OK);
    CHECK_INT(got, 1);
    REQUIRE(store_stage_lock(b, "run", 0, &got) == MC_OK);
    CHECK_INT(got, 0); /* another run holds it */
    REQUIRE(store_stage_lock(b, "ingest", 0, &got) == MC_OK);
    CHECK_INT(got, 1); /* another name, another lock */
    store_stage_unlock(a, "run");
    REQUIRE(store_stage_lock(b, "run", 0, &got) == MC_OK);
    CHECK_INT(got, 1);
    store_close(b); /* the holder goes away (as a killed run does): the lock is free */
    REQUIRE(store_stage_lock(a, "run", 1, &got) == MC_OK);
    CHECK_INT(got, 1);
    store_close(a);
}

typedef struct detect_job {
    store *s;
    int64_t run_id;
    int rc;
} detect_job;

static void *replace_many(void *arg)
{
    detect_job *j = arg;
    enum { N = 2000 };
    static char ids[2][N][16];
    store_detected_season *v = calloc(N, sizeof *v);
    store_detected_event *e = calloc(N, sizeof *e);
    int slot = j->run_id % 2;
    for (int i = 0; i < N; i++) {
        snprintf(ids[slot][i], sizeof ids[slot][i], "P-%05d", i);
        v[i] = (store_detected_season){ids[slot][i], 2026, 10, 1, 0.9, "confident_event", 0};
        e[i] = (store_detected_event){ids[slot][i], 2026, 20600, 20610, 20605, 0.97};
    }
    j->rc = MC_OK;
    for (int k = 0; k < 5 && j->rc == MC_OK; k++)
        j->rc = store_detection_replace(j->s, j->run_id, "model@1", v, N, e, N);
    if (j->rc != MC_OK)
        fprintf(stderr, "run %lld: %s\n", (long long)j->run_id, mc_error_message());
    free(v);
    free(e);
    return NULL;
}

static void test_concurrent_detect(void)
{
    detect_job j[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        j[i].s = store_test_open(dsn, NULL);
        REQUIRE(j[i].s && store_run_begin(j[i].s, "detect", &j[i].run_id) == MC_OK);
    }
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&t[i], NULL, replace_many, &j[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(j[0].rc, MC_OK);
    CHECK_INT(j[1].rc, MC_OK);
    CHECK_INT(store_test_int(j[0].s, "SELECT count(*) FROM parcel_seasons"), 2000);
    CHECK_INT(store_test_int(j[0].s, "SELECT count(*) FROM events"), 2000);
    for (int i = 0; i < 2; i++)
        store_close(j[i].s);
}

int main(void)
{
    store_test_create_db("store_locks", dsn, sizeof dsn);
    test_stage_lock();
    test_concurrent_detect();
    return test_summary();
}
