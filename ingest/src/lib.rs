//! Ingest: writes canonical readings from the bus to InfluxDB in batches.
