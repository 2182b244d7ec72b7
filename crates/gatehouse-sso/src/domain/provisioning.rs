//! Just-in-time provisioning rules: who becomes owner, what to do next, when to retry.
//!
//! The first login of a tenant creates its project, an `advanced` subscription, and makes that
//! user the project's `owner`; later users join as `member`. Every gateway user has the role
//! `partner`. Whether a login is the tenant's first is decided by the storage transaction that
//! inserts the tenant's provisioning row (a uniqueness constraint), never by a read before it.

use std::time::Duration;

/// The role every user signed in through the gateway has in the product.
pub const USER_ROLE: &str = "partner";

/// The plan of the subscription created on a tenant's first login.
pub const PLAN: &str = "advanced";

/// A user's role in their tenant's project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectRole {
    Owner,
    Member,
}

impl ProjectRole {
    /// The role of a user whose login transaction did (`true`) or did not insert the tenant's
    /// project.
    pub fn for_login(inserted_project: bool) -> Self {
        if inserted_project {
            Self::Owner
        } else {
            Self::Member
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Self::Owner),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// A user the provisioning services do not know yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMember {
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub project_role: ProjectRole,
}

/// What is already provisioned for a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProvisioningSnapshot {
    pub project_id: Option<String>,
    pub subscription_id: Option<String>,
    pub pending_members: Vec<PendingMember>,
}

/// The next call to make to the provisioning services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionStep {
    CreateProject,
    CreateSubscription {
        project_id: String,
    },
    AddMember {
        project_id: String,
        member: PendingMember,
    },
    Done,
}

/// Decides the next step from what is done: project, then subscription, then members.
pub fn next_step(snapshot: &ProvisioningSnapshot) -> ProvisionStep {
    let Some(project_id) = snapshot.project_id.clone() else {
        return ProvisionStep::CreateProject;
    };
    if snapshot.subscription_id.is_none() {
        return ProvisionStep::CreateSubscription { project_id };
    }
    match snapshot.pending_members.first() {
        Some(member) => ProvisionStep::AddMember {
            project_id,
            member: member.clone(),
        },
        None => ProvisionStep::Done,
    }
}

/// How long to wait before retry number `failures` (1 for the first retry): 5 s doubling up to
/// 15 minutes.
pub fn retry_delay(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let secs = 5u64.saturating_mul(1u64 << exp);
    Duration::from_secs(secs.min(15 * 60))
}

/// How long a claimed provisioning run may hold its tenant before another worker may take over.
pub const RUN_LEASE: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str) -> PendingMember {
        PendingMember {
            user_id: id.into(),
            email: None,
            name: None,
            project_role: ProjectRole::Member,
        }
    }

    #[test]
    fn first_inserter_owns_the_project() {
        assert_eq!(ProjectRole::for_login(true), ProjectRole::Owner);
        assert_eq!(ProjectRole::for_login(false), ProjectRole::Member);
        assert_eq!(ProjectRole::parse("owner"), Some(ProjectRole::Owner));
        assert_eq!(ProjectRole::parse("admin"), None);
    }

    #[test]
    fn steps_go_project_subscription_members() {
        let mut s = ProvisioningSnapshot {
            pending_members: vec![member("u1")],
            ..Default::default()
        };
        assert_eq!(next_step(&s), ProvisionStep::CreateProject);
        s.project_id = Some("p".into());
        assert_eq!(
            next_step(&s),
            ProvisionStep::CreateSubscription {
                project_id: "p".into()
            }
        );
        s.subscription_id = Some("s".into());
        assert_eq!(
            next_step(&s),
            ProvisionStep::AddMember {
                project_id: "p".into(),
                member: member("u1")
            }
        );
        s.pending_members.clear();
        assert_eq!(next_step(&s), ProvisionStep::Done);
    }

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(retry_delay(1), Duration::from_secs(5));
        assert_eq!(retry_delay(2), Duration::from_secs(10));
        assert_eq!(retry_delay(4), Duration::from_secs(40));
        assert_eq!(retry_delay(20), Duration::from_secs(900));
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(900));
    }
}
