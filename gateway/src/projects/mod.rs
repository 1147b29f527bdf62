//! Projects: a group of users with roles (PI, ADMIN, USER) that owns wallets and on whose behalf
//! a member may call a provider (`UCloud-Project`, checked by the broker with `is_member`).
//!
//! Rules: any active user creates a project and becomes its PI (exactly one per project, never
//! removed or demoted). The PI and ADMINs add and remove USERs; only the PI adds, demotes or removes
//! ADMINs. Any member but the PI may leave. A project looks missing to whoever is not a member.

use crate::audit::{Actor, AuditAction, event};
use crate::clock::SharedClock;
use crate::model::{Member, Project, ProjectRole, User};
use crate::secrets::random_id;
use crate::store::{Store, StoreError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{0}")]
    Invalid(String),
    #[error("no project {0:?}")]
    NotFound(String),
    /// Worded as `AccountError::NoSuchUser`: one sentence for a missing user everywhere.
    #[error("no such user: {0}")]
    NoSuchUser(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0:?} is not a member of this project")]
    NotAMember(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Projects {
    store: Store,
    clock: SharedClock,
}

impl Projects {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// True when `user_id` is a member (any role) of `project_id`; false for a missing project.
    /// The broker calls this for `UCloud-Project`.
    pub async fn is_member(&self, user_id: i64, project_id: &str) -> Result<bool, ProjectError> {
        Ok(self.role_of(user_id, project_id).await?.is_some())
    }

    pub async fn role_of(
        &self,
        user_id: i64,
        project_id: &str,
    ) -> Result<Option<ProjectRole>, ProjectError> {
        Ok(self.store.project_role(project_id, user_id).await?)
    }

    pub async fn create(&self, creator: &User, title: &str) -> Result<Project, ProjectError> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 100 || title.chars().any(char::is_control) {
            return Err(ProjectError::Invalid(
                "title: must have 1-100 characters and no control characters".into(),
            ));
        }
        let project = Project {
            id: random_id(),
            title: title.to_owned(),
            created_at: self.clock.now_ms(),
        };
        let detail = json!({ "title": project.title });
        let audit = event(
            project.created_at,
            &Actor::user(creator),
            AuditAction::ProjectCreated,
            &project.id,
            detail,
        );
        self.store
            .insert_project(&project, creator.id, &audit)
            .await?;
        tracing::info!(project = %project.id, pi = %creator.username, "project created");
        Ok(project)
    }

    /// The caller's projects with their role in each.
    pub async fn mine(&self, user: &User) -> Result<Vec<(Project, ProjectRole)>, ProjectError> {
        Ok(self.store.projects_of_user(user.id).await?)
    }

    /// The project and its members, for a member.
    pub async fn get(
        &self,
        viewer: &User,
        id: &str,
    ) -> Result<(Project, ProjectRole, Vec<Member>), ProjectError> {
        let (project, role) = self.visible(viewer, id).await?;
        let members = self.store.project_members(id).await?;
        Ok((project, role, members))
    }

    /// Adds `username` with `role`, or changes their role.
    pub async fn set_member(
        &self,
        actor: &User,
        id: &str,
        username: &str,
        role: ProjectRole,
    ) -> Result<Member, ProjectError> {
        let (_, actor_role) = self.visible(actor, id).await?;
        if role == ProjectRole::Pi {
            return Err(ProjectError::Invalid(
                "role: a project has one PI, its creator; use ADMIN or USER".into(),
            ));
        }
        let target = self.user(username).await?;
        let current = self.store.project_role(id, target.id).await?;
        if current == Some(ProjectRole::Pi) {
            return Err(ProjectError::Invalid(
                "username: the PI's role cannot change".into(),
            ));
        }
        let touches_admin = role == ProjectRole::Admin || current == Some(ProjectRole::Admin);
        check_may_manage(actor_role, touches_admin)?;
        let now = self.clock.now_ms();
        let detail = json!({ "username": username, "role": role.as_str() });
        let audit = event(
            now,
            &Actor::user(actor),
            AuditAction::ProjectMemberSet,
            id,
            detail,
        );
        if !self
            .store
            .upsert_project_member(id, target.id, role, now, &audit)
            .await?
        {
            return Err(ProjectError::Invalid(
                "username: the PI's role cannot change".into(),
            ));
        }
        tracing::info!(project = %id, member = %username, role = role.as_str(), "project member set");
        Ok(Member {
            user_id: target.id,
            username: target.username,
            role,
            added_at: now,
        })
    }

    /// Removes `username` (or, when it is the actor, lets them leave).
    pub async fn remove_member(
        &self,
        actor: &User,
        id: &str,
        username: &str,
    ) -> Result<(), ProjectError> {
        let (_, actor_role) = self.visible(actor, id).await?;
        let target = self.user(username).await?;
        let current = self
            .store
            .project_role(id, target.id)
            .await?
            .ok_or_else(|| ProjectError::NotAMember(username.to_owned()))?;
        if current == ProjectRole::Pi {
            return Err(ProjectError::Invalid(
                "username: the PI cannot be removed".into(),
            ));
        }
        if target.id != actor.id {
            check_may_manage(actor_role, current == ProjectRole::Admin)?;
        }
        let now = self.clock.now_ms();
        let detail = json!({ "username": username });
        let audit = event(
            now,
            &Actor::user(actor),
            AuditAction::ProjectMemberRemoved,
            id,
            detail,
        );
        if !self
            .store
            .delete_project_member(id, target.id, &audit)
            .await?
        {
            return Err(ProjectError::NotAMember(username.to_owned()));
        }
        tracing::info!(project = %id, member = %username, "project member removed");
        Ok(())
    }

    /// The project with the viewer's role; a non-member gets `NotFound`, as for a missing project.
    async fn visible(
        &self,
        viewer: &User,
        id: &str,
    ) -> Result<(Project, ProjectRole), ProjectError> {
        let not_found = || ProjectError::NotFound(id.to_owned());
        let role = self
            .store
            .project_role(id, viewer.id)
            .await?
            .ok_or_else(not_found)?;
        let project = self.store.project(id).await?.ok_or_else(not_found)?;
        Ok((project, role))
    }

    async fn user(&self, username: &str) -> Result<User, ProjectError> {
        self.store
            .user_by_username(username)
            .await?
            .ok_or_else(|| ProjectError::NoSuchUser(username.to_owned()))
    }
}

fn check_may_manage(actor_role: ProjectRole, touches_admin: bool) -> Result<(), ProjectError> {
    if !actor_role.manages_members() {
        return Err(ProjectError::Forbidden(
            "only the project's PI and admins manage its members",
        ));
    }
    if touches_admin && actor_role != ProjectRole::Pi {
        return Err(ProjectError::Forbidden(
            "only the project's PI adds, changes or removes admins",
        ));
    }
    Ok(())
}
