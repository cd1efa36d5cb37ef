//! The system tests, one binary (linking the server once instead of once per
//! file): each module starts the real application against the real Redis and
//! Postgres and checks what a user or operator would notice.

mod accounts;
mod admin;
mod captcha;
mod cluster;
mod connections;
mod data_loss;
mod hostile_input;
mod openapi;
mod operations;
mod order_workers;
mod pages;
mod pictures;
mod public_reads;
mod purchase;
mod rate_limits;
mod rebuying;
mod sale_cache;
mod sales_api;
mod sign_in;
mod waiting_room;
