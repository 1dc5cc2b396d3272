//! The API's integration tests, one binary: the router driven without sockets (`oneshot`) on the model's
//! small town, with its scope rules, JWT users and device health.

mod accuracy;
mod admin;
mod business;
mod common;
mod health;
mod jwt;
mod matrix;
mod peak;
mod router;
mod scope;
mod trees;
