//! gatehouse-core
