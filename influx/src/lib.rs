//! A small InfluxDB client: line-protocol builder that cannot emit malformed lines, v1 writes, InfluxQL queries with bind parameters.
