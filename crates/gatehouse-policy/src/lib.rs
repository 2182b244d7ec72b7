//! gatehouse-policy
