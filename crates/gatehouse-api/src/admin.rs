//! Wire types of the admin API (`/api/v1`, DESIGN section 10). Conventions: JSON with
//! `snake_case` fields; times are RFC 3339 UTC strings; ids are UUIDs; lists are pages of
//! `{"items": […], "next": cursor-or-null}` (pass `next` back as `after`); request bodies refuse
//! unknown fields. Choices where DESIGN is silent are in `docs/admin-api.md`.

pub mod apps;
pub mod authorization_server;
pub mod common;
pub mod enrollments;
pub mod groups;
pub mod logs;
pub mod policies;
pub mod risk;
pub mod sessions;
pub mod users;
pub mod zones;
