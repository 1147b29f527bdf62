//! Storage features (`/ucloud/<id>/storage/files/…`, SPEC §3): each caller's files live in the folder
//! of their local account, `{data_dir}/storage/<account>` (the project's folder for project requests). Paths are parsed into
//! plain names before they touch the file system, so `..`, absolute paths and links cannot leave
//! the folder; uploads stream to a temporary file and are bounded in size.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use super::accounts::Caller;
use super::problem::ApiProblem;
use super::random_hex;

/// Where storage lives and how much one upload may hold.
pub struct Storage {
    pub data_dir: PathBuf,
    pub max_upload_bytes: u64,
}

const MAX_DEPTH: usize = 32;
const MAX_NAME_BYTES: usize = 255;
/// A listing shows at most this many entries (and says when it stopped).
const MAX_LISTED: usize = 10_000;
/// Names this provider uses for uploads in flight; a user cannot name a file like that.
const TEMP_PREFIX: &str = ".upload-";

/// A path inside a caller's folder, as plain names: never absolute, never `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafePath(Vec<String>);

impl SafePath {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let mut names = Vec::new();
        for name in raw.split('/').filter(|name| !name.is_empty()) {
            if name == "." || name == ".." {
                return Err("a path may not contain . or .. segments");
            }
            if name.len() > MAX_NAME_BYTES {
                return Err("a name may have at most 255 bytes");
            }
            if name.contains(['\0', '\\']) || name.chars().any(char::is_control) {
                return Err("a name may not contain NUL, backslash or control characters");
            }
            if name.starts_with(TEMP_PREFIX) {
                return Err("names starting with .upload- are reserved");
            }
            names.push(name.to_owned());
        }
        if names.len() > MAX_DEPTH {
            return Err("a path may be at most 32 folders deep");
        }
        Ok(Self(names))
    }

    fn under(&self, root: &FsPath) -> PathBuf {
        self.0
            .iter()
            .fold(root.to_path_buf(), |path, name| path.join(name))
    }

    fn display(&self) -> String {
        self.0.join("/")
    }
}

impl Storage {
    fn root(&self, caller: &Caller) -> PathBuf {
        self.data_dir.join(caller.space())
    }

    /// The file-system path of `path` for `caller`, refusing symbolic links anywhere below the
    /// caller's folder (this provider never makes one; an operator's link must not lead outside).
    async fn resolve(&self, caller: &Caller, path: &SafePath) -> Result<PathBuf, ApiProblem> {
        let root = self.root(caller);
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|e| ApiProblem::internal("cannot create the account folder", &e))?;
        let mut current = root;
        for name in &path.0 {
            current.push(name);
            match tokio::fs::symlink_metadata(&current).await {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(ApiProblem::bad_request("the path goes through a link"));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(path.under(&self.root(caller)))
    }
}

/// The path after `/storage/files`, already percent-decoded by the router.
fn requested(path: Option<Path<String>>) -> Result<SafePath, ApiProblem> {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    SafePath::parse(&raw).map_err(ApiProblem::bad_request)
}

/// `GET …/storage/files/<path>`: a folder's listing as JSON, or a file's bytes.
pub async fn get(
    State(storage): State<Arc<Storage>>,
    caller: Caller,
    path: Option<Path<String>>,
) -> Result<Response, ApiProblem> {
    let path = requested(path)?;
    let full = storage.resolve(&caller, &path).await?;
    let meta = tokio::fs::metadata(&full)
        .await
        .map_err(|_| ApiProblem::not_found(format!("no file or folder {:?}", path.display())))?;
    if meta.is_dir() {
        return list(&caller, &path, &full)
            .await
            .map(IntoResponse::into_response);
    }
    let file = tokio::fs::File::open(&full)
        .await
        .map_err(|e| ApiProblem::internal("cannot open the file", &e))?;
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0; 64 * 1024];
        match tokio::io::AsyncReadExt::read(&mut file, &mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(buffer), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_owned()),
            (CONTENT_LENGTH, meta.len().to_string()),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

async fn list(caller: &Caller, path: &SafePath, full: &FsPath) -> Result<Json<Value>, ApiProblem> {
    let mut dir = tokio::fs::read_dir(full)
        .await
        .map_err(|e| ApiProblem::internal("cannot read the folder", &e))?;
    let mut entries = Vec::new();
    let mut truncated = false;
    while let Some(entry) = dir
        .next_entry()
        .await
        .map_err(|e| ApiProblem::internal("cannot read the folder", &e))?
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        if entries.len() == MAX_LISTED {
            truncated = true;
            break;
        }
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        let kind = if meta.is_dir() { "directory" } else { "file" };
        entries.push(json!({"name": name, "kind": kind, "size": meta.len()}));
    }
    entries.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Json(json!({
        "username": caller.username,
        "localAccount": caller.account,
        "owner": caller.wallet(),
        "path": path.display(),
        "entries": entries,
        "truncated": truncated,
    })))
}

