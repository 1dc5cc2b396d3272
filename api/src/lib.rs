//! HTTP API: live and historical usage for facility managers, residents and the parks department.
