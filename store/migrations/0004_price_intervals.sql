-- Dynamic prices received on the bus (`zw/v1/prices/{series}`), kept so an API restart still prices with
-- them: one row per series and interval start (RFC 3339 UTC, as every instant here), the interval's length
-- and the net price in milli-cent per kWh. A newer price for an interval replaces the older (upsert).
CREATE TABLE price_intervals (
    series TEXT NOT NULL,
    start_at TEXT NOT NULL,
    step_minutes BIGINT NOT NULL,
    price_mct BIGINT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (series, start_at)
);
