//! Projects and their members. Each change writes its audit event in the same transaction.

use super::audit::insert_audit;
use super::{Store, StoreError, StoreResult, conflict, with_pool};
use crate::model::{AuditEvent, Member, Project, ProjectRole};

fn role(project: &str, role: &str) -> StoreResult<ProjectRole> {
    ProjectRole::parse(role)
        .ok_or_else(|| StoreError::Corrupt(format!("project {project}: role {role}")))
}

impl Store {
    /// Creates the project with `creator` as its PI.
    pub async fn insert_project(
        &self,
        project: &Project,
        creator: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO projects (id, title, created_by, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&project.id)
                .bind(&project.title)
                .bind(creator)
                .bind(project.created_at)
                .execute(&mut *tx)
                .await
                .map_err(conflict("a project with this id"))?;
            sqlx::query("INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, $3, $4)")
                .bind(&project.id)
                .bind(creator)
                .bind(ProjectRole::Pi.as_str())
                .bind(project.created_at)
                .execute(&mut *tx)
                .await?;
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn project(&self, id: &str) -> StoreResult<Option<Project>> {
        let row: Option<(String, String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, title, created_at FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(|(id, title, created_at)| Project {
            id,
            title,
            created_at,
        }))
    }

    /// The projects a user belongs to, with their role in each, oldest first.
    pub async fn projects_of_user(&self, user_id: i64) -> StoreResult<Vec<(Project, ProjectRole)>> {
        let rows: Vec<(String, String, i64, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT p.id, p.title, p.created_at, m.role FROM project_members m \
             JOIN projects p ON p.id = m.project_id WHERE m.user_id = $1 ORDER BY p.created_at, p.id")
            .bind(user_id)
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|(id, title, created_at, r)| {
                let r = role(&id, &r)?;
                Ok((
                    Project {
                        id,
                        title,
                        created_at,
                    },
                    r,
                ))
            })
            .collect()
    }

    pub async fn project_role(
        &self,
        project_id: &str,
        user_id: i64,
    ) -> StoreResult<Option<ProjectRole>> {
        let row: Option<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?);
        row.map(|(r,)| role(project_id, &r)).transpose()
    }

    pub async fn project_members(&self, project_id: &str) -> StoreResult<Vec<Member>> {
        let rows: Vec<(i64, String, String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT u.id, u.username, m.role, m.added_at FROM project_members m \
             JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 \
             ORDER BY CASE m.role WHEN 'PI' THEN 0 WHEN 'ADMIN' THEN 1 ELSE 2 END, u.username")
            .bind(project_id)
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|(user_id, username, r, added_at)| {
                Ok(Member {
                    user_id,
                    username,
                    role: role(project_id, &r)?,
                    added_at,
                })
            })
            .collect()
    }

    /// Adds a member or changes their role; never touches the PI. False when the user is the PI.
    pub async fn upsert_project_member(
        &self,
        project_id: &str,
        user_id: i64,
        role: ProjectRole,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role \
                 WHERE project_members.role <> 'PI'")
                .bind(project_id)
                .bind(user_id)
                .bind(role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Removes a member who is not the PI; false when there was no such (non-PI) member.
    pub async fn delete_project_member(
        &self,
        project_id: &str,
        user_id: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2 AND role <> 'PI'")
                .bind(project_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(true)
    }
}
