-- 015 detector output: mowing events and per parcel-season summaries, as the
-- detect stage stores them and the decide stage reads them. A detect run
-- replaces the rows of the parcel-seasons it covered (delete + insert in one
-- transaction), so these tables always hold the latest detection.
-- Dates are calendar dates; a season is a calendar year.

-- One mowing event: it happened in [date_start, date_end] (the last clear
-- observation before the cut and the first one after it); `date` is the
-- detector's best estimate; confidence is a calibrated probability.
CREATE TABLE events (
    parcel_id     text NOT NULL,
    season        integer NOT NULL,
    date_start    date NOT NULL,
    date_end      date NOT NULL,
    date          date NOT NULL,
    confidence    double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    model_version text NOT NULL,
    run_id        bigint REFERENCES runs (run_id),
    CHECK (date_start <= date AND date <= date_end),
    PRIMARY KEY (parcel_id, season, date)
);

-- What the detector says about a parcel-season: clear observations, whether the
-- evidence suffices for an automatic call, the largest candidate probability, and
-- why (detect_reason_text: confident_event, uncertain_event, no_event_covered,
-- no_observations, too_few_observations, coverage_gap).
CREATE TABLE parcel_seasons (
    parcel_id         text NOT NULL,
    season            integer NOT NULL,
    n_clear_obs       integer NOT NULL CHECK (n_clear_obs >= 0),
    sufficient        boolean NOT NULL,
    mowed_probability double precision NOT NULL,
    reason            text NOT NULL,
    model_version     text NOT NULL,
    run_id            bigint REFERENCES runs (run_id),
    PRIMARY KEY (parcel_id, season)
);
