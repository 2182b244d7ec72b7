//! The repositories: one module per kind of record, each a small struct generic over the
//! executor. Reads are available everywhere (`impl<E: Exec>`); writes only inside a
//! transaction (`impl Repo<InTx<'_>>`), so a write can always be paired with its log event.
//!
//! Each module holds the SQL for its tables and the conversion of rows into the domain records
//! of `gatehouse_core::model`. To add a repository: a module here, a line in the
//! `repositories!` list of `store.rs`, and its tables in a new migration of both dialects.

mod access_rules;
mod admin_tokens;
mod apps;
mod backchannel;
mod device_challenges;
mod devices;
mod enrollments;
mod flows;
mod groups;
mod log;
mod oauth;
mod policies;
mod risk;
mod sessions;
mod settings;
mod sign_in;
mod users;
mod zones;

pub use access_rules::AccessRules;
pub use admin_tokens::{AdminToken, AdminTokenBinding, AdminTokens};
pub use apps::Apps;
pub use backchannel::{BackchannelLogout, BackchannelLogouts};
pub use device_challenges::{DeviceChallenges, DeviceProofJtis, StoredChallenge};
pub use devices::Devices;
pub use enrollments::Enrollments;
pub use flows::Flows;
pub use groups::Groups;
pub use log::{Log, LogFilter};
pub use oauth::{CodeRow, OAuth, RefreshRow, SigningKeyRow};
pub use policies::Policies;
pub use risk::{ContextKind, Places, SignInContexts, UserRiskRow, UserRisks};
pub use sessions::Sessions;
pub use settings::Settings;
pub use sign_in::SignInFailures;
pub use users::{UserFilter, Users};
pub use zones::Zones;

use crate::sql::{Param, Query};

/// Rows per multi-row `INSERT` of the bulk loaders: 14 columns × 400 rows stays under SQLite's
/// 32,766 parameters (and PostgreSQL's 65,535).
pub(crate) const BULK_ROWS: usize = 400;

/// Assembles a statement from pieces, numbering the `$N` placeholders as values are bound
/// (like sqlx's `QueryBuilder`, for either dialect).
#[derive(Debug, Default)]
pub(crate) struct Builder<'a> {
    sql: String,
    params: Vec<Param<'a>>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            params: Vec::new(),
        }
    }

    pub(crate) fn sql(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends the placeholder of a new parameter.
    pub(crate) fn bind(&mut self, value: impl Into<Param<'a>>) -> &mut Self {
        self.params.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
        self
    }

    pub(crate) fn build(self) -> Query<'a> {
        let mut query = Query::built(self.sql);
        for param in self.params {
            query = query.bind(param);
        }
        query
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_numbers_placeholders_in_order() {
        let mut b = Builder::new("SELECT 1 WHERE a = ");
        b.bind("x").sql(" AND b = ").bind(2_i64);
        let query = b.build();
        assert!(matches!(&query.sql, crate::sql::Sql::Built(s) if s == "SELECT 1 WHERE a = $1 AND b = $2"));
        assert_eq!(query.params.len(), 2);
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