/// `PUT …/storage/files/<path>`: stores the body as that file, making folders on the way.
pub async fn put(
    State(storage): State<Arc<Storage>>,
    caller: Caller,
    path: Option<Path<String>>,
    body: Body,
) -> Result<Response, ApiProblem> {
    let path = requested(path)?;
    if path.0.is_empty() {
        return Err(ApiProblem::bad_request("name a file to upload"));
    }
    let full = storage.resolve(&caller, &path).await?;
    if tokio::fs::metadata(&full).await.is_ok_and(|m| m.is_dir()) {
        return Err(ApiProblem::new(
            StatusCode::CONFLICT,
            "isADirectory",
            "a folder has this name",
        ));
    }
    let parent = full
        .parent()
        .map(FsPath::to_path_buf)
        .unwrap_or_else(|| storage.root(&caller));
    tokio::fs::create_dir_all(&parent).await.map_err(|_| {
        ApiProblem::new(
            StatusCode::CONFLICT,
            "notADirectory",
            "a file is in the way of a folder on this path",
        )
    })?;
    let temp = parent.join(format!("{TEMP_PREFIX}{}", random_hex()));
    let written = receive(body, &temp, storage.max_upload_bytes).await;
    let size = match written {
        Ok(size) => size,
        Err(problem) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(problem);
        }
    };
    let replaced = tokio::fs::metadata(&full).await.is_ok();
    if let Err(e) = tokio::fs::rename(&temp, &full).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(ApiProblem::internal("cannot store the file", &e));
    }
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(json!({"path": path.display(), "size": size}))).into_response())
}

async fn receive(body: Body, temp: &FsPath, limit: u64) -> Result<u64, ApiProblem> {
    let mut file = tokio::fs::File::create(temp)
        .await
        .map_err(|e| ApiProblem::internal("cannot create the file", &e))?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiProblem::bad_request("the upload was cut off"))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiProblem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "fileTooLarge",
                format!("a file may hold at most {limit} bytes"),
            ));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiProblem::internal("cannot write the file", &e))?;
    }
    file.sync_all()
        .await
        .map_err(|e| ApiProblem::internal("cannot write the file", &e))?;
    Ok(size)
}

/// `DELETE …/storage/files/<path>`: removes a file or an empty folder.
pub async fn delete(
    State(storage): State<Arc<Storage>>,
    caller: Caller,
    path: Option<Path<String>>,
) -> Result<StatusCode, ApiProblem> {
    let path = requested(path)?;
    if path.0.is_empty() {
        return Err(ApiProblem::bad_request(
            "the account folder itself cannot be deleted",
        ));
    }
    let full = storage.resolve(&caller, &path).await?;
    let meta = tokio::fs::metadata(&full)
        .await
        .map_err(|_| ApiProblem::not_found(format!("no file or folder {:?}", path.display())))?;
    let removed = if meta.is_dir() {
        tokio::fs::remove_dir(&full).await
    } else {
        tokio::fs::remove_file(&full).await
    };
    match removed {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(_) if meta.is_dir() => Err(ApiProblem::new(
            StatusCode::CONFLICT,
            "folderNotEmpty",
            "delete what the folder holds first",
        )),
        Err(e) => Err(ApiProblem::internal("cannot delete", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_plain_names_inside_the_folder() {
        assert_eq!(
            SafePath::parse("a/b.txt").map(|p| p.0),
            Ok(vec!["a".into(), "b.txt".into()])
        );
        assert_eq!(
            SafePath::parse("/a//b/").map(|p| p.0),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(SafePath::parse("").map(|p| p.0.len()), Ok(0));
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "./a",
            "a/.",
            "a\\..\\b",
            "a\0b",
            ".upload-x",
        ] {
            assert!(SafePath::parse(bad).is_err(), "{bad:?}");
        }
        assert!(SafePath::parse(&"a/".repeat(33)).is_err());
        assert!(SafePath::parse(&"n".repeat(256)).is_err());
    }
}
