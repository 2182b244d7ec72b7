//! gatehouse-api

pub mod device;
