//! Plain records of projects: a project, a member's role, a membership.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectRole {
    /// The principal investigator: exactly one per project, the creator.
    Pi,
    Admin,
    User,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pi => "PI",
            Self::Admin => "ADMIN",
            Self::User => "USER",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PI" => Some(Self::Pi),
            "ADMIN" => Some(Self::Admin),
            "USER" => Some(Self::User),
            _ => None,
        }
    }

    /// PI and ADMIN manage members.
    pub fn manages_members(self) -> bool {
        matches!(self, Self::Pi | Self::Admin)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub title: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub username: String,
    pub role: ProjectRole,
    pub added_at: i64,
}
