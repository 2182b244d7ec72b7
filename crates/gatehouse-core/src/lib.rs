//! gatehouse-core

pub mod device;
